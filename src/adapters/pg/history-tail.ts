/**
 * The tail reads of the history store: the events after a snapshot, up to an instant, read as the packed
 * chunks (./event-chunks.ts) the batch transaction writes, in one binary COPY (node-postgres would receive
 * their `bytea` as hex text and spend more time decoding it than Postgres takes to produce it). Chunks cover
 * a fixed sequence range and never change once written, so the ones read are kept in memory (a byte budget)
 * and not sent again.
 */
import { sql } from 'kysely';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { HistoryStore, Tail } from '../../ports/history.ts';
import type { Region } from '../../domain/region.ts';
import type { PgConnection } from './connect.ts';
import { copyInt8 } from '../../domain/codecs/copy-binary.ts';
import { sqlInt8Array, sqlInteger, sqlTimestamp } from './copy-out.ts';
import { unpackTail, type StoredChunk } from '../../domain/history/event-chunks.ts';
import { copyRead, reading } from './history-sql.ts';

export interface TailReads extends Pick<HistoryStore, 'tail' | 'tailMaxPlacedAt'> {
  /** Forgets every cached chunk (a reset re-cuts the ranges). */
  clearCache(): void;
}

export interface TailReadOptions {
  /**
   * Bytes of packed chunks kept in memory (default 32 MB ≈ 1.8M events). Cached ones are not re-read (the
   * tail query returns NULL for them), which makes nearby instants (the time slider) and timelapses cheap.
   * Keyed by (first_seq, last_seq): a rebuild that cut chunks differently only misses.
   */
  readonly chunkCacheBytes?: number;
}

export function createPgTailReads(conn: PgConnection, options: TailReadOptions = {}): TailReads {
  const chunkCacheBytes = options.chunkCacheBytes ?? 32 * 1024 * 1024;
  const chunkCache = new Map<number, { lastSeq: number; packed: Uint8Array }>();
  let chunkCached = 0;
  const copy = (what: string, select: string, columns: number) => copyRead(conn, what, select, columns);

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
  return {
    async tail(afterSeq, untilSeq, time, region?: Region): Promise<Tail> {
      if (untilSeq <= afterSeq) return { changes: [], lastSeq: afterSeq };
      // One statement: the chunks after `afterSeq`, up to and including the first one holding an event placed
      // after `time` (the prefix stops inside it), and none beyond `untilSeq`. At most a snapshot interval of
      // chunks is scanned for that stop, along the unique index on last_seq.
      const until = Number.isFinite(untilSeq) ? untilSeq : Number.MAX_SAFE_INTEGER;
      const after = sqlInteger(afterSeq),
        upTo = sqlInteger(until);
      const stopAt = Number.isFinite(time) ? sqlTimestamp(time) : `'infinity'::timestamptz`;
      // Chunks already in memory come back as NULL (never detoasted nor sent).
      // COPY, not Kysely: the packed `bytea` would arrive as hex text (see above). COPY takes no parameters,
      // hence the sqlInteger/sqlTimestamp literals (digits and ISO timestamps only).
      const rows = await copy(
        'reading the tail',
        `SELECT first_seq, last_seq, CASE WHEN first_seq = ANY(${sqlInt8Array(chunkCache.keys())}) THEN NULL ELSE packed END AS packed FROM event_chunks
         WHERE last_seq > ${after} AND first_seq <= ${upTo}
           AND last_seq <= coalesce((SELECT last_seq FROM event_chunks WHERE last_seq > ${after} AND first_seq <= ${upTo} AND max_placed_at > ${stopAt}
                                     ORDER BY last_seq LIMIT 1), 9223372036854775807)
         ORDER BY last_seq`,
        3,
      );
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
            const again = await copy(
              'reading the tail',
              `SELECT packed FROM event_chunks WHERE first_seq = ${sqlInteger(firstSeq)} AND last_seq = ${sqlInteger(lastSeq)}`,
              1,
            );
            packed = again[0]?.[0] ?? null;
            if (packed === null)
              throw new StoreUnavailable(
                `event chunk ${firstSeq}-${lastSeq} vanished during a read (history rebuilt?); retry`,
              );
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
      const row = await reading('reading the tail', () =>
        conn.db
          .selectFrom('events')
          .select(sql<number | null>`(extract(epoch FROM max(placed_at)) * 1000)::bigint`.as('m'))
          .where('seq', '>', afterSeq)
          .where('seq', '<=', untilSeq)
          .executeTakeFirst(),
      );
      return Number(row?.m ?? 0);
    },

    clearCache() {
      chunkCache.clear();
      chunkCached = 0;
    },
  };
}
