/**
 * `npm run bench -- rebuild [--events 1000000] [--tail 0.1] [--width 2000] [--height 2000] [--profile DIR] [--no-catch-up] [--no-old-paths]`
 *
 * How fast the bitmap is recovered from the stream, both ways, and how fast the live projector catches up,
 * on a canvas stream of its own (deleted at the end) filled with `--events` PixelPlaced events (pipelined
 * appends), with a history snapshot in Postgres (a schema of its own, dropped at the end) at
 * `(1 - tail) × events`.
 *
 * 1. baseline: a bare ordered-consumer read of the whole stream (nats.js consume(), messages counted,
 *    nothing decoded), and the bare pixel-protocol read (`readPixels`, counted, nothing applied), both the
 *    previous way (nats.js's parser and `Msg`, one pull at a time) and the current one (socket bytes,
 *    fast-delivery.ts; two pulls open; the CLI's default): the ceilings of the readers on this machine, in this run.
 * 2. before: the old full replay (`read` → decodeEvent → StoredEvent objects → replay), for comparison.
 * 3. full replay: `rebuildBitmap --full` (readPixels columns → canvas → one MULTI to Redis), with the previous
 *    reader and with the current one, which is `rplace rebuild bitmap`'s default (src/cli/rebuild-read.ts: the
 *    same settings, fast path on), so its figure, and phase 4's, are the command's as an operator runs it.
 * 4. snapshot + tail: `rebuildBitmap` from the Postgres snapshot (load + verify + tail → Redis).
 * 5. catch-up: the live projector (durable consumer → one Lua script per batch) from sequence 0 to the end.
 * Every rebuilt canvas is checked byte for byte against the full replay, and that against the canvas of the
 * appended pixels. `--no-old-paths` skips the consume baseline and phase 2 (the slow references). `--profile DIR` writes one
 * .cpuprofile per phase there (node:inspector; keep DIR outside the repository).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { pino } from 'pino';
import { EventKind, isPixelEvent } from '../proto/event-codec.ts';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../src/adapters/nats/event-stream.ts';
import { createNatsProjectionSource } from '../src/adapters/nats/projection-source.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { createRedisBitmapStore } from '../src/adapters/redis/bitmap-store.ts';
import { connectPg } from '../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../src/adapters/pg/migrate.ts';
import { rebuildBitmap, runBitmapProjection } from '../src/app/project-bitmap.ts';
import { describeRecovery } from '../src/app/recover-canvas.ts';
import { describeReader, explainReadFailures, rebuildReadOptions } from '../src/cli/rebuild-read.ts';
import { namesFor } from '../src/domain/names.ts';
import { createCanvas, replay } from '../src/domain/canvas.ts';
import { applyStreams } from '../streams/apply.ts';
import { deleteRedisKeys, deleteStream, dropSchema, uniqueCanvasId } from '../test/helpers/isolation.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    width: { type: 'string', default: '2000' },
    height: { type: 'string', default: '2000' },
    tail: { type: 'string', default: '0.1' },
    profile: { type: 'string' },
    'no-catch-up': { type: 'boolean', default: false },
    // Skips the two slow reference phases (nats.js ordered-consumer count, old read → decode replay); the
    // rebuilt canvases are still checked against the canvas computed from the appended pixels.
    'no-old-paths': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(args.events);
const TAIL = Number(args.tail);
if (!(TAIL >= 0 && TAIL <= 1)) {
  process.stderr.write('--tail is the share of events after the snapshot, 0..1\n');
  process.exit(2);
}
const spec = { width: Number(args.width), height: Number(args.height) };
if (
  ![EVENTS, spec.width, spec.height].every((n) => Number.isSafeInteger(n) && n > 0) ||
  spec.width > 8192 ||
  spec.height > 8192
) {
  process.stderr.write('--events, --width and --height must be positive integers (sides ≤ 8192)\n');
  process.exit(2);
}

const rate = (n: number, ms: number) => Math.round(n / (ms / 1000));
/** CPU seconds this process used since `from` (user + system): a fairer figure on a shared machine. */
const cpuSince = (from: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
};
const fmt = (n: number) => n.toLocaleString('en-US');
const logger = pino({ level: 'warn' });
const names = namesFor(uniqueCanvasId('benchrebuild'));
const nc = await connectNats('nats://127.0.0.1:4222', 'bench-rebuild');
const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-rebuild');
const pg = await connectPg('postgres://postgres@127.0.0.1:5432/test', names.pgSchema, logger);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

