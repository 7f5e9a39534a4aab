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
  /**
   * Optional, from readers that intern ids (src/domain/history/user-interner.ts): row i's user as an index
   * that stands for `userId[i]` while `userGeneration` is unchanged, so a formatter can cache per user
   * without hashing a string per row.
   */
  readonly userIndex?: Uint32Array;
  readonly userGeneration?: number;
}
