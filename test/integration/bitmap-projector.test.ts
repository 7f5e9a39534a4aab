import { isPixelEvent } from '../../proto/event-codec.ts';
import { spawn, type ChildProcess } from 'node:child_process';
import { connectTestServices, releaseTestServices } from '../helpers/test-services.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import type { EventStream } from '../../src/ports/event-log.ts';
import { rebuildBitmap } from '../../src/app/project-bitmap.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { testEnv, testNames } from '../helpers/isolation.ts';

const spec = { width: 200, height: 150 };
const sizeEnv = { CANVAS_WIDTH: String(spec.width), CANVAS_HEIGHT: String(spec.height), BITMAP_WIPE_CHECK_MS: '200' };
const logger = pino({ level: 'silent' });
const live = testNames('bmproj');
const killed = testNames('bmkill');
let nc: NatsConnection;
let redis: Redis;

beforeAll(async () => {
  ({ nc, redis } = await connectTestServices('test-bitmap-projector'));
  await applyStreams(nc, live);
  await applyStreams(nc, killed);
});

afterAll(async () => {
  await releaseTestServices({ nc, redis }, live, killed);
});

async function replayWholeStream(stream: EventStream): Promise<{ canvas: Uint8Array; seq: number }> {
  const canvas = createCanvas(spec);
  let seq = 0;
  for await (const batch of stream.read(1, { untilSeq: await stream.lastSeq() })) {
    replay(canvas, spec.width, batch.map((e) => e.event).filter(isPixelEvent));
    seq = batch[batch.length - 1]!.seq;
  }
  return { canvas, seq };
}

describe('bitmap projector', () => {
  it('applies events, stores their sequence, rebuilds by itself after Redis loses the bitmap', async () => {
    const config = loadConfig(bitmapProjectorSchema, testEnv(live, sizeEnv));
    const store = createRedisBitmapStore(redis, live, spec);
    const stream = createNatsEventStream(nc, live, { canvas: { ...spec, colors: 32 } });
    const shutdown = await startBitmapProjector(config, logger);
    try {
      let last = await appendPixels(nc, live, randomPixels(3000, spec.width, spec.height, 32, 11));
      await expect
        .poll(() => store.seq(), { message: 'projection of the first 3000 events', timeout: 20_000, interval: 50 })
        .toBe(last);
      let expected = await replayWholeStream(stream);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected.canvas))).toBe(true);

      // Redis comes back empty (simulated on our own keys only; the shared Redis is never flushed).
      await redis.del(live.canvasKey, live.canvasSeqKey);
      await expect
        .poll(() => store.seq(), { message: 'the rebuild while idle', timeout: 20_000, interval: 50 })
        .toBe(last);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected.canvas))).toBe(true);

      // wiped again, and events keep coming: the next write notices too
      await redis.del(live.canvasKey, live.canvasSeqKey);
      last = await appendPixels(nc, live, randomPixels(2000, spec.width, spec.height, 32, 12));
      await expect
        .poll(() => store.seq(), { message: 'projection after the second wipe', timeout: 20_000, interval: 50 })
        .toBe(last);
      expected = await replayWholeStream(stream);
      expect(expected.seq).toBe(last);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected.canvas))).toBe(true);
    } finally {
      await shutdown();
    }
  });

  it('rebuild produces the live bitmap byte for byte, and the projector resumes after it', async () => {
    const store = createRedisBitmapStore(redis, live, spec);
    const stream = createNatsEventStream(nc, live, { canvas: { ...spec, colors: 32 } });
    const liveBitmap = (await store.load())!;
    const progress: number[] = [];
    const result = await rebuildBitmap({ stream, store, spec }, { onProgress: (p) => progress.push(p.seq) });
    expect(result.seq).toBe(liveBitmap.seq);
    expect(result.events).toBe(liveBitmap.seq);
    expect(progress.at(-1)).toBe(liveBitmap.seq);
    const rebuilt = (await store.load())!;
    expect(rebuilt.seq).toBe(liveBitmap.seq);
    expect(Buffer.from(rebuilt.canvas).equals(Buffer.from(liveBitmap.canvas))).toBe(true);

    const config = loadConfig(bitmapProjectorSchema, testEnv(live, sizeEnv));
    const shutdown = await startBitmapProjector(config, logger);
    try {
      const last = await appendPixels(nc, live, randomPixels(500, spec.width, spec.height, 32, 13));
      await expect
        .poll(() => store.seq(), { message: 'projection after the rebuild', timeout: 20_000, interval: 50 })
        .toBe(last);
      const whole = await replayWholeStream(stream);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(whole.canvas))).toBe(true);

      // A rebuild that lands behind the running projector (older, but consistent): the projector replays the gap.
      const behind = await rebuildBitmap({ stream, store, spec }, { untilSeq: last - 300 });
      expect(behind.seq).toBe(last - 300);
      await expect
        .poll(() => store.seq(), { message: 'the projector to replay the gap', timeout: 20_000, interval: 50 })
        .toBe(last);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(whole.canvas))).toBe(true);
    } finally {
      await shutdown();
    }
  });

  it('a projector killed with SIGKILL mid-batch under load resumes exactly after a restart', async () => {
    const env = { ...process.env, ...testEnv(killed, { ...sizeEnv, BITMAP_MAX_BATCH: '500' }) };
    const spawnProjector = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'src/roles/bitmap-projector/main.ts'], {
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
      });
    const store = createRedisBitmapStore(redis, killed, spec);
    const stream = createNatsEventStream(nc, killed, { canvas: { ...spec, colors: 32 } });
    let child = spawnProjector();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    try {
      // keep appending while the projector works, and kill it once it is part-way through
      const appending = appendPixels(nc, killed, randomPixels(12_000, spec.width, spec.height, 32, 21), 1000);
      await expect
        .poll(async () => (await store.seq()) ?? 0, {
          message: 'the projector to be part-way',
          timeout: 60_000,
          interval: 50,
        })
        .toBeGreaterThan(2000);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      await appending;
      // more events while it is down, so the restarted projector always has a backlog to work through
      const last = await appendPixels(nc, killed, randomPixels(3000, spec.width, spec.height, 32, 22), 1000);
      expect((await store.seq())!).toBeLessThan(last);

      child = spawnProjector();
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await expect
        .poll(() => store.seq(), { message: 'the restarted projector to catch up', timeout: 60_000, interval: 50 })
        .toBe(last);
      const expected = await replayWholeStream(stream);
      expect(expected.seq).toBe(last);
      expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected.canvas))).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    }
    expect(stderr).not.toMatch(/Error|failed/);
  }, 180_000);
});
