/**
 * `BitmapWriter` (and so `BitmapStore`) in memory, with the Redis store's rules (bitmap-store.ts):
 * - `apply` skips pixels with `seq` ≤ the stored sequence (a redelivery changes nothing) and ignores
 *   offsets `y*width+x` outside the canvas, like `replay`;
 * - `apply(…, null)` on an empty store initialises it (an empty batch included); on a store holding a
 *   projection, any `expectedSeq` ≤ the stored one is fine;
 * - `SequenceConflict`, writing nothing: no projection while one was expected (`found` null), a canvas
 *   of the wrong size (`found` null), or a stored sequence older than expected (`found` = it);
 * - `load` is null unless both a sequence and a canvas of the right size are stored; `seq` reads the
 *   sequence alone.
 * Fault injection: `wipe()` (Redis restarted empty), `truncate()` (a canvas of the wrong size).
 */
import { SequenceConflict } from '../../../src/ports/errors.ts';
import type { BitmapWriter } from '../../../src/ports/bitmap.ts';
import type { CanvasSpec } from '../../../src/domain/canvas.ts';
import { growCanvas } from '../../../src/domain/resize.ts';

export interface FakeBitmapStore extends BitmapWriter {
  wipe(): void;
  truncate(): void;
  /** `apply` calls, conflicts included. */
  applies: number;
}

export function createFakeBitmapStore(spec: Pick<CanvasSpec, 'width' | 'height'>): FakeBitmapStore {
  let width = spec.width;
  let height = spec.height;
  let size = width * height;
  let canvas: Uint8Array | null = null;
  let stored: number | null = null;
  const store: FakeBitmapStore = {
    applies: 0,
    wipe() {
      canvas = null;
      stored = null;
      width = spec.width;
      height = spec.height;
      size = width * height;
    },
    truncate() {
      canvas = new Uint8Array(Math.max(0, size - 1));
    },
    async load() {
      if (stored === null || canvas === null || canvas.length !== size) return null;
      return { canvas: canvas.slice(), seq: stored, width, height };
    },
    async seq() {
      return stored;
    },
    async apply(pixels, expectedSeq) {
      store.applies++;
      if (stored !== null) {
        if (canvas === null || canvas.length !== size) throw conflict(expectedSeq, null);
        if (expectedSeq !== null && stored < expectedSeq) throw conflict(expectedSeq, stored);
      } else {
        if (expectedSeq !== null) throw conflict(expectedSeq, null);
        canvas = new Uint8Array(size);
        stored = 0;
      }
      const target = canvas as Uint8Array;
      const from = stored;
      let last = from;
      for (const p of pixels) {
        if (p.seq <= from) continue;
        const offset = p.y * width + p.x;
        if (offset >= 0 && offset < size && Number.isInteger(offset)) target[offset] = p.color & 0xff;
        last = p.seq;
      }
      stored = last;
      return last;
    },
    async resize(seq, resize, expectedSeq) {
      if (stored === null || canvas === null || canvas.length !== size) throw conflict(expectedSeq, null);
      if (stored < expectedSeq) throw conflict(expectedSeq, stored);
      if (stored >= seq) return stored;
      canvas = growCanvas(canvas, { width, height }, resize);
      width = resize.width;
      height = resize.height;
      size = width * height;
      stored = seq;
      return seq;
    },
    async replaceAll(next, seq, to = spec) {
      if (next.length !== to.width * to.height)
        throw new RangeError(`canvas has ${next.length} bytes, expected ${to.width * to.height}`);
      canvas = next.slice();
      stored = seq;
      width = to.width;
      height = to.height;
      size = width * height;
    },
  };
  return store;
}

function conflict(expected: number | null, found: number | null): SequenceConflict {
  return new SequenceConflict(
    found === null
      ? `fake bitmap holds no usable projection but sequence ${expected} was expected`
      : `fake bitmap went back to sequence ${found} (expected ${expected ?? 'none'})`,
    expected ?? 0,
    found,
  );
}
