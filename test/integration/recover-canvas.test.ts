/**
 * The golden invariant of recovery (src/app/recover-canvas.ts): the newest verified snapshot + the tail
 * equals a full replay byte for byte, and both equal the replay of the StoredEvent path every other reader
 * uses (`read` → checkStoredEvent → replay). Including with a corrupt newest snapshot (falls back to the
 * older one), with events that should never have been written (one right after the snapshot, one in the
 * tail, one before it: rejected the same way on both paths), with a snapshot past the stream's end, and with
 * a stream that no longer holds the snapshot's next sequence, and with a snapshot row on the real Postgres whose
 * bytes were changed after it was written (checksum mismatch, a byte still inside the palette). On the real
 * NATS and Redis, each case read both ways: through nats.js's `Msg` (the roles' reader) and from the socket
 * bytes with the settings of `rplace rebuild bitmap` (src/cli/rebuild-read.ts: its default, fast path on).
 */
import { connectTestServices, releaseTestServices } from '../helpers/test-services.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { encodeEvent, EventKind, type CanvasEvent, isPixelEvent } from '../../proto/event-codec.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import { rebuildBitmap, runBitmapProjection } from '../../src/app/project-bitmap.ts';
import { describeRecovery, recoverCanvas, type SnapshotSource } from '../../src/app/recover-canvas.ts';
import { loadEdgeCanvas } from '../../src/app/edge/load-edge-canvas.ts';
import { explainReadFailures, rebuildReadOptions } from '../../src/cli/rebuild-read.ts';
import { canvasSpecOf, eventBoundsOf } from '../../src/config/common.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import type { EventStream } from '../../src/ports/event-log.ts';
import type { SnapshotMeta } from '../../src/ports/history.ts';
import { applyStreams } from '../../streams/apply.ts';
import { connectPg } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { deleteRedisKeys, dropSchema, TEST_DATABASE_URL, testNames } from '../helpers/isolation.ts';

const W = 64;
const H = 32;
const names = testNames('hrecovery');
const spec = canvasSpecOf({ CANVAS_WIDTH: W, CANVAS_HEIGHT: H, PALETTE: 'rplace2022' });
const logger = pino({ level: 'silent' });
let nc: NatsConnection;
let redis: Redis;
/** The reader of the case running: one of the two below. */
let stream: EventStream;
/** nats.js's parser and `Msg` (every role's reader). */
let msgStream: EventStream;
/** `rplace rebuild bitmap`'s default reader (socket bytes, two pulls, the stall limit), with small batches. */
let cliStream: EventStream;
/** Sequences of the two snapshots the history projector would have taken. */
let olderSeq = 0;
let newerSeq = 0;
let lastSeq = 0;
/** The valid events, in stream order: what every path must equal (computed without the stream). */
const accepted: CanvasEvent[] = [];

const placed = (i: number, over: Partial<CanvasEvent> = {}): CanvasEvent =>
  ({
    kind: EventKind.PixelPlaced,
    x: (i * 37) % W,
    y: (i * 11) % H,
    color: (i % 31) + 1,
    userId: `u${i}`,
    requestId: `r${i}`,
    placedAt: Date.now(),
    ...over,
  }) as CanvasEvent;

async function publish(event: CanvasEvent): Promise<number> {
  const ack = await jetstream(nc).publish(
    names.pixelSubject(Math.min(event.x, W - 1), Math.min(event.y, H - 1)),
    encodeEvent(event),
  );
  lastSeq = ack.seq;
  return ack.seq;
}
/** Never should have been written: a colour outside the palette on a pixel (checkStoredEvent rejects it on every reader). */
const forged = (i: number) => publish(placed(i, { x: 3, y: 4, color: 200 }));

/** The StoredEvent path (what the history projector snapshots and every other reader replays) through `upTo`. */
async function reference(upTo: number): Promise<Uint8Array> {
  const canvas = createCanvas(spec);
  for await (const batch of stream.read(1, { untilSeq: upTo }))
    replay(canvas, W, batch.map((s) => s.event).filter(isPixelEvent));
  return canvas;
}

function memorySnapshots(
  rows: { seq: number; canvas: Uint8Array; width?: number }[],
): SnapshotSource & { loads: number[] } {
  const meta = (r: { seq: number; width?: number }): SnapshotMeta => ({
    seq: r.seq,
    capturedAt: Date.now() - 90_000,
    maxPlacedAt: 0,
    pixelCount: 0,
    width: r.width ?? W,
    height: H,
  });
  const loads: number[] = [];
  return {
    loads,
    async latestSnapshot(maxSeq) {
      const r = rows.filter((x) => x.seq <= maxSeq).sort((a, b) => b.seq - a.seq)[0];
      return r ? meta(r) : null;
    },
    async loadSnapshot(seq) {
      loads.push(seq);
      return rows.find((r) => r.seq === seq)!.canvas.slice();
    },
  };
}

