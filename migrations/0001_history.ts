/**
 * History tables (issue 5). Runs with `search_path` set to the canvas's schema (see `src/adapters/pg/connect.ts`),
 * so names are unqualified and one canvas never sees another's tables.
 *
 * - `events`: one row per stream sequence, range-partitioned by `placed_at` (daily partitions, created ahead by
 *   the projector; `events_default` only catches what has no partition yet). The primary key must contain the
 *   partition key, so it is `(seq, placed_at)`: a redelivered event carries the same `placed_at`, so
 *   `ON CONFLICT DO NOTHING` still makes a replayed batch a no-op. `(seq)` order also serves tail replays;
 *   `(x, y, seq DESC)` serves per-pixel history newest first; BRIN on `placed_at` serves time-range scans.
 * - `snapshots`: the projector's in-memory canvas, deflated, labelled with the sequence it reflects and the
 *   largest `placed_at` among events ≤ that sequence (the rule for "canvas at instant T" needs it).
 *   `STORAGE EXTERNAL`: the bytes are already deflated; TOAST compression would only burn CPU.
 * - `projection_positions`: last sequence written, updated in the same transaction as the rows.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE events (
      seq bigint NOT NULL,
      kind smallint NOT NULL,
      x smallint NOT NULL,
      y smallint NOT NULL,
      color smallint NOT NULL,
      user_id text NOT NULL,
      placed_at timestamptz NOT NULL,
      stored_at timestamptz NOT NULL,
      PRIMARY KEY (seq, placed_at)
    ) PARTITION BY RANGE (placed_at)`.execute(db);
  await sql`CREATE INDEX events_pixel ON events (x, y, seq DESC)`.execute(db);
  await sql`CREATE INDEX events_placed_at ON events USING brin (placed_at)`.execute(db);
  await sql`CREATE TABLE events_default PARTITION OF events DEFAULT`.execute(db);
  await sql`
    CREATE TABLE snapshots (
      seq bigint PRIMARY KEY,
      captured_at timestamptz NOT NULL,
      max_placed_at timestamptz NOT NULL,
      pixel_count bigint NOT NULL,
      width integer NOT NULL,
      height integer NOT NULL,
      canvas bytea NOT NULL
    )`.execute(db);
  await sql`ALTER TABLE snapshots ALTER COLUMN canvas SET STORAGE EXTERNAL`.execute(db);
  await sql`CREATE INDEX snapshots_max_placed_at ON snapshots (max_placed_at, seq)`.execute(db);
  await sql`
    CREATE TABLE projection_positions (
      name text PRIMARY KEY,
      seq bigint NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS projection_positions, snapshots, events`.execute(db);
}
