/** A `Clock` a test moves by hand, so cooldowns, TTLs and duplicate windows expire without waiting. */
import type { Clock } from '../../../src/ports/clock.ts';

export interface ManualClock extends Clock {
  advance(ms: number): void;
  set(ms: number): void;
}

export function createManualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance(ms) {
      if (!(ms >= 0)) throw new RangeError(`a clock only moves forward, got ${ms} ms`);
      now += ms;
    },
    set(ms) {
      now = ms;
    },
  };
}
