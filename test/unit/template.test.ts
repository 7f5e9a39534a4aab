/** Templates, the pure part (web/src/template.ts): palette mapping, progress counting, links. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import {
  mapToPalette,
  NO_PIXEL,
  placementProblem,
  Progress,
  scaleRgba,
  templatesFromHash,
  templatesToHash,
  UNMATCHED,
} from '../../web/src/template.ts';

const HEX = PALETTE_32.map((p) => p.hex);
const index = (name: string) => PALETTE_32.findIndex((p) => p.name === name);

function rgba(pixels: [number, number, number, number][]): Uint8ClampedArray {
  return new Uint8ClampedArray(pixels.flat());
}

/** The reference count: every template pixel classified from the canvas bytes, no state kept. */
function countFromCanvas(
  canvas: Uint8Array,
  canvasWidth: number,
  t: { x: number; y: number; width: number; height: number; target: Uint8Array },
) {
  let right = 0,
    wrong = 0,
    remaining = 0,
    total = 0;
  for (let ty = 0; ty < t.height; ty++) {
    for (let tx = 0; tx < t.width; tx++) {
      const target = t.target[ty * t.width + tx] as number;
      if (target >= UNMATCHED) continue;
      total++;
      const c = canvas[(t.y + ty) * canvasWidth + t.x + tx];
      if (c === target) right++;
      else if (c === 0) remaining++;
      else wrong++;
    }
  }
  return { total, right, wrong, remaining };
}

describe('mapToPalette', () => {
  it('maps exact palette colours to themselves, near shades to the perceptually nearest, and reports the rest', () => {
    const m = mapToPalette(
      rgba([
        [0xff, 0x45, 0x00, 255], // red, exactly
        [0x00, 0xa0, 0x66, 255], // a shade off dark green
        [0x80, 0x80, 0x80, 0], // transparent: no pixel
        [0xff, 0x00, 0xff, 255], // pure magenta: 0.166 from purple, the nearest r/place 2022 colour
        [0xff, 0x45, 0x00, 255],
      ]),
      5,
      1,
      HEX,
    );
    expect([...m.target]).toEqual([index('red'), index('dark green'), NO_PIXEL, index('purple'), index('red')]);
    expect(m.transparent).toBe(1);
    expect(m.mapping[0]).toMatchObject({ rgb: 0xff4500, color: index('red'), distance: 0, pixels: 2 });
    const magenta = m.mapping.find((e) => e.rgb === 0xff00ff)!;
    expect(magenta.distance).toBeCloseTo(0.166, 3);
    // With a stricter threshold it is unmatched and counted as such; with a looser one it maps.
    const strict = mapToPalette(rgba([[0xff, 0x00, 0xff, 255]]), 1, 1, HEX, { maxDistance: 0.15 });
    expect([...strict.target]).toEqual([UNMATCHED]);
    expect(strict.unmatched).toBe(1);
    const loose = mapToPalette(rgba([[0xff, 0x00, 0xff, 255]]), 1, 1, HEX, { maxDistance: 1 });
    expect(loose.target[0]).toBeLessThan(32);
  });

  it('keeps near-black and near-white shades by default (OKLab stretches the darks) and flags what has no neighbour', () => {
    const m = mapToPalette(
      rgba([
        [0x10, 0x10, 0x10, 255],
        [0xfe, 0xfe, 0xfe, 255],
      ]),
      2,
      1,
      HEX,
    );
    expect([...m.target]).toEqual([index('black'), index('white')]);
    // #000F4B (a very dark navy) lies 0.24 from every colour of the palette, the farthest any sRGB colour does.
    const far = mapToPalette(rgba([[0x00, 0x0f, 0x4b, 255]]), 1, 1, HEX);
    expect(far.mapping[0]!.distance).toBeGreaterThan(0.18);
    expect([...far.target]).toEqual([UNMATCHED]);
  });
});

