/**
 * Ports of the dataset export (issue 16). Implemented by `src/adapters/pg/placement-export.ts` (the history's
 * `events` table, the only store that keeps user ids) and `src/adapters/parquet/placements-parquet.ts`.
 */
import type { Region } from '../domain/region.ts';

/**
 * Placements in stream order, column by column (`count` rows; arrays may be longer than `count`). Only valid
 * until the next batch is asked for: readers reuse the arrays.
 */
export interface PlacementBatch {
  readonly count: number;
  readonly seq: Float64Array;
  /** 1 = PixelPlaced, 2 = PixelRestored (proto/event-codec.ts). */
  readonly kind: Uint8Array;
  readonly x: Uint16Array;
  readonly y: Uint16Array;
  readonly color: Uint8Array;
  /** ms since the epoch. */
  readonly placedAt: Float64Array;
  readonly userId: string[];
}

/** The placements the export reads (the history's `events` table). */
export interface PlacementLog {
  /** Last sequence the history holds (its projection position). */
  lastSeq(): Promise<number>;
  /**
   * Every placement with `afterSeq < seq ≤ untilSeq`, in sequence order, only those inside `region` when one
   * is given. Streams with backpressure (a batch is read when the previous one was consumed); ending the
   * iteration early stops the read in the store at once. A store failure rejects with `StoreUnavailable`.
   */
  placements(afterSeq: number, untilSeq: number, region?: Region): AsyncIterable<PlacementBatch>;
}

/** Encodes placements as a Parquet file, streamed a row group at a time. */
export interface ParquetEncoder {
  encode(batches: AsyncIterable<PlacementBatch>, columns: { readonly userKey: (userId: string) => string; readonly colorHex: readonly string[] }): AsyncIterable<Uint8Array>;
}

/** Placements per pixel, for heatmaps and the virgin map. */
export interface PixelActivity {
  /** Placements per pixel (row-major `width × height`) among events with `afterSeq < seq ≤ untilSeq`. */
  counts(afterSeq: number, untilSeq: number, width: number, height: number): Promise<Uint32Array>;
}
