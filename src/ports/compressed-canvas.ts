/**
 * The edge's canvas, compressed at most once per encoding and cache period (src/adapters/uws/canvas-cache.ts
 * does the compressing). Each entry is labelled with the sequence its bytes reflect, so a reader can tell
 * whether a catch-up from the ring can bring it to the live sequence.
 */
export type HttpEncoding = 'gzip' | 'deflate' | 'identity';

export interface CompressedCanvasEntry {
  /** The sequence the compressed canvas reflects. */
  readonly seq: number;
  /** The size of the canvas it holds (the size in force at `seq`). */
  readonly width: number;
  readonly height: number;
  readonly bytes: Uint8Array;
}

export interface CompressedCanvas {
  /** A `canvas` frame (proto/frames.ts, raw deflate); `forceCurrent`: not older than the canvas's sequence. */
  frame(forceCurrent?: boolean): CompressedCanvasEntry;
  /** The raw canvas bytes for an HTTP body with this `Content-Encoding`. */
  http(encoding: HttpEncoding): CompressedCanvasEntry;
}
