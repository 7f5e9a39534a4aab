/**
 * `PlacementLog` on the history's `events` table: every placement in sequence order, streamed by one
 * `COPY (SELECT … ORDER BY seq) TO STDOUT (FORMAT binary)` and parsed chunk by chunk as it arrives.
 *
 * Why `events` and not the packed chunks (./event-chunks.ts): the chunks hold 18-byte records without the
 * user id, which the dataset must carry; `events` is the only store that has it. Binary COPY is the fastest
 * way out of Postgres (node-postgres's row protocol parses every value as text; COPY hands over raw bytes),
 * and the `(seq, placed_at)` primary key of each daily partition serves the ordered range read.
 *
 * Memory is bounded whatever the range: the COPY stream is read only as fast as batches are consumed
 * (pg-copy-streams pauses the socket past its high-water mark, and TCP then stops Postgres), and one batch
 * of at most `batchRows` rows is held. Ending the iteration early sends Postgres a cancel request and throws
 * the connection away, so the backend stops at once instead of finishing the scan.
 *
 * ## Row layout of this COPY (binary format: ./copy-binary.ts; all big-endian)
 *
 *   i16 7 (fields) | i32 8, i64 seq | i32 2, i16 kind | i32 2, i16 x | i32 2, i16 y | i32 2, i16 color
 *   | i32 L, L bytes user_id (UTF-8) | i32 8, i64 placed_at (µs since 2000-01-01 UTC, `timestamptz_send`)
 */
import pg from 'pg';
import { copyToStream } from './copy-to-stream.ts';
import type { PlacementBatch } from '../../domain/history/placement-batch.ts';
import type { PlacementLog } from '../../ports/export.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { Region } from '../../domain/region.ts';
import type { PgConnection } from './connect.ts';
import { COPY_BINARY_SIGNATURE, CopyFormatError } from '../../domain/codecs/copy-binary.ts';
import { formatInWorkers } from './export-workers.ts';
import { sqlInteger } from './copy-out.ts';
import { newParseBatch, PlacementCopyParser } from './placement-copy.ts';

export { newParseBatch, type ParseBatch, PlacementCopyParser } from './placement-copy.ts';

/** `pg_cancel_backend` from a connection of its own (not the pool's: it may be full); best effort. */
async function cancelBackend(pool: pg.Pool, pid: number | null): Promise<void> {
  if (pid === null) return;
  const client = new pg.Client(pool.options);
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The connection is thrown away below all the same; Postgres then stops at its next write.
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface PgPlacementLogOptions {
  /** Rows per batch (and per worker run). */
  readonly batchRows?: number;
  /**
   * Worker threads that format the text formats (./export-workers.ts); 0: no `formatted` method, every
   * export is parsed and formatted on the calling thread.
   */
  readonly workers?: number;
}

export function createPgPlacementLog(
  conn: PgConnection,
  projection: string,
  options: PgPlacementLogOptions = {},
): PlacementLog {
  const { pool } = conn;
  const batchRows = options.batchRows ?? 8_192;
  const workers = options.workers ?? 0;

  /**
   * The binary COPY of the export's SELECT, chunk by chunk as Postgres sends it, in one read-only
   * transaction. Ending the iteration early cancels the statement and throws the connection away.
   */
  async function* copyOf(afterSeq: number, untilSeq: number, region?: Region): AsyncGenerator<Buffer> {
    const where = [`seq > ${sqlInteger(afterSeq)}`, `seq <= ${sqlInteger(untilSeq)}`];
    if (region) {
      where.push(
        `x >= ${sqlInteger(region.x)}`,
        `x < ${sqlInteger(region.x + region.w)}`,
        `y >= ${sqlInteger(region.y)}`,
        `y < ${sqlInteger(region.y + region.h)}`,
      );
    }
    const select = `SELECT seq, kind, x, y, color, user_id, placed_at FROM events WHERE ${where.join(' AND ')} ORDER BY seq`;
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (cause) {
      throw new StoreUnavailable(`postgres connecting failed: ${(cause as Error).message}`, { cause });
    }
    try {
      // An export may stream for hours: the pool's statement timeout (a guard for short reads) is lifted
      // for this one read-only transaction, which also reads one consistent snapshot.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await client.query('SET LOCAL statement_timeout = 0');
    } catch (cause) {
      client.release(true);
      throw new StoreUnavailable(`postgres starting the export failed: ${(cause as Error).message}`, { cause });
    }
    const stream = client.query(copyToStream(`COPY (${select}) TO STDOUT (FORMAT binary)`));
    let finished = false;
    try {
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) yield chunk;
        await client.query('COMMIT');
      } catch (cause) {
        throw new StoreUnavailable(`postgres export read failed: ${(cause as Error).message}`, { cause });
      }
      finished = true;
    } finally {
      if (!finished) {
        // Stopped early (the consumer went away) or failed: cancel the statement now rather than let the
        // backend finish its scan, and never hand this half-read connection to anyone else.
        // node-postgres keeps the backend pid on the client; @types/pg does not declare it.
        void cancelBackend(pool, (client as typeof client & { processID?: number | null }).processID ?? null);
        stream.destroy();
      }
      client.release(!finished);
    }
  }

  const log: PlacementLog = {
    async lastSeq() {
      try {
        const result = await pool.query<{ seq: number }>('SELECT seq FROM projection_positions WHERE name = $1', [
          projection,
        ]);
        return Number(result.rows[0]?.seq ?? 0);
      } catch (cause) {
        throw new StoreUnavailable(`postgres reading the position failed: ${(cause as Error).message}`, { cause });
      }
    },

    async *placements(afterSeq: number, untilSeq: number, region?: Region): AsyncGenerator<PlacementBatch> {
      if (untilSeq <= afterSeq) return;
      const parser = new PlacementCopyParser();
      const batch = newParseBatch(batchRows);
      try {
        for await (const chunk of copyOf(afterSeq, untilSeq, region)) {
          parser.push(chunk);
          for (;;) {
            const full = parser.parse(batch);
            if (!full) break;
            yield batch;
            batch.count = 0;
          }
        }
        while (parser.parse(batch)) {
          yield batch;
          batch.count = 0;
        }
        if (!parser.ended)
          throw new CopyFormatError(`binary COPY output ended inside a row (${parser.pending} bytes left)`);
        if (batch.count > 0) yield batch;
      } catch (cause) {
        if (cause instanceof StoreUnavailable) throw cause;
        throw new StoreUnavailable(`postgres export read failed: ${(cause as Error).message}`, { cause });
      }
    },
  };
  if (workers > 0) {
    return {
      ...log,
      formatted(afterSeq, untilSeq, region, text) {
        return formatInWorkers(untilSeq <= afterSeq ? empty() : copyOf(afterSeq, untilSeq, region), text, {
          workers,
          rowsPerRun: batchRows,
        });
      },
    };
  }
  return log;
}

/** A COPY of no rows (an empty range: the statement is not even run). */
async function* empty(): AsyncGenerator<Buffer> {
  yield Buffer.concat([Buffer.from(COPY_BINARY_SIGNATURE), Buffer.alloc(8), Buffer.from([0xff, 0xff])]);
}
