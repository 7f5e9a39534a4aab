/**
 * Bans (issue 11): the durable record. Redis holds the hot-path copy the edges read on every placement
 * (src/adapters/redis/ban-store.ts), rebuilt from this table whenever Redis comes back without it, so a
 * Redis restart or flush no longer lifts every ban.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE bans (
      user_id text PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 64),
      mode text NOT NULL CHECK (mode IN ('ban', 'shadow')),
      banned_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE bans`.execute(db);
}
