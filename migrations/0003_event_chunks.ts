/**
 * Packed event chunks (layout: src/domain/history/event-chunks.ts): one row per committed batch holding its
 * events as 18-byte records, so the point-in-time tail is a few sequential `bytea` reads instead of up to
 * ~100K row reads. Chunks are disjoint in sequence, so `last_seq` orders them like `first_seq`; the unique
 * index on it serves "the chunks after sequence S, in order" and "the first of them with an event placed
 * after T" (a scan of at most a snapshot interval of chunks). `STORAGE EXTERNAL`: random pixels do not
 * compress, and uncompressed TOAST reads are straight copies.
 *
 * Schemas that already hold events get their chunks here, built by SQL in groups of 4,096 sequences with
 * exactly the bytes the projector writes (the cost is one pass over `events`, once).
 */
import { sql, type Kysely } from 'kysely';

/** Builds chunks for every event not covered yet (`events` newer than the last chunk). */
export const BACKFILL_CHUNKS_SQL = `
  INSERT INTO event_chunks (first_seq, last_seq, min_placed_at, max_placed_at, count, packed)
  SELECT min(seq), max(seq), min(placed_at), max(placed_at), count(*),
         string_agg(int4send((seq - first)::int4) || int2send(x) || int2send(y) || int2send(color)
                    || float8send(round(extract(epoch FROM placed_at) * 1000)::float8), ''::bytea ORDER BY seq)
  FROM (SELECT seq, x, y, color, placed_at, min(seq) OVER (PARTITION BY (seq - 1) / 4096) AS first, (seq - 1) / 4096 AS g
        FROM events WHERE seq > (SELECT coalesce(max(last_seq), 0) FROM event_chunks)) e
  GROUP BY g`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE event_chunks (
      first_seq bigint PRIMARY KEY,
      last_seq bigint NOT NULL,
      min_placed_at timestamptz NOT NULL,
      max_placed_at timestamptz NOT NULL,
      count integer NOT NULL,
      packed bytea NOT NULL,
      CHECK (last_seq >= first_seq AND octet_length(packed) = count * 18)
    )`.execute(db);
  await sql`ALTER TABLE event_chunks ALTER COLUMN packed SET STORAGE EXTERNAL`.execute(db);
  await sql`CREATE UNIQUE INDEX event_chunks_last_seq ON event_chunks (last_seq)`.execute(db);
  await sql.raw(BACKFILL_CHUNKS_SQL).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS event_chunks`.execute(db);
}
