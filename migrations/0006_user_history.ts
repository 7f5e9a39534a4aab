/**
 * Per-user history (issue 16): a user's placements newest first, a page at a time, need an index led by the
 * user. Created on the partitioned `events`, so every daily partition (present and future) gets its own.
 * Cost: one more btree entry per event written (the history projector's insert), the price of answering
 * "what did this user place" without scanning the whole history.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS events_user ON events (user_id, seq DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX IF EXISTS events_user`.execute(db);
}
