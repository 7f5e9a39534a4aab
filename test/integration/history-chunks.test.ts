/**
 * The packed-chunk tail on the real Postgres: the real projector fed batches of random sizes (so chunk
 * boundaries fall everywhere, snapshots mid-chunk, sequences with gaps, times not monotone), then:
 * point-in-time equals the reference rule byte for byte for instants chosen ON chunk boundaries and event
 * times (and at random); a redelivered batch writes no chunk; a restart that redelivers an overlap leaves the
 * chunks disjoint and complete; the migration's SQL backfill yields the same tails; the snapshot LRU answers
 * the same bytes.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { BACKFILL_CHUNKS_SQL } from '../../migrations/0003_event_chunks.ts';
import { EventKind } from '../../proto/event-codec.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { unpackTail } from '../../src/domain/history/event-chunks.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import type { HistoryRow, HistoryStore } from '../../src/ports/history.ts';
import { createHistoryProjector } from '../../src/app/history/projector.ts';
import { SnapshotCache } from '../../src/domain/history/snapshot-cache.ts';
import { timelapseFrames } from '../../src/app/history/timelapse.ts';
import type { ProjectionSource } from '../../src/ports/event-log.ts';
import { randomEvents, referenceCanvasAt, type TestEvent } from '../helpers/history.ts';
import { dropSchema, TEST_DATABASE_URL, testNames } from '../helpers/isolation.ts';

const W = 24;
const H = 16;
const N = 2_500;
const names = testNames('histchunks');
const logger = pino({ level: 'silent' });
const projection = 'history-projector';
const start = Date.now() - 3_600_000;
const SPAN = 50_000;
let pg: PgConnection;
let store: HistoryStore;
let events: TestEvent[] = [];

/** Stream order with gaps (sequences skipped, as non-event messages would). */
function makeEvents(): TestEvent[] {
  let seq = 0;
  return randomEvents(N, W, H, start, SPAN, 32, 11).map((e, i) => ({
    kind: EventKind.PixelPlaced,
    ...e,
    seq: (seq += i % 97 === 5 ? 3 : 1),
  }));
}

function stored(e: TestEvent): HistoryRow {
  const { seq, ...event } = e;
  return { seq, storedAt: e.placedAt, event };
}

/** Delivers events from `fromSeq - overlap` (a redelivery) in batches of 1..60, stopping after `stopAfter` events. */
function source(overlap: number, stopAfter: number, done: AbortController): ProjectionSource {
  return {
    async run(fromSeq, handle) {
      let s = fromSeq * 7 + 3;
      const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
      const todo = events.filter((e) => e.seq >= fromSeq - overlap).slice(0, stopAfter + overlap);
      for (let i = 0; i < todo.length; ) {
        const size = 1 + Math.floor(rand() * 60);
        await handle(todo.slice(i, i + size).map(stored));
        i += size;
      }
      done.abort();
    },
  };
}

async function project(overlap: number, stopAfter: number): Promise<void> {
  const done = new AbortController();
  const projector = createHistoryProjector({
    store,
    source: source(overlap, stopAfter, done),
    clock: { now: () => Date.now() },
    width: W,
    height: H,
    projection,
    snapshotIntervalMs: 2_000,
    snapshotMaxEvents: 1_000,
  });
  await projector.run(done.signal);
}

/**
 * The sequence an answer reports: the prefix ends just before the first event placed after `time` (so it
 * includes the sequence gap before that event), or at the position when nothing stops it.
 */
function prefixSeq(time: number): number {
  const stop = events.find((e) => e.placedAt > time);
  return stop ? stop.seq - 1 : events.at(-1)!.seq;
}

async function chunkRows(): Promise<
  { first_seq: string; last_seq: string; min_placed_at: Date; max_placed_at: Date; packed: Buffer }[]
> {
  return (
    await pg.pool.query(
      'SELECT first_seq, last_seq, min_placed_at, max_placed_at, packed FROM event_chunks ORDER BY first_seq',
    )
  ).rows;
}

/** Every sequence the chunks hold, in chunk order (a duplicate or gap would show). */
async function chunkSeqs(): Promise<number[]> {
  const seqs: number[] = [];
  for (const c of await chunkRows()) {
    for (let at = 0; at < c.packed.length; at += 18) seqs.push(Number(c.first_seq) + c.packed.readUInt32BE(at));
  }
  return seqs;
}

beforeAll(async () => {
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await migrateToLatest(pg.pool, names.pgSchema);
  store = createPgHistoryStore(pg, logger);
  events = makeEvents();
  // First run stops part way; the restart redelivers the last 37 events it already committed.
  await project(0, 1_100);
  await project(37, N);
}, 120_000);

afterAll(async () => {
  await pg?.close();
  await dropSchema(names);
});

