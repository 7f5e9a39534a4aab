/**
 * `SessionStore` in memory on a `Clock`, with the Redis store's rules (redis/session-store.ts): sessions
 * are kept under `sessionKey(id)` (the hash, never the id) and are gone once `ttlSeconds` passed.
 */
import type { SessionData, SessionStore } from '../../../src/ports/auth.ts';
import { sessionKey } from '../../../src/app/auth/sessions.ts';
import type { Clock } from '../../../src/ports/clock.ts';

export function createFakeSessionStore(clock: Clock = { now: () => Date.now() }): SessionStore {
  const sessions = new Map<string, { data: SessionData; expiresAt: number }>();
  const alive = (hash: string) => {
    const s = sessions.get(hash);
    if (s && s.expiresAt <= clock.now()) sessions.delete(hash);
    return sessions.get(hash);
  };
  return {
    async create(sessionId, data, ttlSeconds) {
      sessions.set(sessionKey(sessionId), { data: { ...data }, expiresAt: clock.now() + ttlSeconds * 1000 });
    },
    async get(sessionId) {
      return alive(sessionKey(sessionId))?.data ?? null;
    },
    async destroy(sessionId) {
      sessions.delete(sessionKey(sessionId));
    },
    async aliveByKey(hash) {
      return alive(hash) !== undefined;
    },
  };
}
