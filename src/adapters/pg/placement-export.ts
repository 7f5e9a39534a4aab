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
import { to as copyTo } from 'pg-copy-streams';
import type { PlacementBatch } from '../../domain/history/placement-batch.ts';
import type { PlacementLog } from '../../ports/export.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { Region } from '../../domain/region.ts';
import type { PgConnection } from './connect.ts';
import { COPY_BINARY_SIGNATURE, CopyFormatError } from '../../domain/codecs/copy-binary.ts';
import { sqlInteger } from './copy-out.ts';
import { MAX_USER_ID_BYTES, UserInterner } from '../../domain/history/user-interner.ts';

const PG_EPOCH_MS = 946_684_800_000;
const FIXED_BEFORE_USER = 38;
const ROW_OVERHEAD = 54;

/** A batch the reader fills (`count` rows of `capacity`), handed out as a `PlacementBatch`. */
export type ParseBatch = { -readonly [K in keyof PlacementBatch]-?: PlacementBatch[K] } & { readonly capacity: number };

export function newParseBatch(capacity: number): ParseBatch {
  return {
    count: 0,
    capacity,
    seq: new Float64Array(capacity),
    kind: new Uint8Array(capacity),
    x: new Uint16Array(capacity),
    y: new Uint16Array(capacity),
    color: new Uint8Array(capacity),
    placedAt: new Float64Array(capacity),
    userId: new Array<string>(capacity),
    userIndex: new Uint32Array(capacity),
    userGeneration: 0,
  };
}

/**
 * Incremental parser of this COPY's output: `push(chunk)` parses every complete row into `batch`, keeps a
 * partial row for the next chunk, and stops early (returning the offset reached) when the batch is full.
 * Pure; exported for unit tests.
 */
export class PlacementCopyParser {
  private headerDone = false;
  private readonly users: UserInterner;
  ended = false;

  /** `users`: the interner of user ids (a small one in tests, to cross generations). */
  constructor(users: UserInterner = new UserInterner()) {
    this.users = users;
  }
  private rest: Buffer = Buffer.alloc(0);

  /** Appends `chunk`; call `parse` until it returns false before pushing again. */
  push(chunk: Buffer): void {
    this.rest = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
  }

  /** Parses rows into `batch` until it is full (true: call again) or the input runs out (false). */
  parse(batch: ParseBatch): boolean {
    const b = this.rest;
    let at = 0;
    if (!this.headerDone) {
      if (b.length < 19) return false;
      for (let i = 0; i < COPY_BINARY_SIGNATURE.length; i++)
        if (b[i] !== COPY_BINARY_SIGNATURE[i]) throw new CopyFormatError('not binary COPY output (bad signature)');
      if ((b.readUInt32BE(11) & 0x1ffff) !== 0) throw new CopyFormatError('binary COPY header has unsupported flags');
      const extension = b.readUInt32BE(15);
      if (b.length < 19 + extension) return false;
      at = 19 + extension;
      this.headerDone = true;
    }
    let full = false;
    while (at + 2 <= b.length) {
      const fields = b.readInt16BE(at);
      if (fields === -1) {
        if (at + 2 !== b.length)
          throw new CopyFormatError(`binary COPY output has ${b.length - at - 2} bytes after its trailer`);
        this.ended = true;
        at += 2;
        break;
      }
      if (batch.count === batch.capacity) {
        full = true;
        break;
      }
      if (batch.count === 0) {
        this.users.startBatch(batch.capacity);
        batch.userGeneration = this.users.generation;
      }
      if (at + FIXED_BEFORE_USER + 4 > b.length) break;
      if (
        fields !== 7 ||
        b.readInt32BE(at + 2) !== 8 ||
        b.readInt32BE(at + 14) !== 2 ||
        b.readInt32BE(at + 20) !== 2 ||
        b.readInt32BE(at + 26) !== 2 ||
        b.readInt32BE(at + 32) !== 2
      ) {
        throw new CopyFormatError(`unexpected export row layout at offset ${at}`);
      }
      const userBytes = b.readInt32BE(at + FIXED_BEFORE_USER);
      if (userBytes < 0 || userBytes > MAX_USER_ID_BYTES)
        throw new CopyFormatError(`user_id field of ${userBytes} bytes`);
      const end = at + ROW_OVERHEAD + userBytes;
      if (end > b.length) break;
      const tsAt = at + FIXED_BEFORE_USER + 4 + userBytes;
      if (b.readInt32BE(tsAt) !== 8) throw new CopyFormatError(`placed_at field is not 8 bytes at offset ${tsAt}`);
      const i = batch.count++;
      batch.seq[i] = b.readUInt32BE(at + 6) * 4_294_967_296 + b.readUInt32BE(at + 10);
      batch.kind[i] = b.readInt16BE(at + 18);
      batch.x[i] = b.readInt16BE(at + 24);
      batch.y[i] = b.readInt16BE(at + 30);
      batch.color[i] = b.readInt16BE(at + 36);
      const user = this.users.intern(b, at + FIXED_BEFORE_USER + 4, tsAt);
      batch.userIndex[i] = user;
      batch.userId[i] = this.users.ids[user] as string;
      const micros = b.readInt32BE(tsAt + 4) * 4_294_967_296 + b.readUInt32BE(tsAt + 8);
      batch.placedAt[i] = Math.round(micros / 1000) + PG_EPOCH_MS;
      at = end;
    }
    this.rest = at === b.length ? Buffer.alloc(0) : b.subarray(at);
    return full;
  }

  /** Bytes received but not parsed yet (a partial row, or a full batch's remainder). */
  get pending(): number {
    return this.rest.length;
  }
}

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

export function createPgPlacementLog(
  conn: PgConnection,
  projection: string,
  options: { readonly batchRows?: number } = {},
): PlacementLog {
  const { pool } = conn;
  const batchRows = options.batchRows ?? 8_192;
  return {
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
      const stream = client.query(copyTo(`COPY (${select}) TO STDOUT (FORMAT binary)`));
      const parser = new PlacementCopyParser();
      const batch = newParseBatch(batchRows);
      let finished = false;
      try {
        for await (const chunk of stream as AsyncIterable<Buffer>) {
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
        await client.query('COMMIT');
        finished = true;
      } catch (cause) {
        if (cause instanceof StoreUnavailable) throw cause;
        throw new StoreUnavailable(`postgres export read failed: ${(cause as Error).message}`, { cause });
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
    },
  };
}
