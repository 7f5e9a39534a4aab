/**
 * Events that should never have been written, appended straight into the stream (as anyone with write
 * access to it could): every projection skips each of them identically, goes on with the valid events
 * after them, and stays byte-identical to the replay of the valid events — the bitmap in Redis, history
 * (point in time, and its latest snapshot) in Postgres, and an edge's canvas. On the real NATS, Redis and
 * Postgres, with the bitmap and history projectors in this process and the edge as its own process.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { encodeEvent, EventKind, type CanvasEvent } from '../../proto/event-codec.ts';
import { metrics } from '../../src/adapters/metrics.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore, decodeSnapshotCanvas } from '../../src/adapters/pg/history-store.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { canvasSpecOf, eventBoundsOf } from '../../src/config/common.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { freePort, killAllEdgeProcesses, startEdgeProcess, type EdgeProcess } from '../helpers/edge-process.ts';
import {
  cleanupCanvas,
  testEnv,
  testNames,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_REDIS_URL,
} from '../helpers/isolation.ts';

// 2000 wide (so x = 2500 would wrap to (500, 1) without a bounds check), 16 high to keep snapshots small.
const W = 2000;
const H = 16;
const names = testNames('poison');
const sizes = { CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(H), SNAPSHOT_INTERVAL_MS: '300' };
const env = testEnv(names, sizes);
const spec = canvasSpecOf({ CANVAS_WIDTH: W, CANVAS_HEIGHT: H, PALETTE: 'rplace2022' });
const logger = pino({ level: 'silent' });

let nc: NatsConnection;
let redis: Redis;
let pg: PgConnection;
let edge: EdgeProcess;
const stops: (() => Promise<void>)[] = [];
/** Valid events with their sequences, in stream order: what every projection must equal. */
const accepted: { seq: number; event: CanvasEvent }[] = [];
let lastSeq = 0;

const placed = (i: number, over: Partial<CanvasEvent> = {}): CanvasEvent =>
  ({
    kind: EventKind.PixelPlaced,
    x: (i * 37) % W,
    y: i % H,
    color: (i % 31) + 1,
    userId: `u${i}`,
    requestId: `r${i}`,
    placedAt: Date.now(),
    ...over,
  }) as CanvasEvent;

async function publish(subject: string, bytes: Uint8Array): Promise<number> {
  const ack = await jetstream(nc).publish(subject, bytes);
  lastSeq = Math.max(lastSeq, ack.seq);
  return ack.seq;
}

async function appendValid(from: number, count: number): Promise<void> {
  for (let i = from; i < from + count; i++) {
    const event = placed(i);
    accepted.push({ seq: await publish(names.pixelSubject(event.x, event.y), encodeEvent(event)), event });
  }
}

/** One of each forged kind, with the reason every reader must give. */
function forgeries(): { what: string; subject: string; bytes: Uint8Array; reason: string }[] {
  const px = names.pixelSubject(0, 0);
  // A well-formed unknown kind is not skipped but stops readers (UnknownEventKind): canvas-resize.test.ts.
  const shrink = encodeEvent({
    kind: EventKind.CanvasResized,
    width: W - 1,
    height: H,
    originX: 0,
    originY: 0,
    userId: 'operator',
    requestId: 'shrink',
    placedAt: Date.now(),
  });
  const unknownVersion = encodeEvent(placed(1));
  unknownVersion[0] = 9;
  return [
    {
      what: 'x = 65535 (the old smallint overflow)',
      subject: px,
      bytes: encodeEvent(placed(1, { x: 65535 })),
      reason: 'bounds',
    },
    {
      what: 'x = 2500 on a 2000-wide canvas',
      subject: px,
      bytes: encodeEvent(placed(1, { x: 2500, y: 0 })),
      reason: 'bounds',
    },
    { what: 'y = 16 on a 16-high canvas', subject: px, bytes: encodeEvent(placed(1, { y: 16 })), reason: 'bounds' },
    { what: 'color = 200', subject: px, bytes: encodeEvent(placed(1, { color: 200 })), reason: 'color' },
    { what: 'placedAt NaN', subject: px, bytes: encodeEvent(placed(1, { placedAt: Number.NaN })), reason: 'time' },
    {
      what: 'placedAt a year ahead',
      subject: px,
      bytes: encodeEvent(placed(1, { placedAt: Date.now() + 365 * 86_400_000 })),
      reason: 'time',
    },
    { what: 'placedAt in 1970', subject: px, bytes: encodeEvent(placed(1, { placedAt: 5 })), reason: 'time' },
    { what: 'a resize that shrinks', subject: names.resizeSubject, bytes: shrink, reason: 'resize' },
    { what: 'a resize on a placement subject', subject: px, bytes: shrink, reason: 'subject' },
    { what: 'unknown version', subject: px, bytes: unknownVersion, reason: 'version' },
    { what: 'truncated payload', subject: px, bytes: encodeEvent(placed(1)).subarray(0, 19), reason: 'layout' },
    {
      what: 'a moderation event on a placement subject',
      subject: px,
      bytes: encodeEvent(placed(1, { kind: EventKind.PixelRestored })),
      reason: 'subject',
    },
  ];
}

async function rejectedBy(reader: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await metrics.eventsRejected.get()).values) {
    if (v.labels.reader === reader) out[String(v.labels.reason)] = (out[String(v.labels.reason)] ?? 0) + v.value;
  }
  return out;
}

