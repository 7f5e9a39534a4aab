/**
 * `COPY (SELECT …) TO STDOUT (FORMAT binary)` on a pool connection, through ./copy-to-stream.ts: the rows' raw
 * bytes, parsed by ./copy-binary.ts. COPY takes no bind parameters, so statements are built with
 * `sqlInteger`/`sqlTimestamp`, which only ever emit digits or an ISO timestamp (never caller text).
 */
import type pg from 'pg';
import { copyToStream } from './copy-to-stream.ts';
import { parseCopyBinary, type CopyField } from '../../domain/codecs/copy-binary.ts';

/** The rows of `query` (a SELECT), each `columns` fields of raw binary values. Rejects with the driver's error. */
export async function copyRows(pool: pg.Pool, query: string, columns: number): Promise<CopyField[][]> {
  return parseCopyBinary(await copyBytes(pool, query), columns);
}

/**
 * The whole binary COPY output of `query` in one buffer that the caller owns (so views into it may be kept or
 * mutated). Rejects with the driver's error.
 */
export async function copyBytes(pool: pg.Pool, query: string): Promise<Buffer> {
  const client = await pool.connect();
  let failed = false;
  try {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const part of client.query(
      copyToStream(`COPY (${query}) TO STDOUT (FORMAT binary)`),
    ) as AsyncIterable<Buffer>) {
      parts.push(part);
      size += part.length;
    }
    return Buffer.concat(parts, size);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    // A COPY cut short may leave protocol state behind: never hand that connection to someone else.
    client.release(failed);
  }
}

/** An integer as an SQL literal; anything else is a programming error. */
export function sqlInteger(value: number): string {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not a safe integer for SQL: ${value}`);
  return String(value);
}

/** A `timestamptz` literal for ms since the epoch. */
export function sqlTimestamp(ms: number): string {
  if (!Number.isFinite(ms)) throw new RangeError(`not a finite time for SQL: ${ms}`);
  return `'${new Date(ms).toISOString()}'::timestamptz`;
}

/** An `int8[]` literal. */
export function sqlInt8Array(values: Iterable<number>): string {
  return `'{${[...values].map(sqlInteger).join(',')}}'::int8[]`;
}
