/**
 * Snapshot storage across migration 0004 (raw canvases, read by binary COPY) on the real Postgres: a schema
 * that already held deflated snapshots (written as the pre-0004 projector did) is migrated, the projector
 * resumes from one of those rows and writes raw ones; every snapshot of either form reads back as the replay
 * to its sequence, and point-in-time answers over both eras equal the reference rule byte for byte. Also the
 * COPY path itself: the server's bytes equal the hand-written golden vector, multi-MB values survive the
 * stream's chunking, and failed COPYs neither leak pool connections nor poison them.
 */
import fc from 'fast-check';
import { Kysely, Migrator, PostgresDialect } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { migrations } from '../../migrations/index.ts';
import { EventKind } from '../../proto/event-codec.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { copyBytes, copyRows } from '../../src/adapters/pg/copy-out.ts';
import { compressCanvas, createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateIgnoringDropsElsewhere, migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { StoreUnavailable } from '../../src/ports/errors.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import { GOLDEN_COPY_BYTES, GOLDEN_COPY_QUERY } from '../helpers/copy-binary-golden.ts';
import { projectFromMemory, storedEvent } from '../helpers/history-fixture.ts';
import { randomEvents, referenceCanvasAt, referenceCanvasToSeq, type TestEvent } from '../helpers/history.ts';
import { dropSchema, TEST_DATABASE_URL, testNames } from '../helpers/isolation.ts';

// 6,000-byte canvases: above the ~2 KB TOAST threshold, so Postgres compresses the raw rows.
const W = 100;
const H = 60;
const N = 3_000;
const OLD_ERA = 1_500;
const OLD_SNAPSHOTS = [300, 700, 1_200];
const names = testNames('histsnapfmt');
const logger = pino({ level: 'silent' });
const projection = 'history-projector';
const start = Date.now() - 3_600_000;
const SPAN = 60_000;
let pg: PgConnection;
let store: HistoryStore;
let events: TestEvent[] = [];

/** Migrates the schema up to (not including) 0004, as a deployment before this change had it. */
async function migrateBefore0004(): Promise<void> {
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: pg.pool }) });
  const before = Object.fromEntries(Object.entries(migrations).filter(([name]) => name < '0004'));
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => before },
    migrationTableSchema: names.pgSchema,
  });
  const { error } = await migrateIgnoringDropsElsewhere(migrator, names.pgSchema);
  if (error) throw error;
}