function expectedCanvas(): Uint8Array {
  return replay(
    createCanvas(spec),
    W,
    accepted.map((a) => a.event),
  );
}

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-poison');
  redis = new Redis(TEST_REDIS_URL);
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await applyStreams(nc, names);
  await appendValid(0, 50);
  stops.push(await startBitmapProjector(loadConfig(bitmapProjectorSchema, env), logger));
  stops.push(await startHistory(loadConfig(historySchema, env), logger));
  edge = await startEdgeProcess(names, await freePort(), sizes);
  for (const f of forgeries()) await publish(f.subject, f.bytes);
  // A legitimate moderation event, on its own subject, is applied like any other.
  const restored = placed(900, {
    kind: EventKind.PixelRestored,
    x: 5,
    y: 5,
    color: 3,
    userId: 'mod',
    requestId: 'rollback-1',
  });
  accepted.push({ seq: await publish(names.moderationSubject(5, 5), encodeEvent(restored)), event: restored });
  await appendValid(50, 50);
}, 180_000);

afterAll(async () => {
  await edge?.kill();
  killAllEdgeProcesses();
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await pg?.close();
  await cleanupCanvas(names, { nc, redis });
  redis?.disconnect();
  await nc?.drain();
});

describe('poisoned events in the stream', () => {
  it('a full replay skips exactly the forged events and keeps every valid one', async () => {
    const seen: number[] = [];
    for await (const batch of createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(spec),
      reader: 'test-replay',
    }).read(1, { untilSeq: lastSeq })) {
      seen.push(...batch.map((b) => b.seq));
    }
    expect(seen).toEqual(accepted.map((a) => a.seq));
    const reasons: Record<string, number> = {};
    for (const f of forgeries()) reasons[f.reason] = (reasons[f.reason] ?? 0) + 1;
    expect(await rejectedBy('test-replay')).toEqual(reasons);
  }, 60_000);

  it('the bitmap projector goes on past them and Redis holds exactly the replay', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    await expect
      .poll(() => store.seq(), { message: 'the bitmap at the last sequence', timeout: 60_000, interval: 100 })
      .toBe(lastSeq);
    expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expectedCanvas()))).toBe(true);
    expect(Object.values(await rejectedBy(names.consumers.bitmap)).reduce((a, b) => a + b, 0)).toBe(forgeries().length);
  }, 90_000);

  it('history goes on past them (no wedge, no smallint overflow): point in time and the latest snapshot equal the replay', async () => {
    const store = createPgHistoryStore(pg, logger);
    await expect
      .poll(() => store.position(names.consumers.history), {
        message: 'history at the last sequence',
        timeout: 60_000,
        interval: 100,
      })
      .toBe(lastSeq);
    const now = await canvasAt(store, spec, names.consumers.history, Date.now() + 60_000);
    expect(now.seq).toBe(lastSeq);
    expect(Buffer.from(now.canvas).equals(Buffer.from(expectedCanvas()))).toBe(true);
    const rows = await pg.pool.query<{ n: string; max_x: number; max_color: number }>(
      `SELECT count(*) AS n, max(x) AS max_x, max(color) AS max_color FROM "${names.pgSchema}".events`,
    );
    expect({
      n: Number(rows.rows[0]!.n),
      maxX: rows.rows[0]!.max_x < W,
      maxColor: rows.rows[0]!.max_color < spec.palette.length,
    }).toEqual({ n: accepted.length, maxX: true, maxColor: true });
    // The wall-clock snapshotter (300 ms) labels a snapshot with the last sequence: it equals the replay too.
    await expect
      .poll(async () => (await store.latestSnapshot(lastSeq))?.seq, {
        message: 'a snapshot at the last sequence',
        timeout: 30_000,
        interval: 100,
      })
      .toBe(lastSeq);
    const snap = await pg.pool.query<{ canvas: Buffer; canvas_encoding: string }>(
      `SELECT canvas, canvas_encoding FROM "${names.pgSchema}".snapshots WHERE seq = $1`,
      [lastSeq],
    );
    const canvas = await decodeSnapshotCanvas(snap.rows[0]!.canvas_encoding, snap.rows[0]!.canvas, W, H, lastSeq);
    expect(Buffer.from(canvas).equals(Buffer.from(expectedCanvas()))).toBe(true);
    expect(await metrics.projectionHalted.get()).toMatchObject({
      values: [{ value: 0, labels: { projection: 'history' } }],
    });
  }, 120_000);

  it("an edge's canvas (its live tail) equals the replay", async () => {
    let body = new Uint8Array(0);
    let seq = -1;
    await vi
      .waitFor(
        async () => {
          const response = await fetch(`${edge.url}/api/v1/canvas`, { headers: { 'accept-encoding': 'identity' } });
          seq = Number(response.headers.get('x-rplace-seq'));
          body = new Uint8Array(await response.arrayBuffer());
          if (seq !== lastSeq) throw new Error('the edge is not at the last sequence yet');
        },
        { timeout: 60_000, interval: 100 },
      )
      .catch((error: unknown) => {
        throw new Error(
          `edge at ${seq}, stream at ${lastSeq}: ${(error as Error).message}\n${edge.output().slice(-2000)}`,
        );
      });
    expect(body.length).toBe(W * H);
    expect(Buffer.from(body).equals(Buffer.from(expectedCanvas()))).toBe(true);
    const exposition = await (await fetch(`${edge.url}/metrics`)).text();
    expect(exposition).toMatch(/rplace_events_rejected_total\{reader="edge",reason="bounds"[^}]*\} 3/);
  }, 90_000);
});