/** Profiles `run` into `--profile`/<name>.cpuprofile when asked (in-process, so only that phase is in it). */
async function phase<T>(name: string, run: () => Promise<T>): Promise<T> {
  if (args.profile === undefined) return run();
  mkdirSync(args.profile, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(args.profile, `${name}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

/** xorshift32, so a 12M-event fill needs no 12M-object array. */
let seed = 42;
const next = () => {
  seed ^= seed << 13;
  seed >>>= 0;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  seed >>>= 0;
  return seed;
};

try {
  await applyStreams(nc, names);
  await migrateToLatest(pg.pool, names.pgSchema);
  const snapshotSeq = Math.round(EVENTS * (1 - TAIL));
  process.stdout.write(
    `rebuild bench: ${fmt(EVENTS)} events on a ${spec.width}×${spec.height} canvas, snapshot at seq ${fmt(snapshotSeq)} (load average ${load()})\n`,
  );

  // Fill the stream, remembering each sequence's pixel (appends are pipelined: acks come in any order).
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 30_000 });
  const bySeq = { x: new Uint16Array(EVENTS + 1), y: new Uint16Array(EVENTS + 1), color: new Uint8Array(EVENTS + 1) };
  let t = performance.now();
  const WINDOW = 5000;
  for (let i = 0; i < EVENTS; i += WINDOW) {
    const batch = Array.from({ length: Math.min(WINDOW, EVENTS - i) }, () => ({
      x: next() % spec.width,
      y: next() % spec.height,
      color: next() % 32,
    }));
    const acks = await Promise.all(
      batch.map((p, j) =>
        log.append(
          {
            kind: EventKind.PixelPlaced,
            ...p,
            userId: `user${(i + j) % 100_000}`,
            requestId: `req-${i + j}`,
            placedAt: Date.now(),
          },
          `req-${i + j}`,
        ),
      ),
    );
    acks.forEach((ack, j) => {
      const p = batch[j]!;
      bySeq.x[ack.seq] = p.x;
      bySeq.y[ack.seq] = p.y;
      bySeq.color[ack.seq] = p.color;
    });
  }
  await log.close();
  const fillMs = performance.now() - t;
  process.stdout.write(`  filled:     ${fmt(rate(EVENTS, fillMs))} appends/s (${(fillMs / 1000).toFixed(1)} s)\n`);

  // The history snapshot at `snapshotSeq`, as the history projector would have stored it.
  const history = createPgHistoryStore(pg, logger);
  {
    const canvas = createCanvas(spec);
    for (let seq = 1; seq <= snapshotSeq; seq++) canvas[bySeq.y[seq]! * spec.width + bySeq.x[seq]!] = bySeq.color[seq]!;
    const capturedAt = Date.now() - 60_000;
    await history.commit({
      projection: names.consumers.history,
      expectedSeq: 0,
      newSeq: snapshotSeq,
      rows: [],
      snapshots:
        snapshotSeq > 0
          ? [
              {
                seq: snapshotSeq,
                capturedAt,
                maxPlacedAt: capturedAt,
                pixelCount: snapshotSeq,
                width: spec.width,
                height: spec.height,
                canvas,
              },
            ]
          : [],
    });
  }

  // What every rebuild must equal: the canvas of the appended pixels, computed here from what was appended.
  const appended = createCanvas(spec);
  for (let seq = 1; seq <= EVENTS; seq++) appended[bySeq.y[seq]! * spec.width + bySeq.x[seq]!] = bySeq.color[seq]!;
  const oldPaths = !args['no-old-paths'];

  // 1. Baselines: bare ordered consumer, and the bare pixel protocol, count only.
  t = performance.now();
  let cpu = process.cpuUsage();
  if (oldPaths)
    await phase('baseline-consume', async () => {
      const consumer = await jetstream(nc).consumers.get(names.stream, {
        filter_subjects: names.subjects,
        deliver_policy: DeliverPolicy.All,
      });
      const messages = await consumer.consume({ max_messages: 16_384 });
      let n = 0;
      for await (const m of messages) {
        n++;
        if (m.info.streamSequence >= EVENTS) break;
      }
      await consumer.delete().catch(() => undefined);
      if (n !== EVENTS) throw new Error(`baseline read ${n} events, expected ${EVENTS}`);
    });
  const baselineMs = performance.now() - t;
  if (oldPaths)
    process.stdout.write(
      `  baseline:   ${fmt(rate(EVENTS, baselineMs))} events/s (bare ordered consumer read, ${(baselineMs / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second of this process)\n`,
    );
  // The reader exactly as `rplace rebuild bitmap` builds it by default (src/cli/rebuild-read.ts: the socket-bytes
  // fast path, two pulls open, the 30 s stall limit), so the full replay and snapshot + tail figures are the CLI's.
  const stream = explainReadFailures(
    createNatsEventStream(nc, names, {
      canvas: { ...spec, colors: 32 },
      reader: 'bench',
      logger,
      ...rebuildReadOptions(true),
    }),
    true,
  );
  // The same reader as before issue 16's third cut: through nats.js's parser and `Msg`, one pull at a time.
  const previousStream = createNatsEventStream(nc, names, {
    canvas: { ...spec, colors: 32 },
    reader: 'bench',
    logger,
    ...rebuildReadOptions(false),
    boundedPulls: 1,
  });
  process.stdout.write(
    `  current reader = rplace rebuild bitmap's default: ${describeReader(true)}, ${JSON.stringify(rebuildReadOptions(true))}\n`,
  );
  const barePixelRead = async (name: string, label: string, reader: typeof stream) => {
    const started = performance.now();
    const cpuAt = process.cpuUsage();
    await phase(name, async () => {
      let n = 0;
      for await (const batch of reader.readPixels(1, { untilSeq: EVENTS })) n += batch.count;
      if (n !== EVENTS) throw new Error(`pixel read ${n} events, expected ${EVENTS}`);
    });
    const ms = performance.now() - started;
    const perCpu = Math.round(EVENTS / cpuSince(cpuAt));
    process.stdout.write(
      `  ${label}: ${fmt(rate(EVENTS, ms))} events/s (readPixels, nothing applied, ${(ms / 1000).toFixed(2)} s, ${fmt(perCpu)} events per CPU-second; load ${load()})\n`,
    );
    return { ms, perCpu };
  };
  const previousPixels = await barePixelRead(
    'baseline-pixels-previous',
    'bare pixel read, previous (nats.js Msg, one pull)',
    previousStream,
  );
  const pixels = await barePixelRead(
    'baseline-pixels',
    "bare pixel read, the CLI's default reader (socket bytes, two pulls)",
    stream,
  );
  const pixelsMs = pixels.ms;
  process.stdout.write(
    `  bare pixel read now / previous: ${(previousPixels.ms / pixels.ms).toFixed(2)}× wall, ${(pixels.perCpu / previousPixels.perCpu).toFixed(2)}× per CPU-second\n`,
  );

  // 2. Before: the old full replay (StoredEvent objects, decodeEvent), without the Redis write.
  t = performance.now();
  cpu = process.cpuUsage();
  const before = await phase('before-read-decode', async () => {
    if (!oldPaths) return Buffer.from(appended);
    const canvas = createCanvas(spec);
    for await (const batch of stream.read(1, { untilSeq: EVENTS }))
      replay(canvas, spec.width, batch.map((e) => e.event).filter(isPixelEvent));
    return Buffer.from(canvas);
  });
  const beforeMs = performance.now() - t;
  if (oldPaths)
    process.stdout.write(
      `  before:     ${fmt(rate(EVENTS, beforeMs))} events/s (old full replay: read → decodeEvent → replay, no Redis write, ${(beforeMs / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second)\n`,
    );

  // 3. Full replay rebuild: the previous reader (nats.js Msg, one pull), then the current one, same run.
  const store = createRedisBitmapStore(redis, names, spec);
  cpu = process.cpuUsage();
  const previousFull = await phase('full-replay-previous', () =>
    rebuildBitmap({ stream: previousStream, store, spec, snapshots: history }, { full: true }),
  );
  if (previousFull.events !== EVENTS)
    throw new Error(`rebuild replayed ${previousFull.events} events, expected ${EVENTS}`);
  const previousCanvas = Buffer.from((await store.load())!.canvas);
  const previousPerCpu = Math.round(EVENTS / cpuSince(cpu));
  process.stdout.write(
    `  full replay, previous reader: ${fmt(rate(EVENTS, previousFull.ms))} events/s (${(previousFull.ms / 1000).toFixed(2)} s, ${fmt(previousPerCpu)} events per CPU-second; load ${load()})\n`,
  );
  await store.replaceAll(createCanvas(spec), 0);
  cpu = process.cpuUsage();
  const full = await phase('full-replay', () =>
    rebuildBitmap({ stream, store, spec, snapshots: history }, { full: true }),
  );
  if (full.events !== EVENTS) throw new Error(`rebuild replayed ${full.events} events, expected ${EVENTS}`);
  const fullPerCpu = Math.round(EVENTS / cpuSince(cpu));
  const rebuiltCanvas = Buffer.from((await store.load())!.canvas);
  process.stdout.write(
    `  full replay (rplace rebuild bitmap --full, its default reader): ${fmt(rate(EVENTS, full.ms))} events/s — recovered ${fmt(EVENTS)} events in ${(full.ms / 1000).toFixed(2)} s (${fmt(fullPerCpu)} events per CPU-second; ${oldPaths ? `${(baselineMs / full.ms).toFixed(2)}× the consume baseline, ` : ''}${(pixelsMs / full.ms).toFixed(2)}× the bare pixel read; load ${load()})\n`,
  );
  process.stdout.write(`               ${describeRecovery(full)}\n`);
  process.stdout.write(
    `  full replay now / previous reader: ${(previousFull.ms / full.ms).toFixed(2)}× wall, ${(fullPerCpu / previousPerCpu).toFixed(2)}× per CPU-second\n`,
  );
  if (oldPaths) process.stdout.write(`  before equals full replay byte for byte: ${before.equals(rebuiltCanvas)}\n`);
  const appendedEquals = Buffer.from(appended).equals(rebuiltCanvas);
  process.stdout.write(`  full replay equals the appended pixels' canvas byte for byte: ${appendedEquals}\n`);
  process.stdout.write(
    `  previous reader's full replay equals it byte for byte: ${previousCanvas.equals(rebuiltCanvas)}\n`,
  );

  // 4. Snapshot + tail.
  await store.replaceAll(createCanvas(spec), 0);
  cpu = process.cpuUsage();
  const fast = await phase('snapshot-tail', () => rebuildBitmap({ stream, store, spec, snapshots: history }));
  const fastCanvas = Buffer.from((await store.load())!.canvas);
  process.stdout.write(
    `  snapshot + tail (rplace rebuild bitmap, its default reader): recovered ${fmt(EVENTS)} events in ${(fast.ms / 1000).toFixed(2)} s (${(full.ms / fast.ms).toFixed(1)}× faster than the full replay; ${(cpuSince(cpu)).toFixed(2)} CPU-s; load ${load()})\n`,
  );
  process.stdout.write(`               ${describeRecovery(fast)}\n`);
  process.stdout.write(`  snapshot + tail equals full replay byte for byte: ${fastCanvas.equals(rebuiltCanvas)}\n`);
  if (
    !fastCanvas.equals(rebuiltCanvas) ||
    !before.equals(rebuiltCanvas) ||
    !previousCanvas.equals(rebuiltCanvas) ||
    !appendedEquals ||
    fast.path.kind !== 'snapshot'
  )
    process.exitCode = 1;

  // 5. Live projector catch-up from an empty bitmap at sequence 0.
  if (!args['no-catch-up']) {
    await store.replaceAll(createCanvas(spec), 0);
    const controller = new AbortController();
    t = performance.now();
    cpu = process.cpuUsage();
    let caughtUpMs = 0;
    await runBitmapProjection(
      {
        store,
        source: createNatsProjectionSource(nc, names, names.consumers.bitmap, logger, {
          canvas: { ...spec, colors: 32 },
        }),
        stream,
        spec,
        log: logger,
        onApplied: (seq) => {
          if (seq >= EVENTS && caughtUpMs === 0) {
            caughtUpMs = performance.now() - t;
            controller.abort();
          }
        },
      },
      controller.signal,
    );
    const live = Buffer.from((await store.load())!.canvas);
    process.stdout.write(
      `  catch-up:   ${fmt(rate(EVENTS, caughtUpMs))} events/s (live projector, durable + Lua per batch, ${(caughtUpMs / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second; ${(baselineMs / caughtUpMs).toFixed(2)}× the baseline rate)\n`,
    );
    process.stdout.write(`  live bitmap equals rebuild byte for byte: ${live.equals(rebuiltCanvas)}\n`);
    if (!live.equals(rebuiltCanvas)) process.exitCode = 1;
  }
} finally {
  await deleteStream(nc, names);
  await deleteRedisKeys(redis, names);
  await pg.close();
  await dropSchema(names);
  await redis.quit();
  await nc.drain();
}
