/**
 * Accounts in Postgres (table `users`, migrations/0002_users.ts), through a Kysely bound to the canvas's
 * schema. A taken username is the unique-violation 23505 on `users_username_lower`, turned into `false`.
 */
import { Kysely, PostgresDialect, sql, type ColumnType } from 'kysely';
import type pg from 'pg';
import type { Account, UserStore } from '../../ports/auth.ts';

export interface AccountsDatabase {
  users: {
    user_id: string;
    username: string;
    password_hash: string;
    created_at: ColumnType<Date, Date, never>;
  };
}

function toAccount(row: { user_id: string; username: string; password_hash: string; created_at: Date }): Account {
  return {
    userId: row.user_id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at.getTime(),
  };
}

/** `pool` must have `search_path` set to the canvas schema (see connectPg). */
export function createPgUserStore(pool: pg.Pool, schema: string): UserStore {
  const db = new Kysely<AccountsDatabase>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
  const columns = ['user_id', 'username', 'password_hash', 'created_at'] as const;
  return {
    async create(account) {
      try {
        await db
          .insertInto('users')
          .values({
            user_id: account.userId,
            username: account.username,
            password_hash: account.passwordHash,
            created_at: new Date(account.createdAt),
          })
          .execute();
        return true;
      } catch (error) {
        if ((error as { code?: string }).code === '23505') return false;
        throw error;
      }
    },
    async findByUsername(username) {
      const row = await db
        .selectFrom('users')
        .select(columns)
        .where(sql<string>`lower(username)`, '=', username.toLowerCase())
        .executeTakeFirst();
      return row === undefined ? null : toAccount(row);
    },
    async findById(userId) {
      const row = await db.selectFrom('users').select(columns).where('user_id', '=', userId).executeTakeFirst();
      return row === undefined ? null : toAccount(row);
    },
    async usernamesOf(userIds) {
      if (userIds.length === 0) return new Map();
      const rows = await db
        .selectFrom('users')
        .select(['user_id', 'username'])
        .where('user_id', 'in', [...userIds])
        .execute();
      return new Map(rows.map((r) => [r.user_id, r.username]));
    },
  };
}
