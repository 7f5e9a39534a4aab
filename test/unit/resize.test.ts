/**
 * The resize rule and the bitmap mapping (src/domain/resize.ts): given a size and a resize, when checked or
 * applied, then the verdicts and bytes below; the timeline answers the size at every sequence.
 */
import { describe, expect, it } from 'vitest';
import { replay } from '../../src/domain/canvas.ts';
import { checkResize, growCanvas, ResizeRefusal, SizeTimeline } from '../../src/domain/resize.ts';

const r = (width: number, height: number, originX = 0, originY = 0) => ({ width, height, originX, originY });

describe('checkResize', () => {
  const now = { width: 1000, height: 1000 };
  it('accepts r/place 2022: 1000² → 2000×1000 → 2000²', () => {
    expect(checkResize(now, r(2000, 1000))).toEqual({ ok: true });
    expect(checkResize({ width: 2000, height: 1000 }, r(2000, 2000))).toEqual({ ok: true });
  });
  it('refuses shrinking either side with canvas_shrink and a message naming both sizes', () => {
    const verdict = checkResize({ width: 2000, height: 2000 }, r(1000, 1000));
    expect(verdict).toEqual({
      ok: false,
      code: ResizeRefusal.Shrink,
      message: 'the canvas only grows: 2000×2000 cannot become 1000×1000',
    });
    expect(checkResize(now, r(3000, 999))).toMatchObject({ ok: false, code: 'canvas_shrink' });
  });
  it('refuses the same size, an origin that does not fit, and sides past 8192', () => {
    expect(checkResize(now, r(1000, 1000))).toMatchObject({ ok: false, code: 'canvas_unchanged' });
    expect(checkResize(now, r(1500, 1000, 501))).toMatchObject({ ok: false, code: 'resize_origin_outside' });
    expect(checkResize(now, r(1500, 1000, 500))).toEqual({ ok: true });
    expect(checkResize(now, r(1500, 1500, -1))).toMatchObject({ ok: false, code: 'resize_origin_outside' });
    expect(checkResize(now, r(8193, 1000))).toMatchObject({ ok: false, code: 'canvas_too_large' });
    expect(checkResize(now, r(1000.5, 1000))).toMatchObject({ ok: false, code: 'canvas_too_large' });
  });
});

describe('growCanvas', () => {
  it('copies the old canvas row by row at the origin; new pixels are colour 0; the old one is untouched', () => {
    const old = Uint8Array.of(1, 2, 3, 4, 5, 6); // 3×2
    const grown = growCanvas(old, { width: 3, height: 2 }, r(5, 4, 1, 2));
    // biome-ignore format: the 5×4 picture
    expect([...grown]).toEqual([
      0, 0, 0, 0, 0,
      0, 0, 0, 0, 0,
      0, 1, 2, 3, 0,
      0, 4, 5, 6, 0,
    ]);
    expect([...old]).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('at origin (0, 0) every pixel keeps its coordinates: replay then grow = grow then replay of old-bounds events', () => {
    const events = Array.from({ length: 200 }, (_, i) => ({ x: (i * 7) % 10, y: (i * 3) % 6, color: i % 32 }));
    const a = growCanvas(replay(new Uint8Array(60), 10, events), { width: 10, height: 6 }, r(16, 9));
    const b = replay(growCanvas(new Uint8Array(60), { width: 10, height: 6 }, r(16, 9)), 16, events);
    expect(a).toEqual(b);
  });
});

describe('SizeTimeline', () => {
  it('answers the size after each sequence; records are idempotent; refused resizes are not recorded', () => {
    const t = new SizeTimeline({ width: 1000, height: 1000 });
    expect(t.record(10, r(2000, 1000))).toEqual({ ok: true });
    expect(t.record(10, r(2000, 1000))).toEqual({ ok: true });
    expect(t.record(15, r(1500, 1500))).toMatchObject({ ok: false, code: 'canvas_shrink' });
    expect(t.record(20, r(2000, 2000))).toEqual({ ok: true });
    expect(t.sizeAt(0)).toEqual({ width: 1000, height: 1000 });
    expect(t.sizeAt(9)).toEqual({ width: 1000, height: 1000 });
    expect(t.sizeAt(10)).toEqual({ width: 2000, height: 1000 });
    expect(t.sizeAt(19)).toEqual({ width: 2000, height: 1000 });
    expect(t.sizeAt(25)).toEqual({ width: 2000, height: 2000 });
    expect(t.resizes.map((x) => x.seq)).toEqual([10, 20]);
    expect(() => t.record(5, r(3000, 3000))).toThrow(RangeError);
  });
});
