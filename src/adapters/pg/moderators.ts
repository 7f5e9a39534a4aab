/**
 * Moderator roles and the moderator action log in Postgres (migrations/0007_moderators.ts). Every failure
 * is a `StoreUnavailable`; a grant to a user id with no account (foreign-key violation 23503) is `false`.
 */
import { Kysely, PostgresDialect, type ColumnType, type Generated } from 'kysely';
import type pg from 'pg';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { ModeratorActionKind, ModeratorActions, ModeratorRoles } from '../../ports/moderation.ts';

interface ModeratorsDatabase {
  account_roles: {
    user_id: string;
    role: 'moderator';
    granted_by: string;
    granted_at: ColumnType<Date, Date | undefined, Date>;
  };
  moderator_actions: {
    id: Generated<string>;
    at: ColumnType<Date, Date | undefined, never>;
    moderator_id: string;
    action: ModeratorActionKind;
    target_id: string;
    idempotency_key: string | null;
  };
}

const unavailable =
  (what: string) =>
  (cause: unknown): never => {
    throw new StoreUnavailable(`Postgres could not ${what}: ${(cause as Error).message}`, { cause });
  };

function database(pool: pg.Pool, schema: string): Kysely<ModeratorsDatabase> {
  return new Kysely<ModeratorsDatabase>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
}

export function createPgModeratorRoles(pool: pg.Pool, schema: string): ModeratorRoles {
  const db = database(pool, schema);
  return {
    async isModerator(userId) {
      const row = await db
        .selectFrom('account_roles')
        .select('role')
        .where('user_id', '=', userId)
        .executeTakeFirst()
        .catch(unavailable('read a role'));
      return row?.role === 'moderator';
    },
    async grant(userId, grantedBy) {
      try {
        await db
          .insertInto('account_roles')
          .values({ user_id: userId, role: 'moderator', granted_by: grantedBy })
          .onConflict((c) => c.column('user_id').doNothing())
          .execute();
        return true;
      } catch (cause) {
        if ((cause as { code?: string }).code === '23503') return false;
        return unavailable('grant a role')(cause);
      }
    },
    async revoke(userId) {
      const result = await db
        .deleteFrom('account_roles')
        .where('user_id', '=', userId)
        .executeTakeFirst()
        .catch(unavailable('revoke a role'));
      return result.numDeletedRows > 0n;
    },
  };
}

export function createPgModeratorActions(pool: pg.Pool, schema: string): ModeratorActions {
  const db = database(pool, schema);
  return {
    async record(action, idempotencyKey) {
      const result = await db
        .insertInto('moderator_actions')
        .values({
          moderator_id: action.moderatorId,
          action: action.action,
          target_id: action.targetId,
          idempotency_key: idempotencyKey ?? null,
        })
        .onConflict((c) => c.column('idempotency_key').doNothing())
        .executeTakeFirst()
        .catch(unavailable('record a moderator action'));
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },
    async recent(limit) {
      const rows = await db
        .selectFrom('moderator_actions')
        .select(['at', 'moderator_id', 'action', 'target_id'])
        .orderBy('at', 'desc')
        .orderBy('id', 'desc')
        .limit(limit)
        .execute()
        .catch(unavailable('read the moderator actions'));
      return rows.map((r) => ({
        at: r.at.getTime(),
        moderatorId: r.moderator_id,
        action: r.action,
        targetId: r.target_id,
      }));
    },
  };
}
