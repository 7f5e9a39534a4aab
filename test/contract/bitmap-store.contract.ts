/**
 * The bitmap contract, run against the in-memory fake (unit) and the Redis store (integration). It pins what
 * the bitmap projection relies on: canvas and sequence move together; a redelivered pixel (seq ≤ stored)
 * changes nothing; a wiped, rolled-back or wrong-size store is a `SequenceConflict` that writes nothing and
 * says what is left (`found`); and the bytes equal `replay` of the same pixels (the golden invariant).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SequenceConflict } from '../../src/ports/errors.ts';
import type { BitmapWriter, SequencedPixel } from '../../src/ports/bitmap.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { growCanvas } from '../../src/domain/resize.ts';

export const BITMAP_SPEC = { width: 16, height: 8 } as const;
const SIZE = BITMAP_SPEC.width * BITMAP_SPEC.height;

export interface BitmapSubject {
  /** An empty store for a canvas of `BITMAP_SPEC`. */
  readonly store: BitmapWriter;
  /** Loses everything (Redis restarted empty). */
  wipe(): Promise<void>;
  /** Leaves the sequence but a canvas of the wrong size. */
  truncate(): Promise<void>;
  close(): Promise<void>;
}

function pixels(fromSeq: number, count: number, salt = 0): SequencedPixel[] {
  return Array.from({ length: count }, (_, i) => ({
    seq: fromSeq + i,
    x: (i * 7 + salt) % BITMAP_SPEC.width,
    y: (i * 3 + salt) % BITMAP_SPEC.height,
    color: (i + salt) % 32,
  }));
}
const replayed = (ps: readonly SequencedPixel[]) => replay(createCanvas(BITMAP_SPEC), BITMAP_SPEC.width, ps);

async function conflictOf(attempt: Promise<unknown>): Promise<SequenceConflict> {
  const error = await attempt.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SequenceConflict);
  return error as SequenceConflict;
}

