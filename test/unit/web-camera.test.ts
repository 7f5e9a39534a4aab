/** The web client's pure view math and countdown formatting (web/src/camera.ts, web/src/placement.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cameraFromHash, cameraToHash, clampCamera, MAX_ZOOM, panBy, pixelAt, screenToCanvas, visibleRegion, zoomAt } from '../../web/src/camera.ts';
import { formatCountdown } from '../../web/src/placement.ts';

const view = { width: 800, height: 600 };
const canvas = { width: 2000, height: 2000 };

describe('camera', () => {
  it('zooming keeps the canvas point under the pointer where it was', () => {
    fc.assert(fc.property(
      fc.double({ min: 0, max: 2000, noNaN: true }), fc.double({ min: 0, max: 2000, noNaN: true }),
      fc.double({ min: 0.5, max: 32, noNaN: true }), fc.double({ min: 0.5, max: 2, noNaN: true }),
      fc.integer({ min: 0, max: 800 }), fc.integer({ min: 0, max: 600 }),
      (x, y, zoom, factor, sx, sy) => {
        const cam = { x, y, zoom };
        const before = screenToCanvas(cam, view, sx, sy);
        const after = screenToCanvas(zoomAt(cam, view, canvas, factor, sx, sy), view, sx, sy);
        expect(after.x).toBeCloseTo(before.x, 6);
        expect(after.y).toBeCloseTo(before.y, 6);
      },
    ));
  });

  it('a drag moves the canvas with the pointer', () => {
    const cam = panBy({ x: 100, y: 100, zoom: 4 }, 40, -20);
    expect(cam).toEqual({ x: 90, y: 105, zoom: 4 });
  });

  it('clamps zoom and keeps the centre on the canvas', () => {
    expect(clampCamera({ x: -5, y: 5000, zoom: 1000 }, view, canvas)).toEqual({ x: 0, y: 2000, zoom: MAX_ZOOM });
  });

  it('finds the pixel under a point, and none off the canvas', () => {
    const cam = { x: 10, y: 10, zoom: 10 };
    expect(pixelAt(cam, view, canvas, 400, 300)).toEqual({ x: 10, y: 10 });
    expect(pixelAt(cam, view, canvas, 399, 299)).toEqual({ x: 9, y: 9 });
    expect(pixelAt(cam, view, canvas, 0, 0)).toBeNull();
  });

  it('the visible region is clipped to the canvas', () => {
    expect(visibleRegion({ x: 10, y: 10, zoom: 10 }, view, canvas)).toEqual({ x: 0, y: 0, w: 50, h: 40 });
  });

  it('the URL hash round-trips a view and rejects garbage', () => {
    expect(cameraFromHash(cameraToHash({ x: 120.4, y: 340.6, zoom: 8 }))).toEqual({ x: 120, y: 341, zoom: 8 });
    expect(cameraFromHash('#x=1&y=2')).toBeNull();
    expect(cameraFromHash('#x=a&y=2&z=3')).toBeNull();
    expect(cameraFromHash('#x=1&y=2&z=-3')).toBeNull();
    expect(cameraFromHash('')).toBeNull();
  });
});

describe('formatCountdown', () => {
  it('rounds up so 0:00 means placing is allowed', () => {
    expect(formatCountdown(0)).toBe('0:00');
    expect(formatCountdown(1)).toBe('0:01');
    expect(formatCountdown(59_001)).toBe('1:00');
    expect(formatCountdown(300_000)).toBe('5:00');
    expect(formatCountdown(3_600_000 + 61_000)).toBe('1:01:01');
    expect(formatCountdown(-5)).toBe('0:00');
  });
});
