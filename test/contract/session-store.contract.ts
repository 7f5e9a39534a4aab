/** The session contract (fake and Redis): sessions round-trip, end on `destroy` or after their TTL, and are found by `sessionKey`. */
import { describe, expect, it } from 'vitest';
import type { SessionStore } from '../../src/ports/auth.ts';
import { sessionKey } from '../../src/app/auth/sessions.ts';

export interface SessionSubject {
  readonly store: SessionStore;
  pass(ms: number): Promise<void>;
}

export function sessionStoreContract(label: string, open: () => Promise<SessionSubject>): void {
  describe(`session store contract: ${label}`, () => {
    const data = {
      userId: 'u_1',
      username: 'Alice',
      accountCreatedAt: 1_700_000_000_000,
      createdAt: 1_700_000_100_000,
    };
    const id = () => `sess-${Math.random().toString(36).slice(2)}`;

    it('a created session reads back; an unknown one is null', async () => {
      const { store } = await open();
      const sid = id();
      await store.create(sid, data, 60);
      expect(await store.get(sid)).toEqual(data);
      expect(await store.aliveByKey(sessionKey(sid))).toBe(true);
      expect(await store.get(id())).toBeNull();
      expect(await store.aliveByKey(sessionKey(id()))).toBe(false);
      expect(await store.aliveByKey(sid)).toBe(false); // keyed by the hash, not the id
    });

    it('destroy ends it', async () => {
      const { store } = await open();
      const sid = id();
      await store.create(sid, data, 60);
      await store.destroy(sid);
      expect(await store.get(sid)).toBeNull();
      expect(await store.aliveByKey(sessionKey(sid))).toBe(false);
      await store.destroy(sid); // twice: fine
    });

    it('a session is gone after its TTL', async () => {
      const s = await open();
      const sid = id();
      await s.store.create(sid, data, 1);
      await s.pass(1_200);
      expect(await s.store.get(sid)).toBeNull();
      expect(await s.store.aliveByKey(sessionKey(sid))).toBe(false);
    });
  });
}
