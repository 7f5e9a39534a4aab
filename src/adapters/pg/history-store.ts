/**
 * `HistoryStore` on Postgres (schema: migrations/0001_history.ts). The write path is one transaction per
 * batch: compare-and-set the projection's position, a multi-row `INSERT … SELECT FROM unnest(…)` (one array
 * parameter per column: a 4,096-event batch is one statement) with `ON CONFLICT DO NOTHING`, and any
 * snapshots. Snapshots are stored raw (migrations/0004_raw_snapshots.ts: TOAST lz4 compresses them inside
 * Postgres); rows from before that are deflated, and `canvas_encoding` says which.
 *
 * Large reads (a snapshot's canvas, the packed chunks of a tail) go through binary COPY (./copy-out.ts):
 * node-postgres would receive their `bytea` as hex text and spend more time decoding it than Postgres takes
 * to produce it.
 *
 * Daily partitions of `events` are created ahead of the rows that need them (the day of each event and the
 * next one), outside the batch's transaction; `events_default` only catches a day whose partition could not
 * be created.
 *
 * Each batch also writes its new rows (those after the verified position) as packed chunks
 * (./event-chunks.ts) in the same transaction; every tail (point-in-time, timelapse, the projector's reload)
 * reads those chunks in one query rather than the `events` rows, which serve per-pixel history.
 */
import { promisify } from 'node:util';
import { deflate, inflate, constants as zlibConstants } from 'node:zlib';
import type pg from 'pg';
import type { Logger } from 'pino';
import { SequenceConflict, StoreRejected, StoreUnavailable } from '../../ports/errors.ts';
import type { HistoryRow, HistoryStore, Placement, SnapshotMeta, Tail } from '../../ports/history.ts';
import type { Region } from '../../domain/region.ts';
import type { PgConnection } from './connect.ts';
import { copyInt8, copyInt4, copyText, CopyFormatError } from './copy-binary.ts';
import { copyRows, sqlInt8Array, sqlInteger, sqlTimestamp } from './copy-out.ts';
import { packChunks, unpackTail, type StoredChunk } from './event-chunks.ts';

const deflateAsync = promisify(deflate);
const inflateAsync = promisify(inflate);
const DAY_MS = 86_400_000;

/** Deflates a raw canvas as snapshot rows were stored before migration 0004 (kept for tests and benchmarks). */
export function compressCanvas(canvas: Uint8Array): Promise<Buffer> {
  return deflateAsync(canvas, { level: 1, strategy: zlibConstants.Z_DEFAULT_STRATEGY });
}

export function decompressCanvas(bytes: Uint8Array): Promise<Buffer> {
  return inflateAsync(bytes);
}

/**
 * A snapshot row's canvas as raw palette indices, whichever form (`canvas_encoding`, 'raw' or 'deflate') it
 * is stored in. A raw row's bytes are
 * not copied (the caller hands over a buffer it owns); throws `StoreUnavailable` when the size is wrong.
 */
export async function decodeSnapshotCanvas(encoding: string, bytes: Uint8Array, width: number, height: number, seq: number): Promise<Uint8Array> {
  let raw: Uint8Array;
  if (encoding === 'raw') raw = bytes;
  else if (encoding === 'deflate') {
    try {
      raw = await decompressCanvas(bytes);
    } catch (cause) {
      throw new StoreUnavailable(`snapshot ${seq} does not inflate: ${(cause as Error).message}`, { cause });
    }
  } else throw new StoreUnavailable(`snapshot ${seq} has an unknown canvas encoding ${JSON.stringify(encoding)}`);
  if (raw.length !== width * height) throw new StoreUnavailable(`snapshot ${seq} holds ${raw.length} bytes (${encoding}), not ${width}×${height}`);
  // A plain Uint8Array, never a Buffer: callers copy with `.slice()`, which on a Buffer would be a view.
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.length);
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A write that can never succeed as it is: Postgres refused the data (SQLSTATE class 22 data exception,
 * e.g. 22003 smallint out of range; class 23 integrity constraint), or the driver could not encode a value
 * (a `RangeError` from an invalid date). Everything else (connection refused or lost, shutdown, timeouts)
 * is an outage and worth retrying.
 */
