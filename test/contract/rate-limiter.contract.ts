/**
 * The rate-limit contract (fake and Redis GCRA): a burst of `limit` takes, then refusals that say how long
 * to wait (at most one interval, `windowMs / limit`), one more take per interval, independent keys, `reset`.
 */
import { describe, expect, it } from 'vitest';
import type { RateLimiter } from '../../src/ports/auth.ts';

export interface RateSubject {
  readonly limiter: RateLimiter;
  pass(ms: number): Promise<void>;
}

export function rateLimiterContract(label: string, open: () => Promise<RateSubject>): void {
  describe(`rate limiter contract: ${label}`, () => {
    const key = () => `k-${Math.random().toString(36).slice(2)}`;

    it('allows a burst of `limit`, then refuses with a wait of at most one interval', async () => {
      const { limiter } = await open();
      const k = key();
      for (let i = 0; i < 5; i++) expect(await limiter.take(k, 5, 60_000)).toEqual({ allowed: true });
      const refused = await limiter.take(k, 5, 60_000);
      expect(refused.allowed).toBe(false);
      if (refused.allowed) return;
      expect(refused.retryAfterMs).toBeGreaterThan(11_000);
      expect(refused.retryAfterMs).toBeLessThanOrEqual(12_000);
      expect(await limiter.take(key(), 5, 60_000)).toEqual({ allowed: true }); // another key: its own budget
    });

    it('refills one take per interval', async () => {
      const s = await open();
      const k = key();
      // A 1 s interval: the takes around each step must run within it, even on a loaded machine.
      for (let i = 0; i < 4; i++) await s.limiter.take(k, 4, 4_000);
      expect((await s.limiter.take(k, 4, 4_000)).allowed).toBe(false);
      await s.pass(1_100); // one interval and a margin
      expect(await s.limiter.take(k, 4, 4_000)).toEqual({ allowed: true });
      expect((await s.limiter.take(k, 4, 4_000)).allowed).toBe(false);
    });

    it('reset gives the whole burst back', async () => {
      const { limiter } = await open();
      const k = key();
      for (let i = 0; i < 3; i++) await limiter.take(k, 3, 60_000);
      expect((await limiter.take(k, 3, 60_000)).allowed).toBe(false);
      await limiter.reset(k);
      for (let i = 0; i < 3; i++) expect(await limiter.take(k, 3, 60_000)).toEqual({ allowed: true });
    });
  });
}
