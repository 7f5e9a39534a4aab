/**
 * The live canvas in Redis (`canvas:current`) and the stream sequence it reflects. Implemented by
 * src/adapters/redis/bitmap-store.ts; the edges read it (`BitmapStore`), the bitmap projector writes it
 * (`BitmapWriter`).
 */
import type { CanvasSize, Resize } from '../domain/resize.ts';

/** A pixel change labelled with its stream sequence. */
export interface SequencedPixel {
  readonly seq: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

/**
 * The live canvas in Redis (`canvas:current`), the stream sequence it reflects and the size in force there,
 * stored atomically together.
 */
export interface BitmapStore {
  /**
   * The canvas, its sequence and size, read atomically; `null` when the store holds no projection (never built
   * or wiped).
   */
  load(): Promise<{
    readonly canvas: Uint8Array;
    readonly seq: number;
    readonly width: number;
    readonly height: number;
  } | null>;
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
   * Offsets use the stored width (the size in force at the stored sequence). Resolves to the stored sequence
   * after the call.
   */
  apply(pixels: readonly SequencedPixel[], expectedSeq: number | null): Promise<number>;
  /**
   * Grows the stored canvas by the resize accepted at `seq` (src/domain/resize.ts `growCanvas`) and stores `seq`
   * and the new size with it, atomically. A store already at or past `seq` is left alone (a redelivery).
   * `SequenceConflict` as `apply`. Resolves to the stored sequence after the call.
   */
  resize(seq: number, resize: Resize, expectedSeq: number): Promise<number>;
  /** Replaces the canvas, the stored sequence and size together (a rebuild; size default: the initial one). */
  replaceAll(canvas: Uint8Array, seq: number, size?: CanvasSize): Promise<void>;
}
