/**
 * Sessions in Redis: `<prefix>session:<sha256(id)>` → JSON, with `EX` = the session's lifetime, so an
 * expired session is gone without any sweeper. Only the hash of the id is stored (see sessions.ts).
 */
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { SessionData, SessionStore } from '../../ports/auth.ts';
import { sessionKey } from '../../app/auth/sessions.ts';
import { storeUnavailable } from './connect.ts';

const Stored = z.object({
  userId: z.string(),
  username: z.string(),
  accountCreatedAt: z.number(),
  createdAt: z.number(),
});

/** The key of the session whose id hashes to `hash` (the admission script checks it too). */
export const sessionKeyOf = (redisPrefix: string, hash: string): string => `${redisPrefix}session:${hash}`;

export function createRedisSessionStore(redis: Redis, redisPrefix: string): SessionStore {
  const keyOf = (hash: string) => sessionKeyOf(redisPrefix, hash);
  const key = (sessionId: string) => keyOf(sessionKey(sessionId));
  return {
    async create(sessionId, data, ttlSeconds) {
      await redis
        .set(key(sessionId), JSON.stringify(data), 'EX', ttlSeconds)
        .catch(storeUnavailable('store a session'));
    },
    async get(sessionId) {
      const raw = await redis.get(key(sessionId)).catch(storeUnavailable('read a session'));
      if (raw === null) return null;
      try {
        const parsed = Stored.safeParse(JSON.parse(raw));
        return parsed.success ? (parsed.data satisfies SessionData) : null;
      } catch {
        return null;
      }
    },
    async destroy(sessionId) {
      await redis.del(key(sessionId)).catch(storeUnavailable('delete a session'));
    },
    async aliveByKey(hash) {
      return (await redis.exists(keyOf(hash)).catch(storeUnavailable('check a session'))) === 1;
    },
  };
}
