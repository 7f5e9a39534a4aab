/**
 * The live canvas in Redis (`canvas:current`) and the stream sequence it reflects. Implemented by
 * src/adapters/redis/bitmap-store.ts; the edges read it (`BitmapStore`), the bitmap projector writes it
 * (`BitmapWriter`).
 */

/** A pixel change labelled with its stream sequence. */
export interface SequencedPixel {
  readonly seq: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

/** The live canvas in Redis (`canvas:current`) and the stream sequence it reflects, stored atomically together. */
export interface BitmapStore {
  /** The canvas and its sequence, read atomically; `null` when the store holds no projection (never built or wiped). */
  load(): Promise<{ readonly canvas: Uint8Array; readonly seq: number } | null>;
  /** The stored sequence alone (`null` when none). */
  seq(): Promise<number | null>;
}

/**
 * The bitmap projector's side of the live canvas. Every write moves the canvas bytes and the stored sequence
 * together, atomically, so the stored sequence always says exactly which events the bytes reflect.
 */
export interface BitmapWriter extends BitmapStore {
  /**
   * Applies `pixels` (ascending `seq`) and sets the stored sequence to the last applied one, atomically.
   * Pixels with `seq` ≤ the stored sequence are skipped, so a redelivery never applies twice.
   * `expectedSeq` is the sequence the caller believes is stored (`null`: it knows of none, and an empty store
   * is initialised). Rejects with `SequenceConflict`, writing nothing, when the store holds no projection
   * while one was expected, holds an older sequence than expected, or holds a canvas of the wrong size:
   * the store was wiped (Redis restarted empty) or rolled back. `found` is `null` when nothing usable is left
   * (rebuild), or the older sequence the store still holds consistently (replay the gap after it).
   * Resolves to the stored sequence after the call.
   */
  apply(pixels: readonly SequencedPixel[], expectedSeq: number | null): Promise<number>;
  /** Replaces the canvas and the stored sequence together (a rebuild). */
  replaceAll(canvas: Uint8Array, seq: number): Promise<void>;
}
