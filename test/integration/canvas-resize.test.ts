/**
 * Growing the canvas mid-event against the real NATS, Redis and Postgres, with a real edge process, the bitmap
 * projector and the history role: given placements on a 16×8 canvas and a connected protocol client, when the
 * operator CLI refuses a shrink and then grows the canvas to 32×16 with the old area at (4, 2), then the client
 * gets the new size without reconnecting, a placement outside the old bounds is refused before and accepted
 * after, the Redis bitmap, the edge's canvas and a rebuild from the log (whole replay, and from a history
 * snapshot taken before the resize) equal the replay byte for byte, and point-in-time answers in the size in
 * force at each instant.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { encodeEvent, EventKind, UnknownEventKind, type LogEvent } from '../../proto/event-codec.ts';
import { jetstream } from '@nats-io/jetstream';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import { ProjectionHalted } from '../../src/ports/errors.ts';
import type { ResizedMessage } from '../../proto/messages.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { connectPg } from '../../src/adapters/pg/connect.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import { recoverCanvas } from '../../src/app/recover-canvas.ts';
import type { RplaceClient } from '../../src/client/index.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { growCanvas } from '../../src/domain/resize.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { sleep } from '../../src/app/sleep.ts';
import { appendThroughLog } from '../helpers/append-events.ts';
import { canvasCli } from '../helpers/cli.ts';
import {
  freePort,
  killAllEdgeProcesses,
  nodeClient,
  startEdgeProcess,
  type EdgeProcess,
} from '../helpers/edge-process.ts';
import {
  cleanupCanvas,
  testEnv,
  testNames,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_REDIS_URL,
} from '../helpers/isolation.ts';

const names = testNames('resize');
const OLD = { width: 16, height: 8 };
const NEW = { width: 32, height: 16, originX: 4, originY: 2 };
const logger = pino({ level: 'silent' });
const cli = canvasCli(names, OLD);
const env = testEnv(names, {
  CANVAS_WIDTH: String(OLD.width),
  CANVAS_HEIGHT: String(OLD.height),
  SNAPSHOT_INTERVAL_MS: '200', // snapshots before the resize, on the wall-clock timer
  LOG_LEVEL: 'silent',
});

let nc: NatsConnection;
let redis: Redis;
let edge: EdgeProcess;
let stopBitmap: (() => Promise<void>) | undefined;
let stopHistory: (() => Promise<void>) | undefined;
let client: RplaceClient;
const resized: ResizedMessage[] = [];
let resizeSeq = 0;
let beforeResizeAt = 0;

const stream = () => createNatsEventStream(nc, names, { canvas: { ...OLD, colors: 32 } });

/** The reference: every stored event read back and replayed by hand with the domain's growCanvas. */
async function replayOfLog(): Promise<{ canvas: Uint8Array; width: number; height: number; seq: number }> {
  const s = stream();
  const last = await s.lastSeq();
  let size = { width: OLD.width, height: OLD.height };
  let canvas: Uint8Array = new Uint8Array(size.width * size.height);
  for await (const batch of s.read(1, { untilSeq: last })) {
    for (const { event } of batch as readonly { event: LogEvent }[]) {
      if (event.kind === EventKind.CanvasResized) {
        canvas = growCanvas(canvas, size, event);
        size = { width: event.width, height: event.height };
      } else canvas[event.y * size.width + event.x] = event.color;
    }
  }
  return { canvas, ...size, seq: last };
}

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-resize');
  redis = await connectRedis(TEST_REDIS_URL, 'test-resize');
  await applyStreams(nc, names, { replicas: 1 });
  stopBitmap = await startBitmapProjector(loadConfig(bitmapProjectorSchema, env), logger);
  stopHistory = await startHistory(loadConfig(historySchema, env), logger);
  edge = await startEdgeProcess(names, await freePort(), {
    CANVAS_WIDTH: String(OLD.width),
    CANVAS_HEIGHT: String(OLD.height),
    COOLDOWN_SECONDS: '1',
  });
  client = nodeClient(edge.url, { onResized: (m) => resized.push(m) });
  await client.connect();
}, 120_000);

afterAll(async () => {
  client?.close();
  await edge?.kill();
  killAllEdgeProcesses();
  await stopBitmap?.();
  await stopHistory?.();
  redis?.disconnect();
  await nc?.close();
  await cleanupCanvas(names);
});

