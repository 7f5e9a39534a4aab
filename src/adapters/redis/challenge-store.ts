/** Proof-of-work challenges and "cleared" marks in Redis: `<prefix>chal:<key>` with an expiry; `take` is GETDEL. */
import type { Redis } from 'ioredis';
import type { ChallengeStore } from '../../ports/auth.ts';

export function createRedisChallengeStore(redis: Redis, redisPrefix: string): ChallengeStore {
  const key = (k: string) => `${redisPrefix}chal:${k}`;
  return {
    async put(k, value, ttlSeconds) {
      await redis.set(key(k), value, 'EX', ttlSeconds);
    },
    take: (k) => redis.getdel(key(k)),
    async has(k) {
      return (await redis.exists(key(k))) === 1;
    },
  };
}
