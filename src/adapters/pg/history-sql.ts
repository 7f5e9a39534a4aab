/**
 * What every part of the Postgres history store (./history-store.ts) shares: how a driver failure becomes a
 * port error (`StoreUnavailable` for an outage, "permanent" for data Postgres will never accept), and the
 * binary COPY read that turns malformed output into a corrupt-store error.
 */
import { sql, type RawBuilder } from 'kysely';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { PgConnection } from './connect.ts';
import { CopyFormatError, type CopyField } from '../../domain/codecs/copy-binary.ts';
import { copyRows } from './copy-out.ts';

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * A write that can never succeed as it is: Postgres refused the data (SQLSTATE class 22 data exception,
 * e.g. 22003 smallint out of range; class 23 integrity constraint), or the driver could not encode a value
 * (a `RangeError` from an invalid date). Everything else (connection refused or lost, shutdown, timeouts)
 * is an outage and worth retrying.
 */
export function isPermanent(cause: unknown): boolean {
  if (cause instanceof RangeError || cause instanceof TypeError) return true;
  const code = (cause as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^(22|23)[0-9A-Z]{3}$/.test(code);
}

export function unavailable(what: string, cause: unknown): StoreUnavailable {
  return new StoreUnavailable(`postgres ${what} failed: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/** Runs one read; any driver failure is `StoreUnavailable` naming `what`. */
export async function reading<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw unavailable(what, cause);
  }
}

/** A binary COPY read; a driver failure is `StoreUnavailable`, malformed COPY output a corrupt-store one. */
export async function copyRead(
  conn: PgConnection,
  what: string,
  select: string,
  columns: number,
): Promise<CopyField[][]> {
  try {
    return await copyRows(conn.pool, select, columns);
  } catch (cause) {
    if (cause instanceof CopyFormatError)
      throw new StoreUnavailable(`${what}: unexpected COPY output: ${cause.message}`, { cause });
    throw unavailable(what, cause);
  }
}

/**
 * A timestamptz column as integer ms since the epoch, rounded by Postgres: the same value every reader got
 * before these reads moved to Kysely (a `Date` from the driver would truncate sub-ms digits instead).
 */
export function epochMs(column: string): RawBuilder<number> {
  return sql<number>`(extract(epoch FROM ${sql.ref(column)}) * 1000)::bigint`;
}
