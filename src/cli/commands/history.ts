/**
 * History commands:
 *
 *   rplace migrate                                   create/upgrade the canvas's Postgres schema (idempotent)
 *   rplace rebuild history [--yes] [--force]         empty the history tables and rebuild them from the stream
 *   rplace snapshot --at T -o canvas.png [--raw]     the canvas at instant T (PNG with the palette, or raw bytes)
 *   rplace timelapse --from T --to T [--region x,y,w,h] [--fps N] [--duration S] -o out.png|out.mp4|out.webm [--format F]
 *
 * T is an ISO 8601 time, ms since the epoch, or an age such as `30m`. A rebuild asks first and is refused while
 * the history role runs (src/cli/guard.ts): it takes over the projection position, which a running projector
 * would notice as a conflict and reload.
 */
import { createWriteStream } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { once } from 'node:events';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { encodeVideo, findFfmpeg, videoSize } from '../../adapters/image/ffmpeg-video.ts';
import { createApngWriter, encodePng } from '../../adapters/image/png.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import type { PgConnection } from '../../adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { canvasAt } from '../../app/history/point-in-time.ts';
import { createHistoryProjector } from '../../app/history/projector.ts';
import { DEFAULT_TIMELAPSE_LIMITS, type VideoFormat } from '../../app/history/routes.ts';
import { timelapseFrames } from '../../app/history/timelapse.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import type { ProjectionSource } from '../../ports/event-log.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import {
  historyProjectorSettings,
  historySchema,
  historyWriteSettings,
  type HistoryConfig,
} from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../domain/names.ts';
import { UsageError } from '../../exit-codes.ts';
import { cliAction, cliLogger } from '../action.ts';
import { openNats, openPg, withLifecycle, type Lifecycle } from '../../roles/lifecycle.ts';
import { confirm, refuseWhileRunning } from '../guard.ts';
import { parseRegion, parseTime } from './mod.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';

/** Postgres (migrated) and a lifecycle that closes it and whatever `fn` opens through it. */
async function withPg<T>(fn: (config: HistoryConfig, pg: PgConnection, life: Lifecycle) => Promise<T>): Promise<T> {
  const config = loadConfig(historySchema);
  const logger = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL });
  const names = namesFor(config.CANVAS_ID);
  return withLifecycle(logger, async (life) => {
    const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, logger);
    await migrateToLatest(pg.pool, names.pgSchema);
    return fn(config, pg, life);
  });
}

const TIMELAPSE_FORMATS = ['apng', 'mp4', 'webm'] as const;
type TimelapseFormat = (typeof TIMELAPSE_FORMATS)[number];

/** `--format`, else the output's extension (.png/.apng, .mp4, .webm). */
function timelapseFormat(output: string, format: string | undefined): TimelapseFormat {
  if (format !== undefined) {
    if (!(TIMELAPSE_FORMATS as readonly string[]).includes(format))
      throw new UsageError(`--format must be one of ${TIMELAPSE_FORMATS.join(', ')}`);
    return format as TimelapseFormat;
  }
  const ext = extname(output).toLowerCase();
  if (ext === '.png' || ext === '.apng') return 'apng';
  if (ext === '.mp4' || ext === '.webm') return ext.slice(1) as VideoFormat;
  throw new UsageError(`cannot tell the format from "${output}": name it .png, .mp4 or .webm, or pass --format`);
}

function bar(label: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate} | eta {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
}