describe('rplace canvas resize, through every projection', () => {
  it('before: placements land in 16×8, outside it is invalid_coordinates, a shrink is refused (exit 2)', async () => {
    await appendThroughLog(
      nc,
      names,
      Array.from({ length: 40 }, (_, i) => ({ x: (i * 5) % OLD.width, y: (i * 3) % OLD.height, color: (i % 31) + 1 })),
    );
    expect(await client.place(20, 10, 3)).toMatchObject({
      type: 'error',
      code: 'invalid_coordinates',
      message: '(20, 10) is outside the 16x8 canvas',
    });
    const shrink = await cli(['canvas', 'resize', '--width', '8', '--height', '8', '--yes']);
    expect(shrink.code).toBe(2);
    expect(shrink.stderr).toMatch(
      /^rplace canvas resize: canvas_shrink: the canvas only grows: 16×8 cannot become 8×8/,
    );
    const same = await cli(['canvas', 'resize', '--width', '16', '--height', '8', '--yes']);
    expect([same.code, same.stderr]).toEqual([2, expect.stringMatching(/canvas_unchanged/)]);
    expect((await cli(['canvas', 'size'])).stdout).toMatch(/^16x8 at sequence \d+ \(the initial size\)/);
  });

  it('the resize: the connected client grows its canvas without reconnecting, at the resize sequence', async () => {
    await expect.poll(async () => (await createRedisBitmapStore(redis, names, OLD).seq()) ?? 0).toBe(40);
    await expect.poll(() => client.seq, { timeout: 10_000 }).toBe(40);
    await sleep(500); // the history projector's timer snapshots the old size
    beforeResizeAt = Date.now();
    await sleep(20);
    const args = ['canvas', 'resize', '--width', '32', '--height', '16', '--x', '4', '--y', '2', '--yes'];
    const grown = await cli(args);
    expect(grown.stderr).toBe('');
    expect(grown.code).toBe(0);
    resizeSeq = Number(/at sequence (\d+)/.exec(grown.stdout)?.[1]);
    expect(grown.stdout).toMatch(/resized 16x8 -> 32x16 at sequence 41/);
    expect(resizeSeq).toBe(41);
    await expect.poll(() => resized.length, { timeout: 10_000 }).toBe(1);
    expect(resized[0]).toEqual({ type: 'resized', seq: 41, ...NEW });
    expect([client.width, client.height, client.seq]).toEqual([32, 16, 41]);
    expect(client.status).toBe('synced');
    expect((await cli(['canvas', 'size'])).stdout).toMatch(/^32x16 at sequence 41 \(resized at sequence 41\)/);
  });

  it('after: a placement outside the old bounds is accepted, and every projection equals the replay', async () => {
    const placed = await client.place(30, 15, 7);
    expect(placed).toMatchObject({ type: 'success' });
    await appendThroughLog(
      nc,
      names,
      Array.from({ length: 30 }, (_, i) => ({ x: 31 - i, y: 15 - (i % 16), color: (i % 31) + 1 })),
      'after',
    );
    const reference = await replayOfLog();
    expect(reference.seq).toBe(72);
    // The Redis bitmap, with its size.
    const bitmap = createRedisBitmapStore(redis, names, OLD);
    await expect.poll(async () => (await bitmap.seq()) ?? 0, { timeout: 10_000 }).toBe(72);
    expect(await bitmap.load()).toEqual(reference);
    expect(await redis.get(names.canvasSizeKey)).toBe('32x16');
    // The edge's canvas (what a fresh client loads over HTTP) and the live client's copy.
    await expect.poll(() => client.seq, { timeout: 10_000 }).toBe(72);
    expect(client.canvas).toEqual(reference.canvas);
    const http = await fetch(`${edge.url}/api/v1/canvas`, { headers: { 'accept-encoding': 'identity' } });
    expect([http.headers.get('x-canvas-width'), http.headers.get('x-canvas-height')]).toEqual(['32', '16']);
    expect(new Uint8Array(await http.arrayBuffer())).toEqual(reference.canvas);
    // A client connecting now starts in the new size.
    const late = nodeClient(edge.url);
    await late.connect();
    expect([late.width, late.welcome?.canvasInfo.width, late.welcome?.canvasInfo.height]).toEqual([32, 32, 16]);
    late.close();
  });

  it('rebuilds from the log cross the resize: whole replay, CLI rebuild, and from a snapshot taken before it', async () => {
    const reference = await replayOfLog();
    const full = await recoverCanvas({ stream: stream(), spec: OLD }, { full: true });
    expect({ canvas: full.canvas, width: full.width, height: full.height, seq: full.seq }).toEqual(reference);
    const pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
    try {
      const history = createPgHistoryStore(pg, logger);
      await expect.poll(async () => history.position(names.consumers.history), { timeout: 15_000 }).toBe(72);
      const atResize = await history.latestSnapshot(resizeSeq);
      expect(atResize).toMatchObject({ seq: resizeSeq, width: 32, height: 16 }); // the projector snapshots AT the resize
      const older = await history.latestSnapshot(resizeSeq - 1);
      expect(older).toMatchObject({ width: 16, height: 8 });
      expect(older!.seq).toBeLessThan(resizeSeq);
      // Only snapshots from before the resize offered: the tail replayed crosses it.
      const beforeOnly = {
        latestSnapshot: (max: number) => history.latestSnapshot(Math.min(max, resizeSeq - 1)),
        loadSnapshot: (seq: number) => history.loadSnapshot(seq),
      };
      const fromOld = await recoverCanvas({ stream: stream(), spec: OLD, snapshots: beforeOnly }, {});
      expect(fromOld.path).toMatchObject({ kind: 'snapshot', snapshotSeq: older!.seq });
      expect({ canvas: fromOld.canvas, width: fromOld.width, height: fromOld.height, seq: fromOld.seq }).toEqual(
        reference,
      );
      // Point-in-time, through the edge's history API: the size in force at each instant.
      const before = await fetch(`${edge.url}/api/v1/history/snapshot?time=${new Date(beforeResizeAt).toISOString()}`);
      expect(before.status).toBe(200);
      expect([before.headers.get('x-rplace-width'), before.headers.get('x-rplace-height')]).toEqual(['16', '8']);
      expect(Number(before.headers.get('x-rplace-seq'))).toBeLessThan(resizeSeq); // not "including" the resize
      expect((await before.arrayBuffer()).byteLength).toBe(16 * 8);
      const after = await fetch(`${edge.url}/api/v1/history/snapshot?time=${new Date().toISOString()}`);
      expect([after.headers.get('x-rplace-width'), after.headers.get('x-rplace-height')]).toEqual(['32', '16']);
      expect(new Uint8Array(await after.arrayBuffer())).toEqual(reference.canvas);
      // A timelapse across the resize: the region is the canvas now; earlier frames are in the old size.
      const from = new Date(beforeResizeAt - 2_000).toISOString();
      const lapse = await fetch(
        `${edge.url}/api/v1/history/timelapse?from=${from}&to=${new Date().toISOString()}&fps=2&duration=1`,
      );
      expect(lapse.status).toBe(200);
      expect([lapse.headers.get('x-rplace-width'), lapse.headers.get('x-rplace-height')]).toEqual(['32', '16']);
      expect((await lapse.arrayBuffer()).byteLength).toBeGreaterThan(0);
    } finally {
      await pg.close();
    }
    // The operator's rebuild, replacing the live bitmap with a replay of the whole log.
    const rebuilt = await cli(['rebuild', 'bitmap', '--full', '--yes', '--force', '--quiet']);
    expect(rebuilt.stderr).toBe('');
    expect(rebuilt.stdout).toMatch(/rebuilt through sequence 72/);
    expect(await createRedisBitmapStore(redis, names, OLD).load()).toEqual(reference);
  });
});

