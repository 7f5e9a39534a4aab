/**
 * The write side of the history store: the projection's position, one transaction per batch, and the reset
 * of a rebuild. The batch transaction compare-and-sets the position, inserts the rows with one multi-row
 * `INSERT … SELECT FROM unnest(…)` (one array parameter per column: a 4,096-event batch is one statement)
 * with `ON CONFLICT DO NOTHING`, the same rows as packed chunks (./event-chunks.ts) that every tail reads,
 * and any snapshots (raw: TOAST lz4 compresses them inside Postgres). Partitions are made first, outside it
 * (./history-partitions.ts).
 *
 * Raw SQL in the transaction: it runs on one checked-out client (the CAS, the inserts and COMMIT must share
 * it), and the `unnest` bulk insert has no Kysely builder; this is the projector's hot path (`npm run bench
 * -- history`), kept as the statements that were measured.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from 'pino';
import { SequenceConflict, StoreRejected } from '../../ports/errors.ts';
import type { HistoryRow, HistoryStore } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { packChunks } from '../../domain/history/event-chunks.ts';
import { createPartitioner } from './history-partitions.ts';
import { iso, isPermanent, reading, unavailable } from './history-sql.ts';

export type HistoryWrites = Pick<HistoryStore, 'position' | 'commit' | 'reset'>;

/** `onReset` runs inside a reset's transaction, before COMMIT (the tail reads drop their chunk cache). */
/** SHA-256 of a raw canvas, as `snapshots.canvas_sha256` stores it (recovery recomputes it the same way). */
function canvasSha256(canvas: Uint8Array): Buffer {
  return createHash('sha256').update(canvas).digest();
}

export interface HistoryWriteOptions {
  /**
   * Commit the projector's batches with `synchronous_commit = off` (that transaction only): COMMIT returns
   * before its WAL is flushed. A crash of Postgres may then lose the last few hundred ms of batches, never
   * part of one: rows, chunks, snapshots and the position go together, so the projector resumes from the
   * older position and replays those events from the stream, the source of truth (projections rebuild).
   */
  readonly asyncCommit?: boolean;
}

export function createPgHistoryWrites(
  conn: PgConnection,
  logger: Logger,
  onReset: () => void = () => undefined,
  options: HistoryWriteOptions = {},
): HistoryWrites {
  const { pool, db } = conn;
  const ensurePartitions = createPartitioner(conn, logger);
  return {
    async position(projection) {
      const row = await reading('reading the position', () =>
        db.selectFrom('projection_positions').select('seq').where('name', '=', projection).executeTakeFirst(),
      );
      return row ? Number(row.seq) : 0;
    },

    async commit({ projection, expectedSeq, newSeq, rows, snapshots }) {
      if (rows.length > 0) {
        await ensurePartitions(rows).catch((cause: unknown) => {
          throw isPermanent(cause)
            ? new StoreRejected(`postgres refused a batch's partitions: ${(cause as Error).message}`, { cause })
            : cause;
        });
      }
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (cause) {
        throw unavailable('connecting', cause);
      }
      let broken = false;
      try {
        await client.query('BEGIN');
        if (options.asyncCommit) await client.query('SET LOCAL synchronous_commit = off');
        const moved =
          expectedSeq === 0
            ? await client.query(
                `INSERT INTO projection_positions (name, seq) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now() WHERE projection_positions.seq = 0`,
                [projection, newSeq],
              )
            : await client.query(
                'UPDATE projection_positions SET seq = $2, updated_at = now() WHERE name = $1 AND seq = $3',
                [projection, newSeq, expectedSeq],
              );
        if (moved.rowCount !== 1) {
          await client.query('ROLLBACK');
          const found =
            (await client.query<{ seq: number }>('SELECT seq FROM projection_positions WHERE name = $1', [projection]))
              .rows[0]?.seq ?? null;
          throw new SequenceConflict(
            `history position of ${projection} is ${found}, expected ${expectedSeq}`,
            expectedSeq,
            found,
          );
        }
        if (rows.length > 0) {
          const n = rows.length;
          const seq = new Array<number>(n),
            kind = new Array<number>(n),
            x = new Array<number>(n),
            y = new Array<number>(n);
          const color = new Array<number>(n),
            user = new Array<string>(n),
            placed = new Array<string>(n),
            stored = new Array<string>(n);
          for (let i = 0; i < n; i++) {
            const row = rows[i] as HistoryRow;
            seq[i] = row.seq;
            kind[i] = row.event.kind;
            x[i] = row.event.x;
            y[i] = row.event.y;
            color[i] = row.event.color;
            user[i] = row.event.userId;
            placed[i] = iso(row.event.placedAt);
            stored[i] = iso(row.storedAt);
          }
          await client.query(
            `INSERT INTO events (seq, kind, x, y, color, user_id, placed_at, stored_at)
             SELECT * FROM unnest($1::int8[], $2::int2[], $3::int2[], $4::int2[], $5::int2[], $6::text[], $7::timestamptz[], $8::timestamptz[])
             ON CONFLICT DO NOTHING`,
            [seq, kind, x, y, color, user, placed, stored],
          );
        }
        for (const chunk of packChunks(rows, expectedSeq)) {
          // Disjoint by construction (only rows after the position this transaction verified); DO NOTHING
          // keeps a replayed commit harmless all the same.
          await client.query(
            `INSERT INTO event_chunks (first_seq, last_seq, min_placed_at, max_placed_at, count, packed)
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
            [chunk.firstSeq, chunk.lastSeq, iso(chunk.minPlacedAt), iso(chunk.maxPlacedAt), chunk.count, chunk.packed],
          );
        }
        for (const s of snapshots) {
          // A Buffer/Uint8Array parameter goes as binary: the 4 MB canvas is neither encoded nor copied to text.
          // The checksum (migrations/0009) is over the raw canvas, for recovery to verify.
          await client.query(
            `INSERT INTO snapshots (seq, captured_at, max_placed_at, pixel_count, width, height, canvas, canvas_encoding, canvas_sha256)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'raw', $8) ON CONFLICT (seq) DO NOTHING`,
            [
              s.seq,
              iso(s.capturedAt),
              iso(s.maxPlacedAt),
              s.pixelCount,
              s.width,
              s.height,
              s.canvas,
              canvasSha256(s.canvas),
            ],
          );
        }
        await client.query('COMMIT');
      } catch (error) {
        if (error instanceof SequenceConflict) throw error;
        broken = true;
        await client.query('ROLLBACK').catch(() => undefined);
        if (isPermanent(error))
          throw new StoreRejected(`postgres refused a batch: ${(error as Error)?.message ?? String(error)}`, {
            cause: error,
          });
        throw unavailable('writing a batch', error);
      } finally {
        client.release(broken);
      }
    },

    async reset(projection) {
      const client = await pool.connect().catch((cause: unknown) => {
        throw unavailable('connecting', cause);
      });
      try {
        await client.query('BEGIN');
        await client.query('TRUNCATE events, snapshots, event_chunks');
        onReset();
        await client.query('DELETE FROM projection_positions WHERE name = $1', [projection]);
        await client.query('COMMIT');
      } catch (cause) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw unavailable('resetting history', cause);
      } finally {
        client.release();
      }
    },
  };
}
