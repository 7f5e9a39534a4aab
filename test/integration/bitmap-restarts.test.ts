/**
 * The bitmap projector across service restarts, on PRIVATE NATS and Redis instances (never the shared ones):
 * NATS killed and restarted on its store → the projector resumes by itself; Redis killed and restarted empty
 * (no persistence, as on this machine) → the projector notices and rebuilds the bitmap from the stream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { startLocalNats, startLocalRedis, type LocalService } from '../../src/adapters/services/local.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { testNames } from '../helpers/isolation.ts';
import { freePort } from '../kit/free-port.ts';
import { sleep } from '../../src/app/sleep.ts';

const spec = { width: 120, height: 80 };
const names = testNames('bmrestart');
const dir = mkdtempSync(join(tmpdir(), 'rplace-bm-restarts-'));
let natsPort = 0;
let redisPort = 0;
let nats: LocalService;
let redisServer: LocalService;
let nc: NatsConnection;
let redis: Redis;

const startNats = () => startLocalNats({ port: natsPort, storeDir: join(dir, 'nats'), logFile: join(dir, 'nats.log') });
const startRedis = () => startLocalRedis({ port: redisPort, dir: join(dir, 'redis'), logFile: join(dir, 'redis.log') });

beforeAll(async () => {
  natsPort = await freePort();
  redisPort = await freePort();
  nats = await startNats();
  redisServer = await startRedis();
  nc = await connectNats(nats.url, 'test-bitmap-restarts');
  redis = await connectRedis(redisServer.url, 'test-bitmap-restarts');
});

afterAll(async () => {
  await redis?.quit().catch(() => redis.disconnect());
  await nc?.close().catch(() => undefined);
  await nats?.stop();
  await redisServer?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('bitmap projector across service restarts', () => {
  it('resumes after NATS restarts and rebuilds after Redis restarts empty', async () => {
    const config = loadConfig(bitmapProjectorSchema, {
      NATS_URL: nats.url,
      REDIS_URL: redisServer.url,
      CANVAS_ID: names.canvasId,
      LOG_LEVEL: 'silent',
      CANVAS_WIDTH: String(spec.width),
      CANVAS_HEIGHT: String(spec.height),
      BITMAP_WIPE_CHECK_MS: '200',
    });
    // The projector's warnings and errors, kept in memory and printed only if the test fails: a rare CI failure
    // ("the projector to resume after the NATS restart") left nothing to read.
    const logLines: string[] = [];
    const projectorLog = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line.trimEnd()) });
    const shutdown = await startBitmapProjector(config, projectorLog);
    const store = createRedisBitmapStore(redis, names, spec);
    const all = randomPixels(3000, spec.width, spec.height, 32, 77);
    const expectedAfter = (count: number) => replay(createCanvas(spec), spec.width, all.slice(0, count));
    const bitmapIs = async (count: number) => {
      const loaded = await store.load();
      return (
        loaded !== null && loaded.seq === count && Buffer.from(loaded.canvas).equals(Buffer.from(expectedAfter(count)))
      );
    };
    try {
      expect(await appendPixels(nc, names, all.slice(0, 1000))).toBe(1000);
      await expect
        .poll(() => bitmapIs(1000), { message: 'the first 1000 events', timeout: 30_000, interval: 100 })
        .toBe(true);

      // A live reader (the edges' tail) follows across the NATS restart too, without gaps or repeats.
      const tail = createNatsEventStream(nc, names, { canvas: { ...spec, colors: 32 } });
      const tailAbort = new AbortController();
      const tailSeqs: number[] = [];
      const tailing = (async () => {
        for await (const batch of tail.read(1, { signal: tailAbort.signal })) {
          for (const e of batch) tailSeqs.push(e.seq);
          if (tailSeqs.length >= 2000) tailAbort.abort();
        }
      })();
      await expect
        .poll(async () => tailSeqs.length, { message: 'the live reader to catch up', timeout: 30_000, interval: 100 })
        .toBe(1000);

      // NATS dies and comes back on its store: the durable and the stream survive; the projector resumes.
      nats.kill();
      await sleep(500);
      nats = await startNats();
      await expect
        .poll(
          async () =>
            !nc.isClosed() && (await createNatsEventStream(nc, names, { canvas: { ...spec, colors: 32 } }).lastSeq()),
          { message: 'the test client to reconnect', timeout: 30_000, interval: 100 },
        )
        .toBe(1000);
      expect(await appendPixels(nc, names, all.slice(1000, 2000))).toBe(2000);
      await expect
        .poll(() => bitmapIs(2000), {
          message: 'the projector to resume after the NATS restart',
          timeout: 30_000,
          interval: 100,
        })
        .toBe(true);
      await Promise.race([
        tailing,
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('live reader stuck after the NATS restart')), 30_000),
        ),
      ]);
      expect(tailSeqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));

      // Redis dies and comes back EMPTY: the projector notices and rebuilds from the stream by itself.
      redisServer.kill();
      await sleep(500);
      redisServer = await startRedis();
      await expect
        .poll(() => bitmapIs(2000), {
          message: 'the rebuild after Redis came back empty',
          timeout: 30_000,
          interval: 100,
        })
        .toBe(true);
      expect(await appendPixels(nc, names, all.slice(2000))).toBe(3000);
      await expect
        .poll(() => bitmapIs(3000), {
          message: 'the projection of new events after the rebuild',
          timeout: 30_000,
          interval: 100,
        })
        .toBe(true);
    } catch (error) {
      process.stderr.write(`bitmap projector log (${logLines.length} lines):\n${logLines.slice(-200).join('\n')}\n`);
      throw error;
    } finally {
      await shutdown();
    }
  }, 120_000);
});
