/**
 * `npm run bench -- rebuild [--events 1000000] [--width 2000] [--height 2000]`
 *
 * How fast the bitmap is rebuilt from the stream, and how fast the live projector catches up, on a canvas
 * stream of its own (deleted at the end) filled with `--events` PixelPlaced events (pipelined appends).
 *
 * 1. baseline: a bare ordered-consumer read of the whole stream (nats.js consume(), messages counted,
 *    nothing decoded): the ceiling any reader of this stream on this machine can reach.
 * 2. rebuild: `rebuildBitmap` (EventStream → decodeEvent → replay into a Uint8Array → one MULTI to Redis),
 *    the code behind `rplace rebuild bitmap` and the projector's self-rebuild; checked byte for byte.
 * 3. catch-up: the live projector (durable consumer → one Lua script per batch) from sequence 0 to the end.
 * Prints events/s for each and the ratios against the baseline.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { DeliverPolicy, jetstream } from '@nats-io/jetstream';
import { pino } from 'pino';
import { EventKind } from '../proto/event-codec.ts';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../src/adapters/nats/event-stream.ts';
import { createNatsProjectionSource } from '../src/adapters/nats/projection-source.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { createRedisBitmapStore } from '../src/adapters/redis/bitmap-store.ts';
import { rebuildBitmap, runBitmapProjection } from '../src/app/project-bitmap.ts';
import { namesFor } from '../src/config/names.ts';
import { createCanvas } from '../src/domain/canvas.ts';
import { applyStreams } from '../streams/apply.ts';
import { randomPixels } from '../test/helpers/append-events.ts';
import { deleteRedisKeys, deleteStream, uniqueCanvasId } from '../test/helpers/isolation.ts';

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    width: { type: 'string', default: '2000' },
    height: { type: 'string', default: '2000' },
  },
});
const EVENTS = Number(args.events);
const spec = { width: Number(args.width), height: Number(args.height) };
if (![EVENTS, spec.width, spec.height].every((n) => Number.isSafeInteger(n) && n > 0) || spec.width > 8192 || spec.height > 8192) {
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

try {
  await applyStreams(nc, names);
  process.stdout.write(`rebuild bench: ${fmt(EVENTS)} events on a ${spec.width}×${spec.height} canvas (load average ${loadavg().map((l) => l.toFixed(1)).join(' ')})\n`);

  // Fill the stream.
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 30_000 });
  const pixels = randomPixels(EVENTS, spec.width, spec.height, 32, 42);
  let t = performance.now();
  const WINDOW = 5000;
  for (let i = 0; i < EVENTS; i += WINDOW) {
    await Promise.all(pixels.slice(i, i + WINDOW).map((p, j) =>
      log.append({ kind: EventKind.PixelPlaced, ...p, userId: `user${(i + j) % 100_000}`, requestId: `req-${i + j}`, placedAt: Date.now() }, `req-${i + j}`)));
  }
  await log.close();
  process.stdout.write(`  filled:     ${fmt(rate(EVENTS, performance.now() - t))} appends/s\n`);

  // 1. Baseline: bare ordered consumer, count only.
  t = performance.now();
  let cpu = process.cpuUsage();
  {
    const consumer = await jetstream(nc).consumers.get(names.stream, { filter_subjects: names.subjects, deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 16_384 });
    let n = 0;
    for await (const m of messages) {
      n++;
      if (m.info.streamSequence >= EVENTS) break;
    }
    await consumer.delete().catch(() => undefined);
    if (n !== EVENTS) throw new Error(`baseline read ${n} events, expected ${EVENTS}`);
  }
  const baselineMs = performance.now() - t;
  process.stdout.write(`  baseline:   ${fmt(rate(EVENTS, baselineMs))} events/s (bare ordered consumer read, ${(baselineMs / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second of this process)\n`);
  cpu = process.cpuUsage();

  // 2. Rebuild.
  const stream = createNatsEventStream(nc, names, { canvas: { ...spec, colors: 32 }, reader: 'bench', logger, maxBatch: 8192, pullMessages: 16_384 });
  const store = createRedisBitmapStore(redis, names, spec);
  const rebuilt = await rebuildBitmap({ stream, store, spec });
  if (rebuilt.events !== EVENTS) throw new Error(`rebuild replayed ${rebuilt.events} events, expected ${EVENTS}`);
  const rebuiltCanvas = Buffer.from((await store.load())!.canvas);
  process.stdout.write(`  rebuild:    ${fmt(rate(EVENTS, rebuilt.ms))} events/s (${(rebuilt.ms / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second; ${(baselineMs / rebuilt.ms).toFixed(2)}× the baseline rate)\n`);

  // 3. Live projector catch-up from an empty bitmap at sequence 0.
  await store.replaceAll(createCanvas(spec), 0);
  const controller = new AbortController();
  t = performance.now();
  cpu = process.cpuUsage();
  let caughtUpMs = 0;
  await runBitmapProjection({
    store,
    source: createNatsProjectionSource(nc, names, names.consumers.bitmap, logger, { canvas: { ...spec, colors: 32 } }),
    stream,
    spec,
    log: logger,
    onApplied: (seq) => {
      if (seq >= EVENTS && caughtUpMs === 0) {
        caughtUpMs = performance.now() - t;
        controller.abort();
      }
    },
  }, controller.signal);
  const live = Buffer.from((await store.load())!.canvas);
  process.stdout.write(`  catch-up:   ${fmt(rate(EVENTS, caughtUpMs))} events/s (live projector, durable + Lua per batch, ${(caughtUpMs / 1000).toFixed(2)} s, ${fmt(Math.round(EVENTS / cpuSince(cpu)))} events per CPU-second; ${(baselineMs / caughtUpMs).toFixed(2)}× the baseline rate)\n`);
  process.stdout.write(`  live bitmap equals rebuild byte for byte: ${live.equals(rebuiltCanvas)}\n`);
  if (!live.equals(rebuiltCanvas)) process.exitCode = 1;
} finally {
  await deleteStream(nc, names);
  await deleteRedisKeys(redis, names);
  await redis.quit();
  await nc.drain();
}
