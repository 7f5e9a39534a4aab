import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FlushWindow } from '../../src/domain/edge/flush-window.ts';

describe('FlushWindow', () => {
  it('given quiet flushes, when observed, then the window stays at its minimum', () => {
    const w = new FlushWindow({ minMs: 50, maxMs: 250 });
    for (let i = 0; i < 100; i++) expect(w.observe(0.5)).toBe(50);
  });

  it('given flushes costing 60 ms, when sustained, then the window settles where flushing takes half the time', () => {
    const w = new FlushWindow({ minMs: 50, maxMs: 250 });
    for (let i = 0; i < 100; i++) w.observe(60);
    expect(w.windowMs).toBeCloseTo(120, 0);
  });

  it('given flushes costing more than the budget allows, then the window stops at the budget', () => {
    const w = new FlushWindow({ minMs: 50, maxMs: 250 });
    for (let i = 0; i < 100; i++) w.observe(1_000);
    expect(w.windowMs).toBe(250);
  });

  it('given load then quiet, then the window comes back to its minimum within a few dozen flushes', () => {
    const w = new FlushWindow({ minMs: 50, maxMs: 250 });
    for (let i = 0; i < 50; i++) w.observe(500);
    let flushes = 0;
    while (w.windowMs > 50 && flushes < 1_000) {
      w.observe(1);
      flushes++;
    }
    expect(w.windowMs).toBe(50);
    expect(flushes).toBeLessThan(40);
  });

  it('given min = max, then the window is fixed', () => {
    const w = new FlushWindow({ minMs: 50, maxMs: 50 });
    expect(w.observe(10_000)).toBe(50);
  });

  it('rejects an empty range', () => {
    expect(() => new FlushWindow({ minMs: 100, maxMs: 50 })).toThrow(RangeError);
    expect(() => new FlushWindow({ minMs: 0, maxMs: 50 })).toThrow(RangeError);
  });

  it('property: whatever the costs (negative, NaN, huge), the window stays within [min, max]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 500 }),
        fc.integer({ min: 0, max: 500 }),
        fc.array(fc.oneof(fc.double({ noNaN: false }), fc.constant(Number.NaN), fc.constant(Number.POSITIVE_INFINITY))),
        (min, extra, costs) => {
          const w = new FlushWindow({ minMs: min, maxMs: min + extra });
          for (const c of costs) {
            const ms = w.observe(c);
            expect(ms).toBeGreaterThanOrEqual(min);
            expect(ms).toBeLessThanOrEqual(min + extra);
          }
        },
      ),
    );
  });
});
