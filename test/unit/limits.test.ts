import { describe, expect, it } from 'vitest';
import { fullBucket, KeyedBuckets, msUntil, perMinute, Slots, takeToken } from '../../src/domain/limits.ts';
import { isImpossibleDate, parseIsoTime, parseTime as parseApiTime } from '../../src/domain/time.ts';
import { parseTime as parseCliTime } from '../../src/cli/commands/mod.ts';

describe('token bucket', () => {
  it('allows a burst, then one token per interval, and says when the next one comes', () => {
    const rate = { perSecond: 2, burst: 3 };
    const bucket = fullBucket(rate, 0);
    expect([1, 2, 3, 4].map(() => takeToken(bucket, rate, 0))).toEqual([true, true, true, false]);
    expect(msUntil(bucket, rate, 0)).toBe(500);
    expect(takeToken(bucket, rate, 499)).toBe(false);
    expect(takeToken(bucket, rate, 500)).toBe(true);
    expect(takeToken(bucket, rate, 10_000_000)).toBe(true);
    expect(bucket.tokens).toBe(2); // refills up to the burst, never past it
  });

  it('perMinute(n) allows n at once and n per minute after', () => {
    const rate = perMinute(6);
    const bucket = fullBucket(rate, 0);
    let allowed = 0;
    for (let t = 0; t < 60_000; t += 100) if (takeToken(bucket, rate, t)) allowed++;
    expect(allowed).toBe(6 + 5); // the burst, then one every 10 s within the minute
  });

  it('keeps one bucket per key in a bounded map', () => {
    const buckets = new KeyedBuckets({ perSecond: 1, burst: 2 }, 100);
    expect([buckets.take('a', 0), buckets.take('a', 0), buckets.take('a', 0)]).toEqual([0, 0, 1000]);
    expect(buckets.take('b', 0)).toBe(0); // another key has its own
    for (let i = 0; i < 10_000; i++) buckets.take(`k${i}`, 1);
    expect(buckets.size).toBeLessThanOrEqual(100);
  });
});

describe('slots', () => {
  it('caps holders globally and per key, and frees on release', () => {
    const slots = new Slots(3, 2);
    expect([slots.acquire('a'), slots.acquire('a'), slots.acquire('a')]).toEqual([null, null, 'per_key']);
    expect([slots.acquire('b'), slots.acquire('c')]).toEqual([null, 'busy']);
    slots.release('a');
    expect(slots.acquire('c')).toBeNull();
    slots.release('nobody'); // a release without an acquire changes nothing
    expect(slots.held).toBe(3);
  });
});

describe('time parsers reject dates that do not exist', () => {
  it('every parser refuses 30 February, month 13, hour 24 and the like', () => {
    for (const bad of [
      '2026-02-30T00:00:00Z',
      '2025-02-29T00:00:00Z',
      '2026-04-31T12:00:00Z',
      '2026-13-01T00:00:00Z',
      '2026-00-10T00:00:00Z',
      '2026-04-01T24:00:00Z',
      '2026-04-01T12:60:00Z',
      '2026-04-01T12:00:61Z',
      '2026-04-01T12:00:00+25:00',
    ]) {
      expect(parseIsoTime(bad), bad).toBeNull();
      expect(parseApiTime(bad), bad).toBeNull();
      expect(() => parseCliTime(bad), bad).toThrow(/not a time/);
    }
    expect(() => parseCliTime('2026-02-30')).toThrow(/not a time/);
    expect(isImpossibleDate('2026-02-30')).toBe(true);
  });

  it('accepts real ones, leap days included', () => {
    expect(parseIsoTime('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseApiTime('2026-04-01T14:00:00.5+02:00')).toBe(Date.UTC(2026, 3, 1, 12, 0, 0, 500));
    expect(parseCliTime('2026-04-01T12:00:00Z')).toBe(Date.UTC(2026, 3, 1, 12));
    expect(parseCliTime('2026-04-01')).toBe(Date.UTC(2026, 3, 1));
    expect(parseCliTime('30m', 3_600_000)).toBe(1_800_000);
  });
});