export function bitmapStoreContract(label: string, open: () => Promise<BitmapSubject>): void {
  describe(`bitmap store contract: ${label}`, () => {
    let s: BitmapSubject;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => s.close());

    it('an empty store holds no projection', async () => {
      expect(await s.store.load()).toBeNull();
      expect(await s.store.seq()).toBeNull();
    });

    it('the first apply (expecting none) initialises the store; canvas and sequence equal the replay', async () => {
      const batch = pixels(1, 40);
      expect(await s.store.apply(batch, null)).toBe(40);
      expect(await s.store.seq()).toBe(40);
      const loaded = await s.store.load();
      expect(loaded?.seq).toBe(40);
      expect(Buffer.from(loaded!.canvas).equals(Buffer.from(replayed(batch)))).toBe(true);
    });

    it('an empty batch expecting none initialises an empty canvas at sequence 0', async () => {
      expect(await s.store.apply([], null)).toBe(0);
      expect(await s.store.load()).toEqual({ canvas: new Uint8Array(SIZE), seq: 0, ...BITMAP_SPEC });
    });

    it('a redelivery changes nothing; an overlapping batch applies only what is new', async () => {
      const first = pixels(1, 20);
      await s.store.apply(first, null);
      expect(await s.store.apply(first, 20)).toBe(20);
      // Sequences 1-20 again with other colours, then 21-30: only 21-30 may land.
      const overlapping = [...pixels(1, 20, 5), ...pixels(21, 10, 9)];
      expect(await s.store.apply(overlapping, 20)).toBe(30);
      const loaded = await s.store.load();
      expect(loaded?.seq).toBe(30);
      expect(Buffer.from(loaded!.canvas).equals(Buffer.from(replayed([...first, ...pixels(21, 10, 9)])))).toBe(true);
    });

    it('a store ahead of the caller is no conflict: the stale pixels are skipped and the stored sequence answered', async () => {
      await s.store.apply(pixels(1, 10), null);
      expect(await s.store.apply(pixels(1, 5, 3), 5)).toBe(10);
      expect(await s.store.apply(pixels(1, 5, 3), null)).toBe(10); // expecting none, holding some: no conflict either
    });

    it('pixels outside the canvas (offset y*width+x past the end) are ignored, but their sequence counts', async () => {
      await s.store.apply(
        [
          { seq: 1, x: 0, y: BITMAP_SPEC.height, color: 9 },
          { seq: 2, x: 1, y: 0, color: 4 },
        ],
        null,
      );
      const loaded = await s.store.load();
      expect(loaded?.seq).toBe(2);
      const expected = new Uint8Array(SIZE);
      expected[1] = 4;
      expect(loaded?.canvas).toEqual(expected);
    });

    it('a wiped store is a conflict with nothing usable (found null), and nothing is written', async () => {
      await s.store.apply(pixels(1, 10), null);
      await s.wipe();
      const conflict = await conflictOf(s.store.apply(pixels(11, 5), 10));
      expect(conflict.found).toBeNull();
      expect(conflict.expected).toBe(10);
      expect(await s.store.seq()).toBeNull();
      expect(await s.store.load()).toBeNull();
    });

    it('a store rolled back to an older sequence is a conflict that names it, and nothing is written', async () => {
      const all = pixels(1, 30);
      await s.store.apply(all, null);
      await s.store.replaceAll(replayed(all.slice(0, 12)), 12);
      const conflict = await conflictOf(s.store.apply(pixels(31, 5), 30));
      expect(conflict.found).toBe(12);
      const loaded = await s.store.load();
      expect(loaded?.seq).toBe(12);
      expect(Buffer.from(loaded!.canvas).equals(Buffer.from(replayed(all.slice(0, 12))))).toBe(true);
      // Replaying the gap from what it holds brings it back.
      expect(await s.store.apply(all.slice(12), 12)).toBe(30);
      expect(Buffer.from((await s.store.load())!.canvas).equals(Buffer.from(replayed(all)))).toBe(true);
    });

    it('a canvas of the wrong size is no usable projection: load is null, apply a conflict with found null', async () => {
      await s.store.apply(pixels(1, 10), null);
      await s.truncate();
      expect(await s.store.load()).toBeNull();
      expect((await conflictOf(s.store.apply(pixels(11, 1), 10))).found).toBeNull();
      expect((await conflictOf(s.store.apply(pixels(11, 1), null))).found).toBeNull();
    });

    it('replaceAll sets canvas and sequence together and refuses a canvas of the wrong size', async () => {
      const canvas = replayed(pixels(1, 50));
      await s.store.replaceAll(canvas, 50);
      expect(await s.store.load()).toEqual({ canvas, seq: 50, ...BITMAP_SPEC });
      await expect(s.store.replaceAll(new Uint8Array(SIZE + 1), 51)).rejects.toBeInstanceOf(RangeError);
      expect(await s.store.seq()).toBe(50);
    });

    it('resize grows the canvas at its sequence (old area at the origin), idempotently; later pixels use the new width', async () => {
      await s.store.apply(pixels(1, 40), null);
      const before = replayed(pixels(1, 40));
      const resize = { width: 20, height: 10, originX: 2, originY: 1 };
      expect(await s.store.resize(41, resize, 40)).toBe(41);
      expect(await s.store.resize(41, resize, 41)).toBe(41); // a redelivery changes nothing
      const grown = growCanvas(before, BITMAP_SPEC, resize);
      expect(await s.store.load()).toEqual({ canvas: grown, seq: 41, width: 20, height: 10 });
      await s.store.apply([{ seq: 42, x: 19, y: 9, color: 7 }], 41);
      const loaded = await s.store.load();
      expect(loaded?.canvas[9 * 20 + 19]).toBe(7);
      expect((await conflictOf(s.store.resize(43, { ...resize, width: 30 }, 50))).found).toBe(42);
    });

    it('load hands out a copy: changing it does not change the store', async () => {
      await s.store.apply(pixels(1, 5), null);
      const first = await s.store.load();
      first!.canvas.fill(31);
      expect(Buffer.from((await s.store.load())!.canvas).equals(Buffer.from(replayed(pixels(1, 5))))).toBe(true);
    });
  });
}
