/** The web client's pure view math and countdown formatting (web/src/camera.ts, web/src/placement.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  cameraFromHash,
  cameraToHash,
  clampCamera,
  MAX_ZOOM,
  panBy,
  pixelAt,
  pixelFromHash,
  PLACE_ZOOM,
  screenToCanvas,
  shareHash,
  visibleRegion,
  withCamera,
  zoomAt,
  zoomToPlace,
} from '../../web/src/camera.ts';
import { formatCountdown } from '../../web/src/placement.ts';
import { reconnectDelay } from '../../src/client/index.ts';

const view = { width: 800, height: 600 };
const canvas = { width: 2000, height: 2000 };

describe('camera', () => {
  it('zooming keeps the canvas point under the pointer where it was', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0, max: 2000, noNaN: true }),
        fc.double({ min: 0.5, max: 32, noNaN: true }),
        fc.double({ min: 0.5, max: 2, noNaN: true }),
        fc.integer({ min: 0, max: 800 }),
        fc.integer({ min: 0, max: 600 }),
        (x, y, zoom, factor, sx, sy) => {
          const cam = { x, y, zoom };
          const before = screenToCanvas(cam, view, sx, sy);
          const after = screenToCanvas(zoomAt(cam, view, canvas, factor, sx, sy), view, sx, sy);
          expect(after.x).toBeCloseTo(before.x, 6);
          expect(after.y).toBeCloseTo(before.y, 6);
        },
      ),
    );
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

describe('placing that cannot miss', () => {
  it('a tap while zoomed out zooms to PLACE_ZOOM keeping the tapped canvas point under the finger', () => {
    const cam = { x: 1000, y: 1000, zoom: 0.32 };
    const before = screenToCanvas(cam, view, 123, 456);
    const next = zoomToPlace(cam, view, canvas, 123, 456);
    expect(next.zoom).toBe(PLACE_ZOOM);
    const after = screenToCanvas(next, view, 123, 456);
    expect(after.x).toBeCloseTo(before.x, 6);
    expect(after.y).toBeCloseTo(before.y, 6);
  });

  it('keeps templates and the shared pixel in the hash when the camera moves, and links to a selected pixel', () => {
    const hash = withCamera('#x=1&y=2&z=3&tpl=0,0,1,https://e.org/a.png', { x: 10, y: 20, zoom: 4 });
    const params = new URLSearchParams(hash.slice(1));
    expect([params.get('x'), params.get('y'), params.get('z'), params.get('tpl')]).toEqual([
      '10',
      '20',
      '4',
      '0,0,1,https://e.org/a.png',
    ]);
    const shared = shareHash(hash, { x: 10, y: 20, zoom: 1 }, { x: 700, y: 701 });
    expect(pixelFromHash(shared, canvas)).toEqual({ x: 700, y: 701 });
    expect(cameraFromHash(shared)).toEqual({ x: 701, y: 702, zoom: PLACE_ZOOM * 2 });
    expect(pixelFromHash(shareHash(shared, { x: 5, y: 6, zoom: 2 }, null), canvas)).toBeNull();
    expect(pixelFromHash('#p=2000,0', canvas)).toBeNull();
  });
});

describe('reconnect delay', () => {
  it('retries at once (within firstMs), then backs off doubling to the cap, with jitter on top', () => {
    const b = { firstMs: 250, initialMs: 1000, maxMs: 30_000, jitterMs: 1000 };
    expect(reconnectDelay(0, b, 0)).toBe(0);
    expect(reconnectDelay(0, b, 0.999)).toBeLessThan(250);
    expect([1, 2, 3, 4, 5, 6, 7].map((a) => reconnectDelay(a, b, 0))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(reconnectDelay(3, b, 0.5)).toBe(4500);
  });
});
