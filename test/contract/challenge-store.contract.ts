/** The challenge-store contract (fake and Redis): a value is taken once, `has` does not consume it, keys expire. */
import { describe, expect, it } from 'vitest';
import type { ChallengeStore } from '../../src/ports/auth.ts';

export interface ChallengeSubject {
  readonly store: ChallengeStore;
  pass(ms: number): Promise<void>;
}

export function challengeStoreContract(label: string, open: () => Promise<ChallengeSubject>): void {
  describe(`challenge store contract: ${label}`, () => {
    const key = () => `c-${Math.random().toString(36).slice(2)}`;

    it('take reads and deletes; has does not consume', async () => {
      const { store } = await open();
      const k = key();
      await store.put(k, 'v1', 60);
      expect(await store.has(k)).toBe(true);
      expect(await store.has(k)).toBe(true);
      expect(await store.take(k)).toBe('v1');
      expect(await store.take(k)).toBeNull();
      expect(await store.has(k)).toBe(false);
    });

    it('a key is gone after its TTL', async () => {
      const s = await open();
      const k = key();
      await s.store.put(k, 'v', 1);
      await s.pass(1_200);
      expect(await s.store.has(k)).toBe(false);
      expect(await s.store.take(k)).toBeNull();
    });
  });
}
