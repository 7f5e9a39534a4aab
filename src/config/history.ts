/** The history role (projector + snapshotter) and the history API: the common settings plus their knobs. */
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import type { HistoryProjectorOptions } from '../app/history/projector.ts';
import type { Names } from '../domain/names.ts';
import { commonShape } from './common.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const historySchema = z.object({
  ...commonShape,
  /** Snapshot every this many ms of wall-clock time, and of event time while catching up or rebuilding. */
  SNAPSHOT_INTERVAL_MS: int(100, 3_600_000).default(30_000),
  /** Also snapshot after this many events, whatever the time: bounds every point-in-time replay. */
  SNAPSHOT_MAX_EVENTS: int(1_000, 10_000_000).default(200_000),
  /** Largest batch written to Postgres in one transaction (events). */
  HISTORY_MAX_BATCH: int(1, 50_000).default(5_000),
  /**
   * Least time between two batch commits (ms): events arriving meanwhile join the next one. At a steady rate a
   * commit otherwise holds the few events that came while the last one ran, and Postgres pays per transaction.
   * History (and what reads it) trails the stream by up to this much more; 0: commit as soon as events come.
   */
  HISTORY_COMMIT_INTERVAL_MS: int(0, 5_000).default(100),
  /**
   * '1': the projector's batch transactions commit with `synchronous_commit = off` (src/adapters/pg/history-
   * writes.ts): a Postgres crash may lose the last few hundred ms of batches, which the projector then replays
   * from the stream (the source of truth); never part of a batch.
   */
  HISTORY_ASYNC_COMMIT: z.enum(['0', '1']).default('0'),
  PG_POOL_SIZE: int(1, 64).default(4),
  /** Timelapses computed at once by this process (each holds a canvas and streams frames). */
  TIMELAPSE_MAX_CONCURRENT: int(1, 16).default(2),
  /** Timelapses one client address may run at once (its share of TIMELAPSE_MAX_CONCURRENT). */
  TIMELAPSE_MAX_PER_IP: int(1, 16).default(1),
  /** Point-in-time snapshots (raw or PNG; each inflates a canvas) computed at once by this process. */
  SNAPSHOT_MAX_CONCURRENT: int(1, 256).default(4),
  /** Of which one client address may hold this many. */
  SNAPSHOT_MAX_PER_IP: int(1, 256).default(2),
  /**
   * Secret salt of the user ids in dataset exports (`sha512(salt ‖ 0 ‖ userId)`, base64). No default: unset,
   * the export API answers 503 (`npm start` derives one from the dev session secret).
   */
  EXPORT_USER_SALT: z.string().min(16, 'must be at least 16 characters (openssl rand -hex 32)').optional(),
  /** Dataset exports one client address may run at once. */
  EXPORT_MAX_PER_CLIENT: int(1, 16).default(1),
  /** Dataset exports this process runs at once (each holds one Postgres connection while it streams). */
  EXPORT_MAX_CONCURRENT: int(1, 64).default(2),
  /**
   * Worker threads that format and compress one gzip'd CSV/NDJSON export (src/adapters/pg/export-workers.ts;
   * at most EXPORT_MAX_CONCURRENT × this many in all; plain text is formatted on the main thread, which is
   * faster: src/app/history/export.ts); 0: on the main thread too. Default min(2, cores).
   */
  EXPORT_WORKERS: int(0, 8).default(Math.min(2, availableParallelism())),
  /** Port for /metrics and /healthz of the standalone history role (unset: none). */
  METRICS_PORT: int(0, 65_535).optional(),
});

export type HistoryConfig = z.output<typeof historySchema>;

/** The history store's write options taken from the configuration (the role and `rplace history rebuild`). */
export function historyWriteSettings(config: HistoryConfig): { readonly asyncCommit: boolean } {
  return { asyncCommit: config.HISTORY_ASYNC_COMMIT === '1' };
}

/** The history projector's settings taken from the configuration: the role and `rplace history rebuild` share them. */
export function historyProjectorSettings(
  config: HistoryConfig,
  names: Names,
): Pick<
  HistoryProjectorOptions,
  'width' | 'height' | 'projection' | 'snapshotIntervalMs' | 'snapshotMaxEvents' | 'minCommitIntervalMs'
> {
  return {
    width: config.CANVAS_WIDTH,
    height: config.CANVAS_HEIGHT,
    projection: names.consumers.history,
    snapshotIntervalMs: config.SNAPSHOT_INTERVAL_MS,
    snapshotMaxEvents: config.SNAPSHOT_MAX_EVENTS,
    minCommitIntervalMs: config.HISTORY_COMMIT_INTERVAL_MS,
  };
}