describe('a kind this reader does not know (a newer writer) stops every reader instead of being skipped', () => {
  const other = testNames('unknownkind');
  it('read, readPixels and a projection source each stop at it, after delivering what came before', async () => {
    const conn = await connectNats(TEST_NATS_URL, 'test-unknown-kind');
    try {
      await applyStreams(conn, other, { replicas: 1 });
      await appendThroughLog(conn, other, [{ x: 1, y: 1, color: 2 }]);
      const future = encodeEvent({
        kind: EventKind.PixelPlaced,
        x: 0,
        y: 0,
        color: 1,
        userId: 'u',
        requestId: 'r',
        placedAt: Date.now(),
      });
      future[1] = 9;
      await jetstream(conn).publish(other.pixelSubject(0, 0), future);
      await appendThroughLog(conn, other, [{ x: 2, y: 2, color: 3 }], 'later');
      const s = createNatsEventStream(conn, other, { canvas: { ...OLD, colors: 32 } });
      const seen: number[] = [];
      await expect(
        (async () => {
          for await (const batch of s.read(1, { untilSeq: 3 })) for (const e of batch) seen.push(e.seq);
        })(),
      ).rejects.toThrow(UnknownEventKind);
      expect(seen).toEqual([1]);
      const pixels: number[] = [];
      await expect(
        (async () => {
          for await (const b of s.readPixels(1, { untilSeq: 3 }))
            for (let i = 0; i < b.count; i++) pixels.push(b.seqs[i]!);
        })(),
      ).rejects.toThrow(/unknown event kind 9/);
      expect(pixels).toEqual([1]);
      const handled: number[] = [];
      const source = createNatsProjectionSource(conn, other, 'bitmap-projector', logger, {
        canvas: { ...OLD, colors: 32 },
      });
      const halted = await source
        .run(1, async (batch) => void handled.push(...batch.map((e) => e.seq)), new AbortController().signal)
        .catch((e: unknown) => e);
      expect(halted).toBeInstanceOf(ProjectionHalted);
      expect((halted as ProjectionHalted).seq).toBe(2);
      expect(handled).toEqual([1]);
    } finally {
      await conn.close();
      await cleanupCanvas(other);
    }
  }, 60_000);
});
