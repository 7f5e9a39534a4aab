/**
 * Runs the migrations in `migrations/` against a canvas's schema: creates the schema, then Kysely's migrator
 * with its bookkeeping tables inside that schema. Idempotent; concurrent callers (several roles starting at
 * once) serialise on an advisory lock. A failed migration throws `MigrationFailed` with the migration's name
 * and cause, which stops the process (see `runRole`).
 */
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResult } from 'kysely';
import type pg from 'pg';
import { migrations } from '../../../migrations/index.ts';
import { quoteIdent } from './connect.ts';

export class MigrationFailed extends Error {
  override readonly name = 'MigrationFailed';
}

export interface MigrateOutcome {
  readonly applied: readonly string[];
}

export async function migrateToLatest(pool: pg.Pool, schema: string): Promise<MigrateOutcome> {
  // A dedicated Kysely over the same pool, unbound: the migrator manages its own schema option.
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  await db.connection().execute(async (conn) => {
    await sql`SELECT pg_advisory_lock(hashtext(${`rplace-migrate:${schema}`}))`.execute(conn);
    try {
      await sql.raw(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`).execute(conn);
    } finally {
      await sql`SELECT pg_advisory_unlock(hashtext(${`rplace-migrate:${schema}`}))`.execute(conn);
    }
  });
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => ({ ...migrations }) },
    migrationTableSchema: schema,
  });
  const { error, results } = await migrator.migrateToLatest();
  const applied = (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error')?.migrationName ?? '(migrator)';
    throw new MigrationFailed(`migration ${failed} failed in schema ${schema}: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  return { applied };
}
