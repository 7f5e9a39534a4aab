/**
 * Runs the migrations in `migrations/` against a canvas's schema: creates the schema, then Kysely's migrator
 * with its bookkeeping tables inside that schema. Idempotent; concurrent callers (several roles starting at
 * once) serialise on an advisory lock. A failed migration throws `MigrationFailed` with the migration's name
 * and cause, which stops the process (see `runRole`).
 */
import { Kysely, Migrator, PostgresDialect, sql, type MigrationResult, type MigrationResultSet } from 'kysely';
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
  const { error, results } = await migrateIgnoringDropsElsewhere(migrator, schema);
  const applied = (results ?? []).filter((r: MigrationResult) => r.status === 'Success').map((r) => r.migrationName);
  if (error) {
    const failed = (results ?? []).find((r) => r.status === 'Error')?.migrationName ?? '(migrator)';
    throw new MigrationFailed(
      `migration ${failed} failed in schema ${schema}: ${(error as Error).message ?? String(error)}`,
      { cause: error },
    );
  }
  return { applied };
}

/**
 * `migrator.migrateToLatest()`, tried again while it fails on another schema. Kysely's migrator checks for its
 * tables by introspecting every schema of the database (with `pg_get_serial_sequence` per column), which fails
 * when another canvas's schema is dropped at that moment ("schema … does not exist", seen with parallel test
 * files). Nothing of ours was touched.
 */
export async function migrateIgnoringDropsElsewhere(migrator: Migrator, schema: string): Promise<MigrationResultSet> {
  let outcome = await migrator.migrateToLatest();
  for (let attempt = 1; attempt < 5 && droppedElsewhere(outcome.error, schema); attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
    outcome = await migrator.migrateToLatest();
  }
  return outcome;
}

/** The error of a concurrent `DROP SCHEMA` of a schema other than `ours`, during the migrator's introspection. */
function droppedElsewhere(error: unknown, ours: string): boolean {
  if (!error) return false;
  const message = (error as Error).message ?? '';
  const match = /schema "([^"]+)" does not exist|relation "([^"]+)\.[^"]*" does not exist/.exec(message);
  const other = match?.[1] ?? match?.[2];
  return other !== undefined && other !== ours;
}