beforeAll(async () => {
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  events = randomEvents(N, W, H, start, SPAN, 32, 5).map((e, i) => ({ kind: EventKind.PixelPlaced, ...e, seq: i + 1 }));
  await migrateBefore0004();
  store = createPgHistoryStore(pg, logger);
  // The old era: events through the store (no snapshots in a commit: those would name the new column),
  // snapshots inserted exactly as the pre-0004 projector wrote them (deflated, no canvas_encoding).
  for (let from = 0; from < OLD_ERA; from += 100) {
    await store.commit({
      projection,
      expectedSeq: from,
      newSeq: from + 100,
      rows: events.slice(from, from + 100).map(storedEvent),
      snapshots: [],
    });
  }
  for (const seq of OLD_SNAPSHOTS) {
    const upTo = events.slice(0, seq);
    await pg.pool.query(
      `INSERT INTO snapshots (seq, captured_at, max_placed_at, pixel_count, width, height, canvas) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        seq,
        new Date().toISOString(),
        new Date(Math.max(...upTo.map((e) => e.placedAt))).toISOString(),
        seq,
        W,
        H,
        await compressCanvas(referenceCanvasToSeq(events, W, H, seq)),
      ],
    );
  }
  await migrateToLatest(pg.pool, names.pgSchema);
  // The new era: the real projector reloads from the deflated snapshot at 1,200 and writes raw ones.
  const reloads: (number | null)[] = [];
  await projectFromMemory(events, 250, {
    store,
    width: W,
    height: H,
    projection,
    snapshotIntervalMs: 5_000,
    snapshotMaxEvents: 400,
    observer: { reloaded: (info) => reloads.push(info.snapshotSeq) },
  });
  expect(reloads[0]).toBe(1_200);
}, 60_000);

afterAll(async () => {
  await pg?.close();
  await dropSchema(names);
});

describe('snapshots across migration 0004', () => {
  it('keeps old rows deflated, writes new ones raw (lz4-compressed by Postgres), and reads both as the replay', async () => {
    const rows = (
      await pg.pool.query(
        'SELECT seq, canvas_encoding, octet_length(canvas) AS bytes, pg_column_compression(canvas) AS compression FROM snapshots ORDER BY seq',
      )
    ).rows;
    const old = rows.filter((r) => OLD_SNAPSHOTS.includes(Number(r.seq)));
    const fresh = rows.filter((r) => !OLD_SNAPSHOTS.includes(Number(r.seq)));
    expect(old.map((r) => [Number(r.seq), r.canvas_encoding])).toEqual(OLD_SNAPSHOTS.map((s) => [s, 'deflate']));
    expect(fresh.length).toBeGreaterThanOrEqual(3);
    for (const r of fresh) {
      expect(r.canvas_encoding).toBe('raw');
      expect(Number(r.bytes)).toBe(W * H);
      expect(r.compression).toBe('lz4');
    }
    for (const r of rows) {
      const seq = Number(r.seq);
      expect(Buffer.from(await store.loadSnapshot(seq)), `snapshot ${seq}`).toEqual(
        Buffer.from(referenceCanvasToSeq(events, W, H, seq)),
      );
    }
  });

  it('answers point-in-time over both eras exactly as the reference rule', async () => {
    const snaps = (await pg.pool.query('SELECT max_placed_at FROM snapshots')).rows as { max_placed_at: Date }[];
    const times = snaps.flatMap((s) => [-1, 0, 1].map((d) => s.max_placed_at.getTime() + d));
    for (const time of times) {
      expect(
        Buffer.from((await canvasAt(store, { width: W, height: H }, projection, time)).canvas),
        `at ${time}`,
      ).toEqual(Buffer.from(referenceCanvasAt(events, W, H, time).canvas));
    }
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: start - 1_000, max: start + SPAN + 1_000 }), async (time) => {
        const got = await canvasAt(store, { width: W, height: H }, projection, time);
        const want = referenceCanvasAt(events, W, H, time);
        expect(Buffer.from(got.canvas)).toEqual(Buffer.from(want.canvas));
      }),
      { numRuns: 30 },
    );
  });

  it('refuses a raw row of the wrong size, and reports a corrupt deflated row as StoreUnavailable', async () => {
    const insert = (seq: number, canvas: Buffer, encoding: string) =>
      pg.pool.query(
        `INSERT INTO snapshots (seq, captured_at, max_placed_at, pixel_count, width, height, canvas, canvas_encoding) VALUES ($1, now(), now(), 0, $2, $3, $4, $5)`,
        [seq, W, H, canvas, encoding],
      );
    await expect(insert(N + 10, Buffer.alloc(W * H - 1), 'raw')).rejects.toMatchObject({ code: '23514' });
    await expect(insert(N + 11, Buffer.alloc(W * H), 'lz4')).rejects.toMatchObject({ code: '23514' });
    await insert(N + 12, Buffer.from('not deflate'), 'deflate');
    await expect(store.loadSnapshot(N + 12)).rejects.toThrow(StoreUnavailable);
    await expect(store.loadSnapshot(N + 13)).rejects.toThrow(/does not exist/);
    await pg.pool.query('DELETE FROM snapshots WHERE seq > $1', [N]);
  });
});

describe('binary COPY reads', () => {
  it('the server writes exactly the golden vector', async () => {
    expect(await copyBytes(pg.pool, GOLDEN_COPY_QUERY)).toEqual(GOLDEN_COPY_BYTES);
  });

  it('a 3 MB value arrives whole across the stream chunks', async () => {
    const [[value]] = (await copyRows(pg.pool, `SELECT decode(repeat('ab', 3000000), 'hex')`, 1)) as [[Uint8Array]];
    expect(value.length).toBe(3_000_000);
    expect(Buffer.from(value).equals(Buffer.alloc(3_000_000, 0xab))).toBe(true);
  });

  it('failed COPYs reject with the server error and leave the pool whole', async () => {
    for (let i = 0; i < 10; i++) await expect(copyRows(pg.pool, 'SELECT 1 / 0', 1)).rejects.toThrow(/division by zero/);
    // An error after thousands of rows have been sent: the ErrorResponse arrives among CopyData messages.
    for (let i = 0; i < 3; i++)
      await expect(copyRows(pg.pool, 'SELECT 1 / (g - 50000) FROM generate_series(1, 60000) g', 1)).rejects.toThrow(
        /division by zero/,
      );
    for (let i = 0; i < 10; i++)
      expect((await copyRows(pg.pool, `SELECT ${i}::int4`, 1)).map((row) => row.map((f) => [...f!]))).toEqual([
        [[0, 0, 0, i]],
      ]);
    expect((await pg.pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(pg.pool.waitingCount).toBe(0);
  });
});