describe('packed event chunks', () => {
  it('cover every event exactly once, in order, across a restart that redelivered an overlap', async () => {
    expect(await store.position(projection)).toBe(events.at(-1)!.seq);
    expect(await chunkSeqs()).toEqual(events.map((e) => e.seq));
    const rows = await chunkRows();
    expect(rows.length).toBeGreaterThan(50);
    for (let i = 1; i < rows.length; i++)
      expect(Number(rows[i]!.first_seq)).toBeGreaterThan(Number(rows[i - 1]!.last_seq));
  });

  it('a redelivered batch writes no chunk; a partly new one chunks only its new rows', async () => {
    const before = (await chunkRows()).length;
    const position = await store.position(projection);
    const old = events.slice(100, 160).map(stored);
    await store.commit({ projection, expectedSeq: position, newSeq: position, rows: old, snapshots: [] });
    expect((await chunkRows()).length).toBe(before);
    expect(await chunkSeqs()).toEqual(events.map((e) => e.seq));
  });

  it('point-in-time equals the reference rule at chunk boundaries, event times and random instants', async () => {
    const rows = await chunkRows();
    const times = new Set<number>();
    for (const c of rows)
      for (const t of [c.min_placed_at.getTime(), c.max_placed_at.getTime()])
        for (const d of [-1, 0, 1]) times.add(t + d);
    const bySeq = new Map(events.map((e) => [e.seq, e]));
    for (const c of rows) for (const s of [Number(c.first_seq), Number(c.last_seq)]) times.add(bySeq.get(s)!.placedAt);
    const snaps = (await pg.pool.query('SELECT max_placed_at FROM snapshots')).rows as { max_placed_at: Date }[];
    for (const s of snaps) times.add(s.max_placed_at.getTime());
    const sample = [...times].filter((_, i) => i % 3 === 0);
    for (const time of sample) {
      const got = await canvasAt(store, { width: W, height: H }, projection, time);
      const want = referenceCanvasAt(events, W, H, time);
      expect(got.seq, `seq at ${time}`).toBe(prefixSeq(time));
      expect(Buffer.from(got.canvas), `canvas at ${time}`).toEqual(Buffer.from(want.canvas));
    }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: start - 1000, max: start + SPAN + 1000 }), async (time) => {
        const got = await canvasAt(store, { width: W, height: H }, projection, time);
        const want = referenceCanvasAt(events, W, H, time);
        expect(got.seq).toBe(prefixSeq(time));
        expect(Buffer.from(got.canvas)).toEqual(Buffer.from(want.canvas));
      }),
      { numRuns: 40 },
    );
  });

  it('the snapshot LRU answers the same bytes, and a caller mutating its canvas does not poison it', async () => {
    const cache = new SnapshotCache(4);
    const time = start + SPAN / 3;
    const want = referenceCanvasAt(events, W, H, time);
    const first = await canvasAt(store, { width: W, height: H }, projection, time, cache);
    first.canvas.fill(7);
    for (const t of [time, time + 5, time + 10]) {
      const again = await canvasAt(store, { width: W, height: H }, projection, t, cache);
      expect(Buffer.from(again.canvas)).toEqual(Buffer.from(referenceCanvasAt(events, W, H, t).canvas));
    }
    expect(cache.hits).toBeGreaterThanOrEqual(2);
    expect(first.seq).toBe(prefixSeq(time));
    expect(want.seq).toBeLessThanOrEqual(first.seq);
  });

  it('timelapse frames (region, forward replay across chunks) equal the reference', async () => {
    const region = { x: 3, y: 2, w: 10, h: 9 };
    const cache = new SnapshotCache(2);
    let i = 0;
    for await (const frame of timelapseFrames(
      store,
      { width: W, height: H },
      projection,
      { from: start, to: start + SPAN, frames: 40, region },
      undefined,
      cache,
    )) {
      const full = referenceCanvasAt(events, W, H, frame.time);
      const crop = new Uint8Array(region.w * region.h);
      for (let r = 0; r < region.h; r++)
        crop.set(
          full.canvas.subarray((region.y + r) * W + region.x, (region.y + r) * W + region.x + region.w),
          r * region.w,
        );
      expect(frame.seq, `frame ${i}`).toBe(prefixSeq(frame.time));
      expect(Buffer.from(frame.pixels), `frame ${i}`).toEqual(Buffer.from(crop));
      i++;
    }
    expect(i).toBe(40);
  });

  it('the migration backfill builds chunks with the same bytes the projector writes', async () => {
    const written = await chunkRows();
    const tailBefore = await store.tail(0, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY);
    await pg.pool.query('TRUNCATE event_chunks');
    expect((await store.tail(0, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)).changes).toEqual([]);
    await pg.pool.query(BACKFILL_CHUNKS_SQL);
    const rebuilt = await chunkRows();
    expect(await chunkSeqs()).toEqual(events.map((e) => e.seq));
    const decode = (rows: typeof written) =>
      unpackTail(
        rows.map((r) => ({ firstSeq: Number(r.first_seq), lastSeq: Number(r.last_seq), packed: r.packed })),
        0,
        Number.MAX_SAFE_INTEGER,
        Number.POSITIVE_INFINITY,
      );
    expect(decode(rebuilt)).toEqual(decode(written));
    // Times too: the backfill's float8 of placed_at is the projector's ms.
    const t = events[1500]!.placedAt;
    expect((await store.tail(0, Number.POSITIVE_INFINITY, t)).lastSeq).toBe(prefixSeq(t));
    expect(await store.tail(0, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY)).toEqual(tailBefore);
    // Running it again adds nothing.
    await pg.pool.query(BACKFILL_CHUNKS_SQL);
    expect((await chunkRows()).length).toBe(rebuilt.length);
  });
});