beforeAll(async () => {
  ({ nc, redis } = await connectTestServices('test-h-recovery'));
  await applyStreams(nc, names);
  msgStream = createNatsEventStream(nc, names, {
    canvas: eventBoundsOf(spec),
    reader: 'test-recovery',
    logger,
    maxBatch: 64,
    pullMessages: 128,
  });
  cliStream = explainReadFailures(
    createNatsEventStream(nc, names, {
      canvas: eventBoundsOf(spec),
      reader: 'test-recovery',
      logger,
      ...rebuildReadOptions(true),
      maxBatch: 64, // small, so the recoveries below span many batches and pulls
      pullMessages: 128,
    }),
    true,
  );
  stream = msgStream;
  const valid = async (from: number, to: number) => {
    for (let i = from; i < to; i++) {
      accepted.push(placed(i));
      await publish(accepted[accepted.length - 1]!);
    }
  };
  await valid(0, 300);
  await forged(1000); // before both snapshots
  olderSeq = lastSeq;
  await valid(300, 600);
  newerSeq = lastSeq;
  await forged(1001); // right after the newer snapshot: seq newerSeq + 1
  await valid(600, 900);
  await forged(1002); // in the tail
  await valid(900, 950);
}, 120_000);

afterAll(() => releaseTestServices({ nc, redis }, names));