async function rebuild(opts: { yes?: boolean; force?: boolean }): Promise<void> {
  await withPg(async (config, pg, life) => {
    const names = namesFor(config.CANVAS_ID);
    const logger = pino({ level: 'warn' });
    const nc = await openNats(
      life,
      config.NATS_URL,
      `rplace-cli-rebuild-${names.canvasId}`,
      natsAuthOf(config, natsInboxPrefix('operator', names)),
    );
    await refuseWhileRunning(nc, names.canvasId, 'history', 'rebuild history', opts.force === true);
    if (
      !(await confirm(
        `empty the history tables of schema ${names.pgSchema} and rebuild them from ${names.stream}?`,
        opts.yes === true,
      ))
    ) {
      process.stdout.write('nothing changed\n');
      return;
    }
    const stream = createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(canvasSpecOf(config)),
      reader: 'rebuild',
      logger,
      maxBatch: config.HISTORY_MAX_BATCH,
    });
    const last = await stream.lastSeq();
    const store = createPgHistoryStore(pg, logger, historyWriteSettings(config));
    await store.reset(names.consumers.history);
    const controller = new AbortController();
    const source: ProjectionSource = {
      async run(fromSeq, handle, signal) {
        for await (const batch of stream.read(fromSeq, { untilSeq: last, signal })) await handle(batch);
        controller.abort();
      },
    };
    const progress = bar('rebuild history');
    progress.start(last, 0, { rate: '' });
    const started = Date.now();
    const projector = createHistoryProjector({
      store,
      source,
      clock: systemClock,
      ...historyProjectorSettings(config, names),
      minCommitIntervalMs: 0, // a rebuild commits as fast as it reads
      observer: {
        committed: ({ seq }) =>
          progress.update(seq, { rate: `${Math.round(seq / Math.max(0.001, (Date.now() - started) / 1000))} ev/s` }),
        error: ({ error, what }) => process.stderr.write(`\n${what}: ${error.message}\n`),
      },
    });
    if (last > 0) await projector.run(controller.signal);
    progress.update(projector.seq);
    progress.stop();
    const snapshots = (await store.summary(names.consumers.history)).snapshots;
    process.stdout.write(
      `history rebuilt: ${projector.seq} events, ${snapshots} snapshots in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
  });
}

export function registerHistory(program: Command): void {
  program
    .command('migrate')
    .description("create or upgrade the canvas's Postgres schema (idempotent; also runs at start-up)")
    .action(
      cliAction('migrate', async () => {
        const config = loadConfig(historySchema);
        const names = namesFor(config.CANVAS_ID);
        await withLifecycle(cliLogger(), async (life) => {
          const pg = await openPg(life, config.DATABASE_URL, names.pgSchema, cliLogger());
          const { applied } = await migrateToLatest(pg.pool, names.pgSchema);
          process.stdout.write(
            applied.length
              ? `schema ${names.pgSchema}: applied ${applied.join(', ')}\n`
              : `schema ${names.pgSchema}: up to date\n`,
          );
        });
      }),
    );

  const rebuildCmd =
    program.commands.find((c) => c.name() === 'rebuild') ??
    program.command('rebuild').description('rebuild a projection from the stream');
  rebuildCmd
    .command('history')
    .description(
      'empty the history tables and rebuild them (events and snapshots) from the stream; refused while the history role runs',
    )
    .option('--yes', 'do not ask for confirmation')
    .option('--force', 'rebuild even while the history role is running')
    .action(cliAction('rebuild history', async (opts: { yes?: boolean; force?: boolean }) => rebuild(opts)));

  program
    .command('snapshot')
    .description('write the canvas as it was at an instant')
    .requiredOption('--at <time>', 'ISO 8601 time, ms since the epoch, or an age like 30m')
    .requiredOption('-o, --output <file>', 'output file')
    .option('--raw', 'raw palette indices (width × height bytes) instead of PNG')
    .action(
      cliAction('snapshot', async (opts: { at: string; output: string; raw?: boolean }) => {
        const time = parseTime(opts.at);
        if (time > Date.now()) throw new UsageError(`--at ${new Date(time).toISOString()} is in the future`);
        await withPg(async (config, pg) => {
          const names = namesFor(config.CANVAS_ID);
          const spec = canvasSpecOf(config);
          const at = await canvasAt(
            createPgHistoryStore(pg, pino({ level: 'warn' })),
            spec,
            names.consumers.history,
            time,
          );
          await writeFile(
            opts.output,
            opts.raw ? at.canvas : await encodePng(at.canvas, at.width, at.height, spec.palette),
          );
          process.stdout.write(
            `${opts.output}: ${at.width}x${at.height} canvas at ${new Date(time).toISOString()} (through seq ${at.seq}, ${at.replayed} events replayed after snapshot ${at.snapshotSeq ?? 'none'})\n`,
          );
        });
      }),
    );

  program
    .command('timelapse')
    .description('write a timelapse of a region over a time range: animated PNG, or MP4/WebM through ffmpeg')
    .requiredOption('--from <time>', 'start instant')
    .requiredOption('--to <time>', 'end instant')
    .option('--region <x,y,w,h>', 'region (default: the whole canvas)')
    .option('--fps <n>', 'frames per second (1-60)', '10')
    .option('--duration <s>', 'length in seconds', '10')
    .option('--format <f>', "apng, mp4 or webm (default: from the output's extension)")
    .requiredOption('-o, --output <file>', 'output .png (APNG), .mp4 or .webm')
    .action(
      cliAction(
        'timelapse',
        async (opts: {
          from: string;
          to: string;
          region?: string;
          fps: string;
          duration: string;
          format?: string;
          output: string;
        }) => {
          const from = parseTime(opts.from);
          const to = parseTime(opts.to);
          const fps = Number(opts.fps);
          const duration = Number(opts.duration);
          const format = timelapseFormat(opts.output, opts.format);
          if (!Number.isInteger(fps) || fps < 1 || fps > 60) throw new UsageError('--fps must be an integer 1-60');
          if (!Number.isInteger(duration) || duration < 1)
            throw new UsageError('--duration must be a positive integer');
          if (to <= from) throw new UsageError('--to must be after --from');
          if (to > Date.now()) throw new UsageError('--to is in the future');
          const frames = fps * duration;
          if (frames > DEFAULT_TIMELAPSE_LIMITS.maxFrames)
            throw new UsageError(`fps × duration = ${frames}; at most ${DEFAULT_TIMELAPSE_LIMITS.maxFrames} frames`);
          const ffmpegPath = format === 'apng' ? null : findFfmpeg();
          if (format !== 'apng' && !ffmpegPath)
            throw new Error(
              `${format} needs ffmpeg, which is not on PATH (apt-get install ffmpeg); or write an animated PNG with -o out.png`,
            );
          await withPg(async (config, pg) => {
            const names = namesFor(config.CANVAS_ID);
            const spec = canvasSpecOf(config);
            const region = opts.region ? parseRegion(opts.region) : { x: 0, y: 0, w: spec.width, h: spec.height };
            if (region.x + region.w > spec.width || region.y + region.h > spec.height)
              throw new UsageError(`region leaves the ${spec.width}×${spec.height} canvas`);
            if (region.w * region.h * frames > DEFAULT_TIMELAPSE_LIMITS.maxPixelFrames)
              throw new UsageError('region × frames is too large; use a smaller region or fewer frames');
            const out = createWriteStream(opts.output);
            await once(out, 'open');
            let writeError: Error | null = null;
            out.on('error', (error) => (writeError = error));
            const progress = bar('timelapse');
            progress.start(frames, 0, { rate: '' });
            const started = Date.now();
            async function* regionFrames(): AsyncGenerator<Uint8Array> {
              for await (const frame of timelapseFrames(
                createPgHistoryStore(pg, pino({ level: 'warn' })),
                spec,
                names.consumers.history,
                { from, to, frames, region },
              )) {
                yield frame.pixels;
                progress.update(frame.index + 1, {
                  rate: `${((frame.index + 1) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1)} frames/s`,
                });
              }
            }
            async function* apng(): AsyncGenerator<Uint8Array> {
              const writer = createApngWriter(region.w, region.h, frames, fps, spec.palette);
              yield writer.header();
              for await (const pixels of regionFrames()) yield await writer.frame(pixels);
              yield writer.end();
            }
            const encoded =
              format === 'apng' || !ffmpegPath
                ? apng()
                : encodeVideo(
                    { ffmpegPath, palette: spec.palette },
                    { format, width: region.w, height: region.h, fps, frames },
                    regionFrames(),
                  );
            try {
              for await (const bytes of encoded) {
                if (!out.write(bytes)) await once(out, 'drain');
                if (writeError) throw writeError;
              }
              out.end();
              await once(out, 'finish');
            } catch (error) {
              // A half-written file would look like a short timelapse.
              out.destroy();
              await rm(opts.output, { force: true });
              throw error;
            } finally {
              progress.stop();
            }
            const size = format === 'apng' ? { width: region.w, height: region.h } : videoSize(region.w, region.h);
            process.stdout.write(
              `${opts.output}: ${frames} frames of ${region.w}×${region.h} (${format}, ${size.width}×${size.height}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
            );
          });
        },
      ),
    );
}
