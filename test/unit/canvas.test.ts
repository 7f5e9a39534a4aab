/**
 * The pure canvas core: geometry, applyPixel/replay (the one function every projection shares) and
 * placement validation.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyPixel,
  createCanvas,
  MAX_CANVAS_SIDE,
  pixelOffset,
  replay,
  type CanvasSpec,
  type PixelChange,
} from '../../src/domain/canvas.ts';
import { PALETTE_16, PALETTE_32, paletteRgba } from '../../src/domain/palette.ts';
import { checkPlacement } from '../../src/domain/placement.ts';

const spec: CanvasSpec = { width: 2000, height: 2000, palette: PALETTE_32 };
const small: CanvasSpec = { width: 7, height: 5, palette: PALETTE_16 };

/** Changes valid for `s`. */
const changesArb = (s: CanvasSpec, maxLength = 200) =>
  fc.array(
    fc.record({
      x: fc.integer({ min: 0, max: s.width - 1 }),
      y: fc.integer({ min: 0, max: s.height - 1 }),
      color: fc.integer({ min: 0, max: s.palette.length - 1 }),
    }),
    { maxLength },
  );

describe('geometry', () => {
  it('a canvas is width*height bytes, all white (index 0)', () => {
    const canvas = createCanvas(small);
    expect(canvas.length).toBe(35);
    expect(canvas.every((b) => b === 0)).toBe(true);
    expect(PALETTE_32[0]!.hex).toBe('#FFFFFF');
    expect(PALETTE_16[0]!.hex).toBe('#FFFFFF');
  });

  it('pixel (x, y) is byte y*width+x: row-major, corners included', () => {
    expect(pixelOffset(small, 0, 0)).toBe(0);
    expect(pixelOffset(small, 6, 0)).toBe(6);
    expect(pixelOffset(small, 0, 1)).toBe(7);
    expect(pixelOffset(small, 6, 4)).toBe(34);
    expect(pixelOffset(spec, 1999, 1999)).toBe(2000 * 2000 - 1);
  });

  it('offsets are a bijection between the canvas and 0..width*height-1', () => {
    const seen = new Set<number>();
    for (let y = 0; y < small.height; y++) for (let x = 0; x < small.width; x++) seen.add(pixelOffset(small, x, y));
    expect(seen.size).toBe(35);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(34);
  });

  it('palettes have 32 and 16 distinct colours and RGBA bytes per index', () => {
    expect(new Set(PALETTE_32.map((c) => c.hex)).size).toBe(32);
    expect(new Set(PALETTE_16.map((c) => c.hex)).size).toBe(16);
    const rgba = paletteRgba(PALETTE_32);
    expect(rgba.length).toBe(128);
    expect([...rgba.subarray(3 * 4, 4 * 4)]).toEqual([0xff, 0x45, 0x00, 0xff]); // #FF4500
  });
});

