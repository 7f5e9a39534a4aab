/**
 * Time, as a port: use cases never call `Date.now()` themselves, so tests drive them with a fake clock.
 * The production clock is `systemClock` in src/adapters/system-clock.ts.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}
