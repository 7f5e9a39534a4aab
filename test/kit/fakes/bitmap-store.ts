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

export interface FakeBitmapStore extends BitmapWriter {
  wipe(): void;
  truncate(): void;
  /** `apply` calls, conflicts included. */
  applies: number;
}

export function createFakeBitmapStore(spec: Pick<CanvasSpec, 'width' | 'height'>): FakeBitmapStore {
  const size = spec.width * spec.height;
  let canvas: Uint8Array | null = null;
  let stored: number | null = null;
  const store: FakeBitmapStore = {
    applies: 0,
    wipe() {
      canvas = null;
      stored = null;
    },
    truncate() {
      canvas = new Uint8Array(Math.max(0, size - 1));
    },
    async load() {
      if (stored === null || canvas === null || canvas.length !== size) return null;
      return { canvas: canvas.slice(), seq: stored };
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
        const offset = p.y * spec.width + p.x;
        if (offset >= 0 && offset < size && Number.isInteger(offset)) target[offset] = p.color & 0xff;
        last = p.seq;
      }
      stored = last;
      return last;
    },
    async replaceAll(next, seq) {
      if (next.length !== size) throw new RangeError(`canvas has ${next.length} bytes, expected ${size}`);
      canvas = next.slice();
      stored = seq;
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