describe('applyPixel and replay', () => {
  it('given a blank canvas, when one pixel is applied, then exactly that byte changes', () => {
    const canvas = createCanvas(small);
    applyPixel(canvas, small.width, { x: 3, y: 2, color: 9 });
    expect(canvas[2 * 7 + 3]).toBe(9);
    expect(canvas.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0)).toBe(1);
  });

  it('mutates in place and returns the same array (no 4 MB copy per event)', () => {
    const canvas = createCanvas(spec);
    expect(replay(canvas, spec.width, [{ x: 1, y: 1, color: 2 }])).toBe(canvas);
    expect(canvas[2001]).toBe(2);
  });

  it('the last write to a pixel wins', () => {
    const canvas = replay(createCanvas(small), small.width, [
      { x: 1, y: 1, color: 3 },
      { x: 1, y: 1, color: 5 },
      { x: 1, y: 1, color: 0 },
      { x: 1, y: 1, color: 15 },
    ]);
    expect(canvas[8]).toBe(15);
  });

  it('replay equals applying each change in order (property)', () => {
    fc.assert(
      fc.property(changesArb(small), (changes) => {
        const a = replay(createCanvas(small), small.width, changes);
        const b = createCanvas(small);
        for (const c of changes) applyPixel(b, small.width, c);
        expect(a).toEqual(b);
      }),
    );
  });

  it('snapshot + tail equals the whole stream, at any split point (the golden invariant)', () => {
    fc.assert(
      fc.property(changesArb(small), fc.nat(), (changes, at) => {
        const split = changes.length === 0 ? 0 : at % (changes.length + 1);
        const whole = replay(createCanvas(small), small.width, changes);
        const snapshot = replay(createCanvas(small), small.width, changes.slice(0, split)).slice();
        expect(replay(snapshot, small.width, changes.slice(split))).toEqual(whole);
      }),
    );
  });

  it('each pixel ends as the colour of its last change, and untouched pixels stay white (property)', () => {
    fc.assert(
      fc.property(changesArb(small), (changes) => {
        const canvas = replay(createCanvas(small), small.width, changes);
        const last = new Map<number, number>();
        for (const c of changes) last.set(c.y * small.width + c.x, c.color);
        for (let i = 0; i < canvas.length; i++) expect(canvas[i]).toBe(last.get(i) ?? 0);
      }),
    );
  });

  it('accepts any iterable, e.g. a generator over decoded events', () => {
    function* changes(): Generator<PixelChange> {
      yield { x: 0, y: 0, color: 1 };
      yield { x: 6, y: 4, color: 2 };
    }
    const canvas = replay(createCanvas(small), small.width, changes());
    expect([canvas[0], canvas[34]]).toEqual([1, 2]);
  });
});

describe('checkPlacement', () => {
  it('accepts every in-bounds pixel and palette colour, corners included', () => {
    for (const [x, y] of [
      [0, 0],
      [1999, 0],
      [0, 1999],
      [1999, 1999],
    ] as const) {
      expect(checkPlacement(spec, x, y, 0)).toEqual({ ok: true });
      expect(checkPlacement(spec, x, y, 31)).toEqual({ ok: true });
    }
  });

  it.each([
    [-1, 0],
    [0, -1],
    [2000, 0],
    [0, 2000],
    [1.5, 3],
    [3, 0.5],
    [Number.NaN, 0],
    [Number.POSITIVE_INFINITY, 0],
    [MAX_CANVAS_SIDE, 0],
  ])('rejects coordinates (%s, %s) with invalid_coordinates and a message naming the canvas', (x, y) => {
    const result = checkPlacement(spec, x, y, 1);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('invalid_coordinates');
      expect(result.message).toContain('2000x2000');
    }
  });

  it.each([[-1], [32], [255], [2.5], [Number.NaN]])('rejects colour %s with invalid_color', (color) => {
    const result = checkPlacement(spec, 1, 1, color);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('invalid_color');
      expect(result.message).toContain('32-colour');
    }
  });

  it('uses the palette of the spec: colour 16 is valid with 32 colours, not with 16', () => {
    expect(checkPlacement(spec, 0, 0, 16).ok).toBe(true);
    expect(checkPlacement(small, 0, 0, 16)).toMatchObject({ ok: false, code: 'invalid_color' });
  });

  it('checks coordinates before colour', () => {
    expect(checkPlacement(spec, -1, 0, 99)).toMatchObject({ ok: false, code: 'invalid_coordinates' });
  });

  it('agrees with a direct definition for arbitrary numbers, and never throws (property)', () => {
    const num = fc.oneof(
      fc.integer({ min: -10, max: 2100 }),
      fc.double(),
      fc.constantFrom(Number.NaN, -0, Number.MAX_SAFE_INTEGER),
    );
    fc.assert(
      fc.property(num, num, num, (x, y, color) => {
        const inBounds = Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < 2000 && y < 2000;
        const colourOk = Number.isInteger(color) && color >= 0 && color < 32;
        const result = checkPlacement(spec, x, y, color);
        expect(result.ok).toBe(inBounds && colourOk);
        if (!inBounds) expect(result).toMatchObject({ code: 'invalid_coordinates' });
        else if (!colourOk) expect(result).toMatchObject({ code: 'invalid_color' });
      }),
      { numRuns: 2_000 },
    );
  });
});
