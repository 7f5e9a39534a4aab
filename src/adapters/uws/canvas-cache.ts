/**
 * The edge's canvas, compressed for HTTP (gzip, deflate) and for `canvas` frames (raw deflate), at most
 * once per `maxAgeMs` per encoding however many requests arrive: a request within that window gets the
 * cached bytes, labelled with the sequence they reflect (the ETag), never a re-compression.
 * Compression is synchronous on purpose: the result must be labelled with exactly the sequence the canvas
 * had, and the canvas only changes at flush time, on this same thread.
 */
import { deflateRawSync, deflateSync, gzipSync, constants } from 'node:zlib';
import { CanvasEncoding, encodeCanvasFrame } from '../../../proto/frames.ts';
import type { EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import type { CompressedCanvas, CompressedCanvasEntry, HttpEncoding } from '../../ports/compressed-canvas.ts';

interface Entry extends CompressedCanvasEntry {
  readonly at: number;
}

export class CanvasCache implements CompressedCanvas {
  readonly #state: EdgeCanvas;
  readonly #maxAgeMs: number;
  readonly #entries = new Map<HttpEncoding | 'frame', Entry>();

  constructor(state: EdgeCanvas, maxAgeMs: number) {
    this.#state = state;
    this.#maxAgeMs = maxAgeMs;
  }

  /** A `canvas` frame (raw deflate) and the sequence it reflects. */
  frame(forceCurrent = false): Entry {
    return this.#get('frame', forceCurrent);
  }

  /** The canvas bytes for an HTTP response with the given `Content-Encoding`. */
  http(encoding: HttpEncoding): Entry {
    return this.#get(encoding, false);
  }

  #get(kind: HttpEncoding | 'frame', forceCurrent: boolean): Entry {
    const now = Date.now();
    const cached = this.#entries.get(kind);
    const seq = this.#state.seq;
    const sameSize = cached?.width === this.#state.width && cached.height === this.#state.height;
    // Never serve the old size after a resize, however young the entry: the canvas and its size go together.
    if (cached && sameSize && (cached.seq === seq || (!forceCurrent && now - cached.at < this.#maxAgeMs)))
      return cached;
    const canvas = this.#state.canvas;
    const options = { level: constants.Z_BEST_SPEED };
    let bytes: Uint8Array;
    if (kind === 'frame') {
      bytes = encodeCanvasFrame(
        seq,
        this.#state.width,
        this.#state.height,
        CanvasEncoding.Deflate,
        deflateRawSync(canvas, options),
      );
    } else if (kind === 'gzip') bytes = gzipSync(canvas, options);
    else if (kind === 'deflate') bytes = deflateSync(canvas, options);
    else bytes = canvas.slice();
    const entry = { seq, at: now, bytes, width: this.#state.width, height: this.#state.height };
    this.#entries.set(kind, entry);
    return entry;
  }
}
