import { describe, expect, it } from 'vitest';
import { StallDetector } from '../../src/domain/stall-detector.ts';

const at = (next: number, busy = false) => ({ next, busy });

describe('StallDetector', () => {
  it('calls a delivery stalled after two still checks with the stream holding the awaited event', () => {
    const d = new StallDetector(2);
    expect(d.moved(at(10))).toBe(true); // first sight
    expect(d.observe(at(10), 12)).toBe(false); // strike 1
    expect(d.observe(at(10), 12)).toBe(true); // strike 2: stalled
    expect(d.observe(at(10), 12)).toBe(false); // counting starts again after a stall
    expect(d.observe(at(10), 12)).toBe(true);
  });

  it('a caught-up reader on a quiet stream is never stalled', () => {
    const d = new StallDetector(2);
    d.moved(at(13));
    for (let i = 0; i < 10; i++) expect(d.observe(at(13), 12)).toBe(false);
  });

  it('progress, a busy reader or an unanswered stream-info each break the count', () => {
    const d = new StallDetector(2);
    d.moved(at(5));
    expect(d.observe(at(5), 9)).toBe(false);
    expect(d.observe(at(6), 9)).toBe(false); // moved: reset
    expect(d.observe(at(6), 9)).toBe(false); // strike 1
    expect(d.observe(at(6, true), 9)).toBe(false); // busy: reset
    expect(d.observe(at(6), 9)).toBe(false); // strike 1 again
    expect(d.observe(at(6), undefined)).toBe(false); // no evidence: keeps the count
    expect(d.observe(at(6), 9)).toBe(true);
    d.moved(at(7));
    expect(d.observe(at(7), 9)).toBe(false);
    expect(d.observe(at(7), 6)).toBe(false); // stream below next: reset
    expect(d.observe(at(7), 9)).toBe(false);
  });
});