describe.each([
  ["through nats.js's Msg (the roles' reader)", false],
  ['from the socket bytes (rplace rebuild bitmap, its default)', true],
])('recovery from a snapshot + tail equals a full replay, read %s', (_label, fast) => {
  beforeAll(() => {
    stream = fast ? cliStream : msgStream;
  });

  it('uses the newest verified snapshot, and equals the full replay byte for byte', async () => {
    const expected = await reference(lastSeq);
    const snapshots = memorySnapshots([
      { seq: olderSeq, canvas: await reference(olderSeq) },
      { seq: newerSeq, canvas: await reference(newerSeq) },
    ]);
    const full = await recoverCanvas({ stream, spec, snapshots }, { full: true });
    const fast = await recoverCanvas({ stream, spec, snapshots });
    expect(full.path).toMatchObject({ kind: 'full', reason: 'asked for (--full)' });
    expect(fast.path).toMatchObject({ kind: 'snapshot', snapshotSeq: newerSeq, tailEvents: lastSeq - newerSeq });
    expect(describeRecovery(fast)).toMatch(
      new RegExp(`^from snapshot seq ${newerSeq} \\(age 90 s\\) \\+ ${lastSeq - newerSeq} events`),
    );
    expect(full.seq).toBe(lastSeq);
    expect(fast.seq).toBe(lastSeq);
    expect(Buffer.from(full.canvas).equals(Buffer.from(expected))).toBe(true);
    expect(Buffer.from(fast.canvas).equals(Buffer.from(expected))).toBe(true);
    // The forged events landed nowhere: both equal the replay of the valid events alone.
    expect(Buffer.from(expected).equals(Buffer.from(replay(createCanvas(spec), W, accepted)))).toBe(true);
  });

  it('falls back to the older snapshot when the newest is corrupt, then to a full replay', async () => {
    const expected = await reference(lastSeq);
    const corrupt = await reference(newerSeq);
    corrupt[17] = 200; // outside the 32-colour palette
    const one = memorySnapshots([
      { seq: olderSeq, canvas: await reference(olderSeq) },
      { seq: newerSeq, canvas: corrupt },
    ]);
    const older = await recoverCanvas({ stream, spec, snapshots: one });
    expect(older.path).toMatchObject({ kind: 'snapshot', snapshotSeq: olderSeq });
    expect(older.path.rejected).toEqual([
      expect.stringMatching(new RegExp(`^snapshot seq ${newerSeq}: byte 17 is colour 200`)),
    ]);
    expect(Buffer.from(older.canvas).equals(Buffer.from(expected))).toBe(true);

    const none = memorySnapshots([
      { seq: olderSeq, canvas: new Uint8Array(10) },
      { seq: newerSeq, canvas: corrupt },
      { seq: lastSeq + 50, canvas: expected },
    ]);
    // Asked for more than the stream holds: the snapshot past its end is refused, the read stops at its end.
    const full = await recoverCanvas({ stream, spec, snapshots: none }, { untilSeq: lastSeq + 100 });
    expect(full.seq).toBe(lastSeq);
    expect(full.path.kind).toBe('full');
    expect(describeRecovery(full)).toMatch(
      /^full replay: no snapshot verified \(.*past the end of the stream.*byte 17 is colour 200.*holds 10 bytes/,
    );
    expect(Buffer.from(full.canvas).equals(Buffer.from(expected))).toBe(true);

    const wrongSize = memorySnapshots([{ seq: newerSeq, canvas: await reference(newerSeq), width: W * 2 }]);
    expect((await recoverCanvas({ stream, spec, snapshots: wrongSize })).path).toMatchObject({
      kind: 'full',
      reason: expect.stringContaining(`is ${W * 2}×${H}`),
    });
  });

  it('skips a Postgres snapshot whose checksum no longer matches its canvas, says so, and uses the older one', async () => {
    const pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
    try {
      await migrateToLatest(pg.pool, names.pgSchema);
      const history = createPgHistoryStore(pg, logger);
      const snap = async (seq: number) => ({
        seq,
        capturedAt: Date.now() - 90_000,
        maxPlacedAt: Date.now() - 90_000,
        pixelCount: 0,
        width: W,
        height: H,
        canvas: await reference(seq),
      });
      await history.commit({
        projection: 'history-projector',
        expectedSeq: 0,
        newSeq: newerSeq,
        rows: [],
        snapshots: [await snap(olderSeq), await snap(newerSeq)],
      });
      const stored = await pg.pool.query<{ seq: string; sha: Buffer | null }>(
        'SELECT seq, canvas_sha256 AS sha FROM snapshots ORDER BY seq',
      );
      expect(stored.rows.map((r) => r.sha?.length)).toEqual([32, 32]);
      // Unchanged rows verify: the newest is used.
      const intact = await recoverCanvas({ stream, spec, snapshots: history });
      expect(intact.path).toMatchObject({ kind: 'snapshot', snapshotSeq: newerSeq, rejected: [] });
      // One byte of the newest changed to another colour of the palette: every other check still passes.
      await pg.pool.query(
        'UPDATE snapshots SET canvas = set_byte(canvas, 17, (get_byte(canvas, 17) + 1) % 32) WHERE seq = $1',
        [newerSeq],
      );
      const result = await recoverCanvas({ stream, spec, snapshots: history });
      expect(result.path).toMatchObject({ kind: 'snapshot', snapshotSeq: olderSeq });
      expect(result.path.rejected).toEqual([
        expect.stringMatching(new RegExp(`^snapshot seq ${newerSeq}: checksum mismatch .*corrupt, skipped$`)),
      ]);
      expect(describeRecovery(result)).toMatch(
        new RegExp(`^from snapshot seq ${olderSeq} .*; skipped snapshot seq ${newerSeq}: checksum mismatch`),
      );
      expect(Buffer.from(result.canvas).equals(Buffer.from(await reference(lastSeq)))).toBe(true);
      // A row from before migration 0009 (no checksum) is verified as before and still used.
      await pg.pool.query('UPDATE snapshots SET canvas_sha256 = NULL WHERE seq = $1', [newerSeq]);
      expect((await recoverCanvas({ stream, spec, snapshots: history })).path).toMatchObject({
        kind: 'snapshot',
        snapshotSeq: newerSeq,
      });
    } finally {
      await pg.close();
      await dropSchema(names);
    }
  });

  it('skips a snapshot whose next sequence the stream no longer holds', async () => {
    const expected = await reference(lastSeq);
    // The stream as it would look trimmed up to newerSeq + 5 (a retention limit): reads start after it.
    const trimmed: EventStream = {
      ...stream,
      readPixels: (from, opts) => stream.readPixels(Math.max(from, newerSeq + 6), opts),
    };
    const snapshots = memorySnapshots([
      { seq: olderSeq, canvas: await reference(olderSeq) },
      { seq: newerSeq, canvas: await reference(newerSeq) },
    ]);
    const result = await recoverCanvas({ stream: trimmed, spec, snapshots }, { maxCandidates: 2 });
    expect(result.path.kind).toBe('full');
    expect(result.path.rejected).toEqual([
      `snapshot seq ${newerSeq}: the stream no longer holds seq ${newerSeq + 1} (its tail starts at ${newerSeq + 6})`,
      `snapshot seq ${olderSeq}: the stream no longer holds seq ${olderSeq + 1} (its tail starts at ${newerSeq + 6})`,
    ]);
    // (The full replay of a trimmed stream is what it is; on the real stream it is the expected canvas.)
    expect(
      Buffer.from((await recoverCanvas({ stream, spec, snapshots }, { full: true })).canvas).equals(
        Buffer.from(expected),
      ),
    ).toBe(true);
  });

  it('rebuildBitmap writes the same bytes and sequence to Redis on both paths, and an unreachable snapshot store means a full replay', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    const expected = Buffer.from(await reference(lastSeq));
    const snapshots = memorySnapshots([{ seq: newerSeq, canvas: await reference(newerSeq) }]);
    const fast = await rebuildBitmap({ stream, store, spec, snapshots });
    expect(fast.path.kind).toBe('snapshot');
    const fromSnapshot = (await store.load())!;
    expect(fromSnapshot.seq).toBe(lastSeq);
    expect(Buffer.from(fromSnapshot.canvas).equals(expected)).toBe(true);

    const down: SnapshotSource = {
      latestSnapshot: () => Promise.reject(new Error('postgres is down')),
      loadSnapshot: () => Promise.reject(new Error('unused')),
    };
    const full = await rebuildBitmap({ stream, store, spec, snapshots: down });
    expect(full.path).toMatchObject({
      kind: 'full',
      reason: expect.stringContaining('snapshot store unavailable (postgres is down)'),
    });
    const replayed = (await store.load())!;
    expect(replayed.seq).toBe(lastSeq);
    expect(Buffer.from(replayed.canvas).equals(expected)).toBe(true);
  });
});