describe('scaleRgba', () => {
  it('halves an image drawn at 2× back to its pixels, and doubles one', () => {
    const one = rgba([
      [1, 0, 0, 255],
      [2, 0, 0, 255],
      [3, 0, 0, 255],
      [4, 0, 0, 255],
    ]);
    const doubled = scaleRgba(one, 2, 2, 2);
    expect([doubled.width, doubled.height]).toEqual([4, 4]);
    expect([...doubled.rgba].filter((_, i) => i % 4 === 0)).toEqual([1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    const back = scaleRgba(doubled.rgba, 4, 4, 0.5);
    expect([...back.rgba]).toEqual([...one]);
  });
});

describe('placementProblem', () => {
  const canvas = { width: 100, height: 50 };
  it('accepts a template wholly on the canvas and says why otherwise', () => {
    expect(placementProblem({ x: 0, y: 0, width: 100, height: 50 }, canvas)).toBeNull();
    expect(placementProblem({ x: -1, y: 0, width: 1, height: 1 }, canvas)).toMatch(/off the canvas/);
    expect(placementProblem({ x: 100, y: 0, width: 1, height: 1 }, canvas)).toMatch(/off the canvas/);
    expect(placementProblem({ x: 90, y: 0, width: 20, height: 1 }, canvas)).toMatch(/runs off the 100×50 canvas/);
  });
});

describe('Progress', () => {
  it('counted per update equals a count from the canvas bytes, for any template and any updates', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 8 }),
        fc.integer({ min: 0, max: 8 }),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 144, maxLength: 144 }),
        fc.array(
          fc.tuple(fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 19 }), fc.integer({ min: 0, max: 5 })),
          { maxLength: 300 },
        ),
        (w, h, x, y, raw, updates) => {
          const W = 20;
          // Few colours so that right, wrong and remaining all happen; some no-pixel and unmatched.
          const target = new Uint8Array(w * h).map((_, i) => {
            const v = raw[i] as number;
            return v > 240 ? NO_PIXEL : v > 230 ? UNMATCHED : v % 6;
          });
          const canvas = new Uint8Array(W * W).map((_, i) => (raw[i % raw.length] as number) % 6);
          const t = { x, y, width: w, height: h, target };
          const progress = new Progress(t);
          progress.recount(canvas, W);
          expect(progress.value).toEqual(countFromCanvas(canvas, W, t));
          const records = new Uint8Array(updates.length * 5);
          updates.forEach(([px, py, c], k) => {
            records.set([px & 0xff, px >> 8, py & 0xff, py >> 8, c], k * 5);
            canvas[py * W + px] = c;
          });
          progress.updateRecords(records, updates.length);
          expect(progress.value).toEqual(countFromCanvas(canvas, W, t));
        },
      ),
    );
  });

  it('finds the next pixel still to do, wrapping around, with the colour it needs', () => {
    const target = new Uint8Array([3, NO_PIXEL, 5, 7]);
    const progress = new Progress({ x: 10, y: 20, width: 2, height: 2, target });
    const W = 30;
    const canvas = new Uint8Array(W * W);
    canvas[20 * W + 10] = 3; // right
    progress.recount(canvas, W);
    const first = progress.nextWrong();
    expect(first).toEqual({ x: 10, y: 21, color: 5, index: 2 });
    expect(progress.nextWrong(first!.index)).toEqual({ x: 11, y: 21, color: 7, index: 3 });
    expect(progress.nextWrong(3)).toEqual(first);
    const changed: [number, boolean][] = [];
    progress.onChange = (i, wrong) => changed.push([i, wrong]);
    progress.update(10, 21, 5);
    progress.update(11, 21, 7);
    progress.update(11, 20, 9); // no pixel there: ignored
    expect(changed).toEqual([
      [2, false],
      [3, false],
    ]);
    expect(progress.nextWrong()).toBeNull();
    expect(progress.value).toEqual({ total: 3, right: 3, wrong: 0, remaining: 0 });
  });
});

describe('template links', () => {
  it('round-trips http(s) templates through the hash beside the camera, and drops local files and junk', () => {
    const hash = templatesToHash('#x=1&y=2&z=3', [
      { src: 'https://example.org/a.png?v=1&w=2', x: 10, y: 20, scale: 1 },
      { src: 'data:image/png;base64,AAAA', x: 0, y: 0, scale: 1 },
      { src: 'http://example.org/b.png', x: 0, y: 5, scale: 0.5 },
    ]);
    expect(new URLSearchParams(hash.slice(1)).get('z')).toBe('3');
    expect(templatesFromHash(hash)).toEqual([
      { src: 'https://example.org/a.png?v=1&w=2', x: 10, y: 20, scale: 1 },
      { src: 'http://example.org/b.png', x: 0, y: 5, scale: 0.5 },
    ]);
    expect(templatesFromHash('#tpl=1,2,3,javascript:alert(1)&tpl=-1,0,1,https://x&tpl=1,1,0,https://x')).toEqual([]);
  });
});
