/**
 * Moderators (issue 15): `account_roles` holds the accounts granted a role (only `moderator` for now); an
 * account without a row is a player, a guest (no account) can never hold one. Granted and revoked with
 * `rplace mod grant|revoke`, read by the edge on EVERY moderator request (a primary-key lookup), so a revoke
 * takes effect on the next request with no cache to expire.
 *
 * `moderator_actions` is the audit record of the actions that are not events in the canvas stream (bans,
 * shadow bans, unbans, grants, revokes); rollbacks are audited from the stream itself (their
 * `PixelRestored` events carry the moderator and the rollback id). `idempotency_key` makes a retried
 * request (a double click, a lost response) one row.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    CREATE TABLE account_roles (
      user_id text PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
      role text NOT NULL CHECK (role IN ('moderator')),
      granted_by text NOT NULL CHECK (octet_length(granted_by) BETWEEN 1 AND 64),
      granted_at timestamptz NOT NULL DEFAULT now()
    )`.execute(db);
  await sql`
    CREATE TABLE moderator_actions (
      id bigserial PRIMARY KEY,
      at timestamptz NOT NULL DEFAULT now(),
      moderator_id text NOT NULL CHECK (octet_length(moderator_id) BETWEEN 1 AND 64),
      action text NOT NULL CHECK (action IN ('ban', 'shadow', 'unban', 'grant', 'revoke')),
      target_id text NOT NULL CHECK (octet_length(target_id) BETWEEN 1 AND 64),
      idempotency_key text UNIQUE CHECK (octet_length(idempotency_key) <= 128)
    )`.execute(db);
  await sql`CREATE INDEX moderator_actions_at ON moderator_actions (at DESC)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS moderator_actions, account_roles`.execute(db);
}
