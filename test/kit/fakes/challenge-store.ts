/** `ChallengeStore` in memory on a `Clock`: keys expire after `ttlSeconds`; `take` reads and deletes. */
import type { ChallengeStore } from '../../../src/ports/auth.ts';
import type { Clock } from '../../../src/ports/clock.ts';

export function createFakeChallengeStore(clock: Clock = { now: () => Date.now() }): ChallengeStore {
  const values = new Map<string, { value: string; expiresAt: number }>();
  const live = (key: string) => {
    const v = values.get(key);
    if (v && v.expiresAt <= clock.now()) values.delete(key);
    return values.get(key);
  };
  return {
    async put(key, value, ttlSeconds) {
      values.set(key, { value, expiresAt: clock.now() + ttlSeconds * 1000 });
    },
    async take(key) {
      const v = live(key);
      values.delete(key);
      return v?.value ?? null;
    },
    async has(key) {
      return live(key) !== undefined;
    },
  };
}
