/**
 * `RateLimiter` in memory on a `Clock`: the same GCRA as the Redis script (redis/rate-limits.ts), so a
 * burst of `limit` takes is allowed, then one per `windowMs / limit`, and a refusal says how long to wait.
 */
import type { RateDecision, RateLimiter } from '../../../src/ports/auth.ts';
import type { Clock } from '../../../src/ports/clock.ts';

export function createFakeRateLimiter(clock: Clock = { now: () => Date.now() }): RateLimiter {
  const tats = new Map<string, number>();
  return {
    async take(key, limit, windowMs): Promise<RateDecision> {
      const now = clock.now();
      const interval = windowMs / limit;
      const tat = Math.max(tats.get(key) ?? 0, now);
      const allowAt = tat + interval - windowMs;
      if (allowAt > now) return { allowed: false, retryAfterMs: Math.ceil(allowAt - now) };
      tats.set(key, tat + interval);
      return { allowed: true };
    },
    async reset(key) {
      tats.delete(key);
    },
  };
}
