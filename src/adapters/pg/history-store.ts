/**
 * `HistoryStore` on Postgres (schema: migrations/0001_history.ts), put together from one part per concern,
 * each a slice of the port:
 *
 *   ./history-writes.ts      position, the batch transaction, reset (daily partitions: ./history-partitions.ts)
 *   ./history-snapshots.ts   which snapshot serves a sequence or an instant, and a snapshot's canvas (COPY)
 *   ./history-tail.ts        the events after a snapshot, as packed chunks through binary COPY, cached
 *   ./pixel-history.ts       one pixel's placements
 *   ./history-summary.ts     the time slider's bounds
 *
 * Queries are Kysely; raw SQL remains only where Kysely cannot say it (binary COPY, partition DDL, the
 * `unnest` bulk insert of the batch transaction), each with its reason where it is written. Every failure is
 * translated at this boundary (./history-sql.ts): `StoreUnavailable` for an outage, `StoreRejected` for a
 * batch Postgres will never accept, `SequenceConflict` for a position that moved.
 */
import type { Logger } from 'pino';
import type { HistoryStore } from '../../ports/history.ts';
import type { PgConnection } from './connect.ts';
import { createPgHistorySummary } from './history-summary.ts';
import { createPgSnapshotReads } from './history-snapshots.ts';
import { createPgTailReads, type TailReadOptions } from './history-tail.ts';
import { createPgHistoryWrites, type HistoryWriteOptions } from './history-writes.ts';
import { createPgPixelHistory } from './pixel-history.ts';

export { compressCanvas, decodeSnapshotCanvas, decompressCanvas } from './history-snapshots.ts';

export type PgHistoryStoreOptions = TailReadOptions & HistoryWriteOptions;

export function createPgHistoryStore(
  conn: PgConnection,
  logger: Logger,
  options: PgHistoryStoreOptions = {},
): HistoryStore {
  const tail = createPgTailReads(conn, options);
  const { clearCache: _clearCache, ...tailReads } = tail;
  return {
    ...createPgHistoryWrites(conn, logger, () => tail.clearCache(), options),
    ...createPgSnapshotReads(conn),
    ...tailReads,
    ...createPgPixelHistory(conn),
    ...createPgHistorySummary(conn),
  };
}
