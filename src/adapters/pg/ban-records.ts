/**
 * The durable record of bans in Postgres (table `bans`, migrations/0005_bans.ts). The edges never read it
 * per placement: they read Redis, which the durable ban store (src/adapters/redis/ban-store.ts) rebuilds
 * from here. Every failure is a `StoreUnavailable`.
 */
import { Kysely, PostgresDialect, type ColumnType } from 'kysely';
import type pg from 'pg';
import type { BanMode } from '../../ports/auth.ts';
import { StoreUnavailable } from '../../ports/errors.ts';

interface BansDatabase {
  bans: { user_id: string; mode: BanMode; banned_at: ColumnType<Date, Date | undefined, Date> };
}

export interface BanRecords {
  put(userId: string, mode: BanMode): Promise<void>;
  /** `true` when a ban was lifted. */
  remove(userId: string): Promise<boolean>;
  all(): Promise<readonly { readonly userId: string; readonly mode: BanMode }[]>;
}

const unavailable =
  (what: string) =>
  (cause: unknown): never => {
    throw new StoreUnavailable(`Postgres could not ${what}: ${(cause as Error).message}`, { cause });
  };

export function createPgBanRecords(pool: pg.Pool, schema: string): BanRecords {
  const db = new Kysely<BansDatabase>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
  return {
    async put(userId, mode) {
      await db
        .insertInto('bans')
        .values({ user_id: userId, mode })
        .onConflict((c) => c.column('user_id').doUpdateSet({ mode, banned_at: new Date() }))
        .execute()
        .catch(unavailable('store a ban'));
    },
    async remove(userId) {
      const result = await db
        .deleteFrom('bans')
        .where('user_id', '=', userId)
        .executeTakeFirst()
        .catch(unavailable('lift a ban'));
      return result.numDeletedRows > 0n;
    },
    async all() {
      const rows = await db
        .selectFrom('bans')
        .select(['user_id', 'mode'])
        .execute()
        .catch(unavailable('read the bans'));
      return rows.map((r) => ({ userId: r.user_id, mode: r.mode }));
    },
  };
}