function isPermanent(cause: unknown): boolean {
  if (cause instanceof RangeError || cause instanceof TypeError) return true;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

function unavailable(what: string, cause: unknown): StoreUnavailable {
  return new StoreUnavailable(`postgres ${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

const SNAPSHOT_META = `seq, (extract(epoch FROM captured_at) * 1000)::bigint AS captured_at,
  (extract(epoch FROM max_placed_at) * 1000)::bigint AS max_placed_at, pixel_count, width, height`;

function toMeta(row: Record<string, unknown>): SnapshotMeta {
  return {
    seq: Number(row.seq),
    capturedAt: Number(row.captured_at),
    maxPlacedAt: Number(row.max_placed_at),
    pixelCount: Number(row.pixel_count),
    width: Number(row.width),
    height: Number(row.height),
  };
}

export interface PgHistoryStoreOptions {
  /**
   * Bytes of packed chunks kept in memory (default 32 MB ≈ 1.8M events). A chunk is the events of a fixed
   * sequence range of the stream, so it never changes once written; cached ones are not re-read (the tail
   * query returns NULL for them), which makes nearby instants (the time slider) and timelapses cheap.
   * Keyed by (first_seq, last_seq): a rebuild that cut chunks differently only misses.
   */
  readonly chunkCacheBytes?: number;
}

export function createPgHistoryStore(conn: PgConnection, logger: Logger, options: PgHistoryStoreOptions = {}): HistoryStore {
  const { pool, db } = conn;
  const chunkCacheBytes = options.chunkCacheBytes ?? 32 * 1024 * 1024;
  const chunkCache = new Map<number, { lastSeq: number; packed: Uint8Array }>();
  let chunkCached = 0;

  function cacheChunk(firstSeq: number, lastSeq: number, chunk: Uint8Array): void {
    if (chunk.length > chunkCacheBytes) return;
    // A chunk read by COPY is a view into the whole answer's buffer: keep a copy, so the budget counts what
    // is really held.
    const packed = Buffer.from(chunk);
    const old = chunkCache.get(firstSeq);
    if (old) {
      chunkCached -= old.packed.length;
      chunkCache.delete(firstSeq);
    }
    chunkCache.set(firstSeq, { lastSeq, packed });
    chunkCached += packed.length;
    for (const [key, entry] of chunkCache) {
      if (chunkCached <= chunkCacheBytes) break;
      chunkCache.delete(key);
      chunkCached -= entry.packed.length;
    }
  }
  const knownDays = new Set<number>();

  async function query<R extends pg.QueryResultRow = Record<string, unknown>>(what: string, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(text, values);
    } catch (cause) {
      throw unavailable(what, cause);
    }
  }

  /** A binary COPY read; a driver failure is `StoreUnavailable`, malformed COPY output a corrupt-store one. */
  async function copy(what: string, select: string, columns: number): Promise<(Uint8Array | null)[][]> {
    try {
      return await copyRows(pool, select, columns);
    } catch (cause) {
      if (cause instanceof CopyFormatError) throw new StoreUnavailable(`${what}: unexpected COPY output: ${cause.message}`, { cause });
      throw unavailable(what, cause);
    }
  }

  async function ensurePartitions(rows: readonly HistoryRow[]): Promise<void> {
    const days = new Set<number>();
    for (const row of rows) {
      const day = Math.floor(row.event.placedAt / DAY_MS);
      if (!knownDays.has(day)) days.add(day);
      if (!knownDays.has(day + 1)) days.add(day + 1);
    }
    for (const day of days) {
      const from = new Date(day * DAY_MS);
      const name = `events_p${from.toISOString().slice(0, 10).replace(/-/g, '')}`;
      try {
        await pool.query(`CREATE TABLE IF NOT EXISTS ${name} PARTITION OF events FOR VALUES FROM ('${from.toISOString()}') TO ('${iso((day + 1) * DAY_MS)}')`);
        knownDays.add(day);
      } catch (cause) {
        const code = (cause as { code?: string }).code;
        // 42P07: created concurrently. 23514: rows of that day already sit in events_default (kept there).
        if (code === '42P07' || code === '23514' || code === '42P17') {
          if (code !== '42P07') logger.warn({ partition: name, err: (cause as Error).message }, 'cannot create partition; its rows stay in events_default');
          knownDays.add(day);
        } else {
          throw unavailable(`creating partition ${name}`, cause);
        }
      }
    }
  }

  return {
    async position(projection) {
      const result = await query<{ seq: number }>('reading the position', 'SELECT seq FROM projection_positions WHERE name = $1', [projection]);
      return result.rows[0]?.seq ?? 0;
    },

    async commit({ projection, expectedSeq, newSeq, rows, snapshots }) {
      if (rows.length > 0) {
        await ensurePartitions(rows).catch((cause: unknown) => {
          throw isPermanent(cause) ? new StoreRejected(`postgres refused a batch's partitions: ${(cause as Error).message}`, { cause }) : cause;
        });
      }
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (cause) {
        throw unavailable('connecting', cause);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        const moved = expectedSeq === 0
          ? await client.query(
            `INSERT INTO projection_positions (name, seq) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now() WHERE projection_positions.seq = 0`,
            [projection, newSeq])
          : await client.query('UPDATE projection_positions SET seq = $2, updated_at = now() WHERE name = $1 AND seq = $3', [projection, newSeq, expectedSeq]);
        if (moved.rowCount !== 1) {
          await client.query('ROLLBACK');
          const found = (await client.query<{ seq: number }>('SELECT seq FROM projection_positions WHERE name = $1', [projection])).rows[0]?.seq ?? null;
          throw new SequenceConflict(`history position of ${projection} is ${found}, expected ${expectedSeq}`, expectedSeq, found);
        }
        if (rows.length > 0) {
          const n = rows.length;
          const seq = new Array<number>(n), kind = new Array<number>(n), x = new Array<number>(n), y = new Array<number>(n);
          const color = new Array<number>(n), user = new Array<string>(n), placed = new Array<string>(n), stored = new Array<string>(n);
          for (let i = 0; i < n; i++) {
            const row = rows[i] as HistoryRow;
            seq[i] = row.seq;
            kind[i] = row.event.kind;
            x[i] = row.event.x;
            y[i] = row.event.y;
            color[i] = row.event.color;
            user[i] = row.event.userId;
            placed[i] = iso(row.event.placedAt);
            stored[i] = iso(row.storedAt);
          }
          await client.query(
            `INSERT INTO events (seq, kind, x, y, color, user_id, placed_at, stored_at)
             SELECT * FROM unnest($1::int8[], $2::int2[], $3::int2[], $4::int2[], $5::int2[], $6::text[], $7::timestamptz[], $8::timestamptz[])
             ON CONFLICT DO NOTHING`,
            [seq, kind, x, y, color, user, placed, stored],
          );
        }
        for (const chunk of packChunks(rows, expectedSeq)) {
          // Disjoint by construction (only rows after the position this transaction verified); DO NOTHING
          // keeps a replayed commit harmless all the same.
          await client.query(
            `INSERT INTO event_chunks (first_seq, last_seq, min_placed_at, max_placed_at, count, packed)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
            [chunk.firstSeq, chunk.lastSeq, iso(chunk.minPlacedAt), iso(chunk.maxPlacedAt), chunk.count, chunk.packed],
          );
        }
        for (const s of snapshots) {
          // A Buffer/Uint8Array parameter goes as binary: the 4 MB canvas is neither encoded nor copied to text.
          await client.query(
            `INSERT INTO snapshots (seq, captured_at, max_placed_at, pixel_count, width, height, canvas, canvas_encoding)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'raw') ON CONFLICT (seq) DO NOTHING`,
            [s.seq, iso(s.capturedAt), iso(s.maxPlacedAt), s.pixelCount, s.width, s.height, s.canvas],
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        if (error instanceof SequenceConflict) throw error;
        broken = true;
        await client.query('ROLLBACK').catch(() => undefined);
        if (isPermanent(error)) throw new StoreRejected(`postgres refused a batch: ${(error as Error)?.message ?? String(error)}`, { cause: error });
        throw unavailable('writing a batch', error);
      } finally {
        client.release(broken);
      }
    },

    async latestSnapshot(maxSeq) {
      const result = await query('reading snapshots', `SELECT ${SNAPSHOT_META} FROM snapshots WHERE seq <= $1 ORDER BY seq DESC LIMIT 1`, [maxSeq]);
      return result.rows[0] ? toMeta(result.rows[0]) : null;
    },

    async snapshotFor(time) {
      const result = await query('reading snapshots',
        `SELECT ${SNAPSHOT_META} FROM snapshots WHERE max_placed_at <= $1 ORDER BY max_placed_at DESC, seq DESC LIMIT 1`, [iso(time)]);
      return result.rows[0] ? toMeta(result.rows[0]) : null;
    },

    async nextSnapshotSeq(seq) {
      const result = await query<{ seq: number }>('reading snapshots', 'SELECT seq FROM snapshots WHERE seq > $1 ORDER BY seq LIMIT 1', [seq]);
      return result.rows[0]?.seq ?? null;
    },

    async loadSnapshot(seq) {
      const rows = await copy('reading a snapshot',
        `SELECT canvas_encoding, width, height, canvas FROM snapshots WHERE seq = ${sqlInteger(seq)}`, 4);
      const row = rows[0];
      if (!row) throw new StoreUnavailable(`snapshot ${seq} does not exist`);
      let encoding: string, width: number, height: number, canvas: Uint8Array | null;
      try {
        [encoding, width, height, canvas] = [copyText(row[0] ?? null), copyInt4(row[1] ?? null), copyInt4(row[2] ?? null), row[3] ?? null];
      } catch (cause) {
        throw new StoreUnavailable(`snapshot ${seq} row is malformed: ${(cause as Error).message}`, { cause });
      }
      if (canvas === null) throw new StoreUnavailable(`snapshot ${seq} has no canvas`);
      return decodeSnapshotCanvas(encoding, canvas, width, height, seq);
    },

    async tail(afterSeq, untilSeq, time, region?: Region): Promise<Tail> {
      if (untilSeq <= afterSeq) return { changes: [], lastSeq: afterSeq };
      // One statement: the chunks after `afterSeq`, up to and including the first one holding an event placed
      // after `time` (the prefix stops inside it), and none beyond `untilSeq`. At most a snapshot interval of
      // chunks is scanned for that stop, along the unique index on last_seq.
      const until = Number.isFinite(untilSeq) ? untilSeq : Number.MAX_SAFE_INTEGER;
      const after = sqlInteger(afterSeq), upTo = sqlInteger(until);
      const stopAt = Number.isFinite(time) ? sqlTimestamp(time) : `'infinity'::timestamptz`;
      // Chunks already in memory come back as NULL (never detoasted nor sent).
      const rows = await copy('reading the tail',
        `SELECT first_seq, last_seq, CASE WHEN first_seq = ANY(${sqlInt8Array(chunkCache.keys())}) THEN NULL ELSE packed END AS packed FROM event_chunks
         WHERE last_seq > ${after} AND first_seq <= ${upTo}
           AND last_seq <= coalesce((SELECT last_seq FROM event_chunks WHERE last_seq > ${after} AND first_seq <= ${upTo} AND max_placed_at > ${stopAt}
                                     ORDER BY last_seq LIMIT 1), 9223372036854775807)
         ORDER BY last_seq`, 3);
      const chunks: StoredChunk[] = [];
      for (const r of rows) {
        let firstSeq: number, lastSeq: number;
        try {
          firstSeq = copyInt8(r[0] ?? null);
          lastSeq = copyInt8(r[1] ?? null);
        } catch (cause) {
          throw new StoreUnavailable(`history chunks are corrupt: ${(cause as Error).message}`, { cause });
        }
        let packed: Uint8Array | null = r[2] ?? null;
        const hit = packed === null ? chunkCache.get(firstSeq) : undefined;
        if (hit && hit.lastSeq === lastSeq) {
          packed = hit.packed;
          chunkCache.delete(firstSeq);
          chunkCache.set(firstSeq, hit);
        } else {
          if (packed === null) {
            // Evicted meanwhile, or a rebuild cut this range differently: read it alone.
            const again = await copy('reading the tail', `SELECT packed FROM event_chunks WHERE first_seq = ${sqlInteger(firstSeq)} AND last_seq = ${sqlInteger(lastSeq)}`, 1);
            packed = again[0]?.[0] ?? null;
            if (packed === null) throw new StoreUnavailable(`event chunk ${firstSeq}-${lastSeq} vanished during a read (history rebuilt?); retry`);
          }
          cacheChunk(firstSeq, lastSeq, packed);
        }
        chunks.push({ firstSeq, lastSeq, packed });
      }
      let unpacked;
      try {
        unpacked = unpackTail(chunks, afterSeq, until, time, region);
      } catch (cause) {
        throw new StoreUnavailable(`history chunks are corrupt: ${(cause as Error).message}`, { cause });
      }
      let lastSeq: number;
      if (unpacked.stopSeq !== null) lastSeq = unpacked.stopSeq - 1;
      else if (Number.isFinite(untilSeq)) lastSeq = untilSeq;
      else lastSeq = Math.max(afterSeq, ...chunks.slice(-1).map((c) => c.lastSeq));
      return { changes: unpacked.changes, lastSeq: Math.max(lastSeq, afterSeq) };
    },

    async tailMaxPlacedAt(afterSeq, untilSeq) {
      if (untilSeq <= afterSeq) return 0;
      const result = await query<{ m: number | null }>('reading the tail',
        'SELECT (extract(epoch FROM max(placed_at)) * 1000)::bigint AS m FROM events WHERE seq > $1 AND seq <= $2', [afterSeq, untilSeq]);
      return Number(result.rows[0]?.m ?? 0);
    },

    async pixelHistory(x, y, beforeSeq, limit): Promise<readonly Placement[]> {
      try {
        const rows = await db.selectFrom('events')
          .select(['seq', 'kind', 'color', 'user_id', 'placed_at'])
          .where('x', '=', x).where('y', '=', y).where('seq', '<', beforeSeq)
          .orderBy('seq', 'desc').limit(limit)
          .execute();
        return rows.map((r) => ({ seq: Number(r.seq), kind: r.kind, color: r.color, userId: r.user_id, placedAt: r.placed_at.getTime() }));
      } catch (cause) {
        throw unavailable('reading pixel history', cause);
      }
    },

    async summary(projection) {
      const result = await query<{ position: number | null; first: number | null; last: number | null; snap_max: number | null; snapshots: number }>('reading the summary', `
        SELECT (SELECT seq FROM projection_positions WHERE name = $1) AS position,
               (SELECT (extract(epoch FROM placed_at) * 1000)::bigint FROM events ORDER BY seq LIMIT 1) AS first,
               (SELECT (extract(epoch FROM placed_at) * 1000)::bigint FROM events ORDER BY seq DESC LIMIT 1) AS last,
               (SELECT (extract(epoch FROM max_placed_at) * 1000)::bigint FROM snapshots ORDER BY seq DESC LIMIT 1) AS snap_max,
               (SELECT count(*) FROM snapshots) AS snapshots`, [projection]);
      const row = result.rows[0];
      const last = row?.last == null ? null : Math.max(Number(row.last), Number(row.snap_max ?? 0));
      return {
        position: Number(row?.position ?? 0),
        firstPlacedAt: row?.first == null ? null : Number(row.first),
        lastPlacedAt: last,
        snapshots: Number(row?.snapshots ?? 0),
      };
    },

    async reset(projection) {
      const client = await pool.connect().catch((cause: unknown) => { throw unavailable('connecting', cause); });
      try {
        await client.query('BEGIN');
        await client.query('TRUNCATE events, snapshots, event_chunks');
        chunkCache.clear();
        chunkCached = 0;
        await client.query('DELETE FROM projection_positions WHERE name = $1', [projection]);
        await client.query('COMMIT');
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw unavailable('resetting history', cause);
      } finally {
        client.release();
      }
    },
  };
}