describe("the roles' recoveries (nats.js's Msg: the fast path stays off in the roles)", () => {
  beforeAll(() => {
    stream = msgStream;
  });

  it('the live projector, finding no bitmap, rebuilds from the snapshot + tail and says so', async () => {
    await deleteRedisKeys(redis, names);
    const store = createRedisBitmapStore(redis, names, spec);
    const lines: string[] = [];
    const log = {
      info: (_o: object, msg: string) => void lines.push(msg),
      warn: (_o: object, msg: string) => void lines.push(msg),
      error: () => undefined,
    };
    const snapshots = memorySnapshots([{ seq: newerSeq, canvas: await reference(newerSeq) }]);
    await runBitmapProjection(
      {
        store,
        stream,
        spec,
        snapshots,
        log: log as never,
        source: createNatsProjectionSource(nc, names, names.consumers.bitmap, logger, { canvas: eventBoundsOf(spec) }),
        onApplied: () => undefined,
      },
      AbortSignal.timeout(3000),
    ); // runs until the timeout: the rebuild happens at its start
    expect(lines).toContain(
      `bitmap rebuilt from snapshot seq ${newerSeq} (age 90 s) + ${lastSeq - newerSeq} events, through seq ${lastSeq}`,
    );
    const stored = (await store.load())!;
    expect(stored.seq).toBe(lastSeq);
    expect(Buffer.from(stored.canvas).equals(Buffer.from(await reference(lastSeq)))).toBe(true);
  }, 20_000);

  it('an edge that finds no bitmap starts from the snapshot + tail, or from the bitmap when there is one', async () => {
    await deleteRedisKeys(redis, names);
    const store = createRedisBitmapStore(redis, names, spec);
    const snapshots = memorySnapshots([{ seq: newerSeq, canvas: await reference(newerSeq) }]);
    const expected = Buffer.from(await reference(lastSeq));
    const fresh = await loadEdgeCanvas({ bitmap: store, stream, spec, snapshots });
    expect([fresh.source, fresh.seq, fresh.detail]).toEqual([
      'snapshot',
      lastSeq,
      expect.stringMatching(new RegExp(`^from snapshot seq ${newerSeq} `)),
    ]);
    expect(Buffer.from(fresh.canvas).equals(expected)).toBe(true);
    expect(snapshots.loads).toEqual([newerSeq]);
    // With a projection in Redis, the edge takes it as it is and touches no snapshot.
    await rebuildBitmap({ stream, store, spec });
    const warm = await loadEdgeCanvas({ bitmap: store, stream, spec, snapshots });
    expect([warm.source, warm.seq]).toEqual(['bitmap', lastSeq]);
    expect(Buffer.from(warm.canvas).equals(expected)).toBe(true);
    expect(snapshots.loads).toEqual([newerSeq]);
  });
});
