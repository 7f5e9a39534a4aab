/**
 * History commands:
 *
 *   rplace migrate                                   create/upgrade the canvas's Postgres schema (idempotent)
 *   rplace rebuild history [--yes]                   empty the history tables and rebuild them from the stream
 *   rplace snapshot --at T -o canvas.png [--raw]     the canvas at instant T (PNG with the palette, or raw bytes)
 *   rplace timelapse --from T --to T [--region x,y,w,h] [--fps N] [--duration S] -o out.png
 *
 * T is an ISO 8601 time, ms since the epoch, or an age such as `30m`. Stop the history role before a rebuild:
 * the rebuild takes over the projection position (a running projector would notice the conflict and reload).
 */
import { createWriteStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { pino } from 'pino';
import { createApngWriter, encodePng } from '../../adapters/image/png.ts';
import { connectNats } from '../../adapters/nats/connect.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { connectPg, type PgConnection } from '../../adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { canvasAt } from '../../app/history/point-in-time.ts';
import { createHistoryProjector } from '../../app/history/projector.ts';
import { DEFAULT_TIMELAPSE_LIMITS } from '../../app/history/routes.ts';
import { timelapseFrames } from '../../app/history/timelapse.ts';
import { systemClock, type ProjectionSource } from '../../app/ports.ts';
import { canvasSpecOf } from '../../config/common.ts';
import { historySchema, type HistoryConfig } from '../../config/history.ts';
import { loadConfig } from '../../config/load.ts';
import { namesFor } from '../../config/names.ts';
import { CliUsageError, parseRegion, parseTime } from './mod.ts';

async function withPg<T>(fn: (config: HistoryConfig, pg: PgConnection) => Promise<T>): Promise<T> {
  const config = loadConfig(historySchema);
  const logger = pino({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL });
  const names = namesFor(config.CANVAS_ID);
  const pg = await connectPg(config.DATABASE_URL, names.pgSchema, logger);
  try {
    await migrateToLatest(pg.pool, names.pgSchema);
    return await fn(config, pg);
  } finally {
    await pg.close();
  }
}

function bar(label: string): cliProgress.SingleBar {
  return new cliProgress.SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} | {rate} | eta {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
  }, cliProgress.Presets.shades_classic);
}

async function rebuild(yes: boolean): Promise<void> {
  if (!yes && !process.stdin.isTTY) throw new CliUsageError('rebuild empties the history tables; pass --yes to confirm');
  await withPg(async (config, pg) => {
    const names = namesFor(config.CANVAS_ID);
    const logger = pino({ level: 'warn' });
    const nc = await connectNats(config.NATS_URL, `rplace-cli-rebuild-${names.canvasId}`);
    try {
      const stream = createNatsEventStream(nc, names, { logger, maxBatch: config.HISTORY_MAX_BATCH });
      const last = await stream.lastSeq();
      const store = createPgHistoryStore(pg, logger);
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
        store, source, clock: systemClock,
        width: config.CANVAS_WIDTH, height: config.CANVAS_HEIGHT,
        projection: names.consumers.history,
        snapshotIntervalMs: config.SNAPSHOT_INTERVAL_MS,
        snapshotMaxEvents: config.SNAPSHOT_MAX_EVENTS,
        observer: {
          committed: ({ seq }) => progress.update(seq, { rate: `${Math.round(seq / Math.max(0.001, (Date.now() - started) / 1000))} ev/s` }),
          error: ({ error, what }) => process.stderr.write(`\n${what}: ${error.message}\n`),
        },
      });
      if (last > 0) await projector.run(controller.signal);
      progress.update(projector.seq);
      progress.stop();
      const snapshots = (await store.summary(names.consumers.history)).snapshots;
      process.stdout.write(`history rebuilt: ${projector.seq} events, ${snapshots} snapshots in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    } finally {
      await nc.drain().catch(() => nc.close());
    }
  });
}

/** Expected failures print one line (no stack) and exit non-zero: 2 for usage, 1 otherwise. */
function action<A extends unknown[]>(name: string, run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args) => {
    try {
      await run(...args);
    } catch (error) {
      process.stderr.write(`rplace ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = error instanceof CliUsageError ? 2 : 1;
    }
  };
}

