/**
 * `rplace rebuild bitmap [--full] [--no-fast-delivery]`: recovers the canvas from the newest verified history
 * snapshot in Postgres plus the tail of the stream (src/app/recover-canvas.ts), or with `--full` (or when no
 * snapshot verifies, or Postgres has none) by replaying the whole stream, and replaces the Redis bitmap and its
 * sequence in one step; it prints which path it took and which reader (the socket-bytes fast path by default,
 * nats.js's with `--no-fast-delivery`: src/cli/rebuild-read.ts says why this default differs from the roles'). A
 * read that fails or stalls ends the command with one line saying so, the bitmap unchanged. Byte-identical to
 * the live projection at the same sequence. It asks first, and is
 * refused while the bitmap projector runs unless `--force` (src/cli/guard.ts); forced, it is still safe: if
 * the projector is ahead when the rebuild lands, it notices (next write or idle check) and replays the gap.
 */
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createRedisBitmapStore } from '../../adapters/redis/bitmap-store.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { describeRecovery, type SnapshotSource } from '../../app/recover-canvas.ts';
import { rebuildBitmap } from '../../app/project-bitmap.ts';
import { bitmapProjectorSchema } from '../../config/bitmap-projector.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { cliAction } from '../action.ts';
import { openNats, openPg, openRedis, withLifecycle } from '../../roles/lifecycle.ts';
import { confirm, refuseWhileRunning } from '../guard.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { describeReader, explainReadFailures, rebuildReadOptions } from '../rebuild-read.ts';

interface RebuildBitmapOptions {
  quiet?: boolean;
  yes?: boolean;
  force?: boolean;
  full?: boolean;
  /** false with `--no-fast-delivery` (commander's negated option: true unless given). */
  fastDelivery?: boolean;
}

export function registerBitmap(program: Command): void {
  const rebuild =
    program.commands.find((c) => c.name() === 'rebuild') ??
    program.command('rebuild').description('rebuild a projection from the stream');
  rebuild
    .command('bitmap')
    .description(
      'rebuild the live Redis bitmap from the newest verified snapshot + the stream tail (byte-identical to the live projection)',
    )
    .option('--full', 'replay the whole stream from sequence 1 instead of starting from a snapshot')
    .option('--no-fast-delivery', "read through nats.js's parser and Msg (the roles' path), not the socket bytes")
    .option('--quiet', 'no progress bar')
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'rebuild even while the bitmap projector is running')
    .action(
      cliAction('rebuild bitmap', async (opts: RebuildBitmapOptions) => {
        const config = loadConfig(bitmapProjectorSchema);
        const names = namesFor(config.CANVAS_ID);
        const spec = canvasSpecOf(config);
        const logger = pino({ level: 'warn' }, pino.destination(2));
        await withLifecycle(logger, async (life) => {
          const nc = await openNats(
            life,
            config.NATS_URL,
            `rplace-cli-rebuild-${names.canvasId}`,
            natsAuthOf(config, natsInboxPrefix('operator', names)),
          );
          await refuseWhileRunning(nc, names.canvasId, 'bitmap-projector', 'rebuild bitmap', opts.force === true);
          if (
            !(await confirm(
              `replace the Redis bitmap ${names.canvasKey} with a replay of ${names.stream}?`,
              opts.yes === true,
            ))
          ) {
            process.stdout.write('nothing changed\n');
            return;
          }
          const redis = await openRedis(life, config.REDIS_URL, `rplace-cli-rebuild-${names.canvasId}`);
          const fastDelivery = opts.fastDelivery !== false;
          const stream = explainReadFailures(
            createNatsEventStream(nc, names, {
              canvas: eventBoundsOf(spec),
              reader: 'rebuild',
              logger,
              ...rebuildReadOptions(fastDelivery),
            }),
            fastDelivery,
          );
          const store = createRedisBitmapStore(redis, names, spec);
          let snapshots: SnapshotSource | undefined;
          if (opts.full !== true) {
            try {
              snapshots = createPgHistoryStore(await openPg(life, config.DATABASE_URL, names.pgSchema, logger), logger);
            } catch (error) {
              process.stderr.write(`no snapshots (${(error as Error).message}); replaying the whole stream\n`);
            }
          }
          const showBar = !opts.quiet && process.stderr.isTTY;
          const bar = new cliProgress.SingleBar(
            {
              format:
                'rebuild bitmap [{bar}] {percentage}% | {value}/{total} events | {rate} events/s | eta {eta_formatted}',
              stream: process.stderr,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          );
          const started = performance.now();
          let barStarted = false;
          let lastDraw = 0;
          const result = await rebuildBitmap(
            { stream, store, spec, ...(snapshots ? { snapshots } : {}) },
            {
              full: opts.full === true,
              onProgress: ({ seq, targetSeq }) => {
                if (!showBar) return;
                if (!barStarted) {
                  bar.start(targetSeq, 0, { rate: '0' });
                  barStarted = true;
                }
                const now = performance.now();
                if (now - lastDraw < 100 && seq < targetSeq) return;
                lastDraw = now;
                bar.update(seq, { rate: Math.round(seq / ((now - started) / 1000)).toLocaleString('en-US') });
              },
            },
          );
          if (barStarted) bar.stop();
          const seconds = result.ms / 1000;
          process.stdout.write(
            `bitmap ${names.canvasKey} rebuilt through sequence ${result.seq}: ${result.events} events in ${seconds.toFixed(2)} s` +
              (result.events > 0
                ? ` (${Math.round(result.events / seconds).toLocaleString('en-US')} events/s)\n`
                : '\n') +
              `${describeRecovery(result)}\n` +
              `${describeReader(fastDelivery)}\n`,
          );
        });
      }),
    );
}
