/**
 * Connecting to Postgres for one canvas: a `pg` pool whose every connection has `search_path` set to the
 * canvas's schema (so raw SQL and migrations use unqualified names and can never touch another canvas),
 * and a Kysely instance over it bound to the same schema.
 *
 * Start-up fails fast with `ServiceUnreachable`; afterwards the pool rides out restarts (a broken idle
 * client is dropped and logged, never an unhandled 'error' event).
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Logger } from 'pino';
import { ServiceUnreachable } from '../../ports/errors.ts';
import type { HistoryDatabase } from './schema.ts';

// int8 (sequences, counts) as JS numbers: sequences stay far below 2^53.
pg.types.setTypeParser(20, (value) => Number(value));

export interface PgConnection {
  readonly pool: pg.Pool;
  readonly db: Kysely<HistoryDatabase>;
  readonly schema: string;
  close(): Promise<void>;
}

export interface PgOptions {
  readonly max?: number;
  /** Per-statement timeout in ms (default 60 s): a hung query fails instead of wedging the caller. */
  readonly statementTimeoutMs?: number;
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * A lost Postgres connection must never crash the process: node-postgres emits `error` on the pool for idle
 * clients, and on the client itself for one that is checked out (between two statements of a transaction,
 * say), where an unhandled `error` event kills Node. Every client gets a listener when it connects; the
 * statement in flight fails on its own and the use case turns that into `StoreUnavailable`.
 */
export function survivePgDisconnects(pool: pg.Pool, onLost: (error: Error) => void): void {
  pool.on('error', onLost);
  pool.on('connect', (client) => client.on('error', onLost));
}

export async function connectPg(
  url: string,
  schema: string,
  logger: Logger,
  options: PgOptions = {},
): Promise<PgConnection> {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 4,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${quoteIdent(schema)},public -c statement_timeout=${options.statementTimeoutMs ?? 60_000}`,
  });
  survivePgDisconnects(pool, (error) => logger.warn({ err: error.message }, 'postgres connection lost'));
  try {
    const client = await pool.connect();
    client.release();
  } catch (cause) {
    await pool.end().catch(() => undefined);
    throw new ServiceUnreachable(`cannot reach Postgres at ${redact(url)}: ${(cause as Error).message}`, { cause });
  }
  const db = new Kysely<HistoryDatabase>({ dialect: new PostgresDialect({ pool }) }).withSchema(schema);
  let closed = false;
  return {
    pool,
    db,
    schema,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end();
    },
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