export function registerHistory(program: Command): void {
  program.command('migrate')
    .description('create or upgrade the canvas\'s Postgres schema (idempotent; also runs at start-up)')
    .action(action('migrate', async () => {
      const config = loadConfig(historySchema);
      const names = namesFor(config.CANVAS_ID);
      const pg = await connectPg(config.DATABASE_URL, names.pgSchema, pino({ level: 'warn' }));
      try {
        const { applied } = await migrateToLatest(pg.pool, names.pgSchema);
        process.stdout.write(applied.length ? `schema ${names.pgSchema}: applied ${applied.join(', ')}\n` : `schema ${names.pgSchema}: up to date\n`);
      } finally {
        await pg.close();
      }
    }));

  const rebuildCmd = program.commands.find((c) => c.name() === 'rebuild') ?? program.command('rebuild').description('rebuild a projection from the stream');
  rebuildCmd.command('history')
    .description('empty the history tables and rebuild them (events and snapshots) from the stream; stop the history role first')
    .option('--yes', 'do not ask for confirmation')
    .action(action('rebuild history', async (opts: { yes?: boolean }) => rebuild(Boolean(opts.yes))));

  program.command('snapshot')
    .description('write the canvas as it was at an instant')
    .requiredOption('--at <time>', 'ISO 8601 time, ms since the epoch, or an age like 30m')
    .requiredOption('-o, --output <file>', 'output file')
    .option('--raw', 'raw palette indices (width × height bytes) instead of PNG')
    .action(action('snapshot', async (opts: { at: string; output: string; raw?: boolean }) => {
      const time = parseTime(opts.at);
      if (time > Date.now()) throw new CliUsageError(`--at ${new Date(time).toISOString()} is in the future`);
      await withPg(async (config, pg) => {
        const names = namesFor(config.CANVAS_ID);
        const spec = canvasSpecOf(config);
        const at = await canvasAt(createPgHistoryStore(pg, pino({ level: 'warn' })), spec, names.consumers.history, time);
        await writeFile(opts.output, opts.raw ? at.canvas : await encodePng(at.canvas, spec.width, spec.height, spec.palette));
        process.stdout.write(`${opts.output}: canvas at ${new Date(time).toISOString()} (through seq ${at.seq}, ${at.replayed} events replayed after snapshot ${at.snapshotSeq ?? 'none'})\n`);
      });
    }));

  program.command('timelapse')
    .description('write an animated PNG of a region over a time range')
    .requiredOption('--from <time>', 'start instant')
    .requiredOption('--to <time>', 'end instant')
    .option('--region <x,y,w,h>', 'region (default: the whole canvas)')
    .option('--fps <n>', 'frames per second (1-60)', '10')
    .option('--duration <s>', 'length in seconds', '10')
    .requiredOption('-o, --output <file>', 'output .png (APNG)')
    .action(action('timelapse', async (opts: { from: string; to: string; region?: string; fps: string; duration: string; output: string }) => {
      const from = parseTime(opts.from);
      const to = parseTime(opts.to);
      const fps = Number(opts.fps);
      const duration = Number(opts.duration);
      if (!Number.isInteger(fps) || fps < 1 || fps > 60) throw new CliUsageError('--fps must be an integer 1-60');
      if (!Number.isInteger(duration) || duration < 1) throw new CliUsageError('--duration must be a positive integer');
      if (to <= from) throw new CliUsageError('--to must be after --from');
      if (to > Date.now()) throw new CliUsageError('--to is in the future');
      const frames = fps * duration;
      if (frames > DEFAULT_TIMELAPSE_LIMITS.maxFrames) throw new CliUsageError(`fps × duration = ${frames}; at most ${DEFAULT_TIMELAPSE_LIMITS.maxFrames} frames`);
      await withPg(async (config, pg) => {
        const names = namesFor(config.CANVAS_ID);
        const spec = canvasSpecOf(config);
        const r = opts.region ? parseRegion(opts.region) : { x: 0, y: 0, width: spec.width, height: spec.height };
        const region = { x: r.x, y: r.y, w: r.width, h: r.height };
        if (region.x + region.w > spec.width || region.y + region.h > spec.height) throw new CliUsageError(`region leaves the ${spec.width}×${spec.height} canvas`);
        if (region.w * region.h * frames > DEFAULT_TIMELAPSE_LIMITS.maxPixelFrames) throw new CliUsageError('region × frames is too large; use a smaller region or fewer frames');
        const out = createWriteStream(opts.output);
        const write = async (bytes: Uint8Array) => {
          if (!out.write(bytes)) await once(out, 'drain');
        };
        const writer = createApngWriter(region.w, region.h, frames, fps, spec.palette);
        const progress = bar('timelapse');
        progress.start(frames, 0, { rate: '' });
        const started = Date.now();
        await write(writer.header());
        for await (const frame of timelapseFrames(createPgHistoryStore(pg, pino({ level: 'warn' })), spec, names.consumers.history, { from, to, frames, region })) {
          await write(await writer.frame(frame.pixels));
          progress.update(frame.index + 1, { rate: `${((frame.index + 1) / Math.max(0.001, (Date.now() - started) / 1000)).toFixed(1)} frames/s` });
        }
        await write(writer.end());
        out.end();
        await once(out, 'finish');
        progress.stop();
        process.stdout.write(`${opts.output}: ${frames} frames of ${region.w}×${region.h} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
      });
    }));
}
