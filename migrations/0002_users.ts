/**
 * Accounts (issue 6). Runs with `search_path` set to the canvas's schema, like every migration here.
 * Usernames are unique case-insensitively (`lower(username)`), so "Alice" and "alice" are one account;
 * the display form is kept as registered. `password_hash` is the self-describing scrypt string from
 * src/app/auth/password.ts. Bans, sessions and rate buckets live in Redis (hot-path reads); this table is
 * the durable record that must survive anything.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE users (
      user_id text PRIMARY KEY CHECK (octet_length(user_id) BETWEEN 1 AND 64),
      username text NOT NULL CHECK (char_length(username) BETWEEN 3 AND 24),
      password_hash text NOT NULL CHECK (octet_length(password_hash) <= 256),
      created_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`CREATE UNIQUE INDEX users_username_lower ON users (lower(username))`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE users`.execute(db);
}
