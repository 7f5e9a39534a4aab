import type { Clock } from '../ports/clock.ts';

/** The wall clock (`Date.now()`), the `Clock` every role runs with. */
export const systemClock: Clock = { now: () => Date.now() };
