/**
 * Ports of the history projection (issue 5). Implemented by `src/adapters/pg/history-store.ts`; the
 * `Region` they take is the domain's (src/domain/region.ts).
 *
 * ## The canvas at instant T (the rule every reader follows)
 * Event times (`placedAt`, set by the command handler just before the append) are not guaranteed monotone in
 * stream sequence: two edges' clocks differ and appends race. We define
 *
 *   canvas(T) = replay of the longest PREFIX of the stream whose events all have `placedAt ≤ T`,
 *
 * i.e. we replay in sequence order and stop at the first event placed after T. With monotone times this is
 * exactly "every placement at or before T"; without, it is still a state the live canvas really passed
 * through (never a mix of two moments), and it is monotone in T. A snapshot at sequence S stores
 * `maxPlacedAt` = max `placedAt` over events ≤ S, so it is usable for T iff `maxPlacedAt ≤ T`; the best one is
 * the usable snapshot with the largest sequence, and the prefix then ends before the next snapshot's sequence.
 */
import type { CanvasEvent } from '../../proto/event-codec.ts';
import type { PixelChange } from '../domain/canvas.ts';
import type { Region } from '../domain/region.ts';

/** One event as the history table stores it. */
export interface HistoryRow {
  readonly seq: number;
  readonly storedAt: number;
  readonly event: CanvasEvent;
}

/** What a stored snapshot is, without its bytes; `maxPlacedAt` decides which instants it can serve (rule above). */
export interface SnapshotMeta {
  readonly seq: number;
  readonly capturedAt: number;
  readonly maxPlacedAt: number;
  readonly pixelCount: number;
  readonly width: number;
  readonly height: number;
  /**
   * SHA-256 of the raw canvas, written with it (migrations/0009_snapshot_checksum.ts) and checked by recovery;
   * null for rows written before the column, absent from stores that keep none.
   */
  readonly canvasSha256?: Uint8Array | null;
}

/** A canvas copy to store, labelled with the sequence it reflects. `canvas` is raw (the store compresses). */
export interface SnapshotInput extends SnapshotMeta {
  readonly canvas: Uint8Array;
}

/** The events after a snapshot, as the prefix rule reads them. */
export interface Tail {
  /** Changes in sequence order (only those inside `region` when one was given). */
  readonly changes: readonly PixelChange[];
  /** Last sequence of the prefix (the `afterSeq` argument when the prefix is empty). */
  readonly lastSeq: number;
}

/** One placement of a pixel, as the pixel history shows it. */
export interface Placement {
  readonly seq: number;
  readonly kind: number;
  readonly color: number;
  readonly userId: string;
  readonly placedAt: number;
}

/** One of a user's placements, as their history shows it (where, not who). */
export interface UserPlacement {
  readonly seq: number;
  readonly kind: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly placedAt: number;
}

/** A user's placements with `seq < beforeSeq`, newest first, at most `limit`; `StoreUnavailable` when down. */
export type UserPlacements = (userId: string, beforeSeq: number, limit: number) => Promise<UserPlacement[]>;

/**
 * The history projection's storage. Real failures (store down) reject with `StoreUnavailable`;
 * a position that is not what the writer expected rejects with `SequenceConflict`.
 */
export interface HistoryStore {
  /** Last sequence written by `projection` (0 when never). */
  position(projection: string): Promise<number>;
  /**
   * Atomically: inserts `rows` (ignoring sequences already present, so a redelivered batch changes nothing),
   * stores `snapshots`, and moves `projection` from `expectedSeq` to `newSeq`. Rejects with
   * `SequenceConflict` (and changes nothing) when the stored position is not `expectedSeq`.
   */
  commit(input: {
    readonly projection: string;
    readonly expectedSeq: number;
    readonly newSeq: number;
    readonly rows: readonly HistoryRow[];
    readonly snapshots: readonly SnapshotInput[];
  }): Promise<void>;
  /** The newest snapshot with `seq ≤ maxSeq`. */
  latestSnapshot(maxSeq: number): Promise<SnapshotMeta | null>;
  /** The usable snapshot for instant `time` (see the rule above): max seq with `maxPlacedAt ≤ time`. */
  snapshotFor(time: number): Promise<SnapshotMeta | null>;
  /** The smallest snapshot sequence greater than `seq`, or null. */
  nextSnapshotSeq(seq: number): Promise<number | null>;
  /** Loads a snapshot's canvas, decompressed (a fresh array the caller may mutate). */
  loadSnapshot(seq: number): Promise<Uint8Array>;
  /**
   * The prefix rule's tail: events with `afterSeq < seq ≤ untilSeq`, in order, stopping before the first one
   * placed after `time` (no stop when `time` is +Infinity). `untilSeq` may be +Infinity: up to everything
   * committed, read in the same statement (then `lastSeq`, when nothing stops the prefix, is the last
   * committed sequence). Its cost is one read of the packed chunks covering the answer, not one per event.
   */
  tail(afterSeq: number, untilSeq: number, time: number, region?: Region): Promise<Tail>;
  /** Largest `placedAt` among events with `afterSeq < seq ≤ untilSeq` (0 when none). */
  tailMaxPlacedAt(afterSeq: number, untilSeq: number): Promise<number>;
  /** Placements of one pixel, newest first, with `seq < beforeSeq`. */
  pixelHistory(x: number, y: number, beforeSeq: number, limit: number): Promise<readonly Placement[]>;
  /** First and last placement times and counts, for clients that draw a time slider. */
  summary(projection: string): Promise<{
    readonly position: number;
    readonly firstPlacedAt: number | null;
    readonly lastPlacedAt: number | null;
    readonly snapshots: number;
  }>;
  /** Empties the history (events, snapshots, the projection's position) for a rebuild. */
  reset(projection: string): Promise<void>;
}
