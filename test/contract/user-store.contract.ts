/** The account-store contract (fake and Postgres): usernames unique case-insensitively, ids unique, lookups. */
import { describe, expect, it } from 'vitest';
import type { Account, UserStore } from '../../src/ports/auth.ts';

export function userStoreContract(label: string, open: () => Promise<UserStore>): void {
  describe(`user store contract: ${label}`, () => {
    const unique = () => Math.random().toString(36).slice(2, 10);
    const account = (over: Partial<Account> = {}): Account => ({
      userId: `u_${unique()}`,
      username: `Name${unique()}`,
      passwordHash: 'scrypt$x',
      createdAt: 1_700_000_000_123,
      ...over,
    });

    it('creates an account and finds it by id and by username in any case', async () => {
      const users = await open();
      const a = account();
      expect(await users.create(a)).toBe(true);
      expect(await users.findById(a.userId)).toEqual(a);
      expect(await users.findByUsername(a.username.toUpperCase())).toEqual(a);
      expect(await users.findById('u_nobody')).toBeNull();
      expect(await users.findByUsername('nobody-at-all')).toBeNull();
    });

    it('refuses a username taken in another case, and a user id taken, storing nothing', async () => {
      const users = await open();
      const a = account();
      await users.create(a);
      const clash = account({ username: a.username.toLowerCase() });
      expect(await users.create(clash)).toBe(false);
      expect(await users.findById(clash.userId)).toBeNull();
      expect(await users.create(account({ userId: a.userId }))).toBe(false);
      expect(await users.findById(a.userId)).toEqual(a);
    });

    it('usernamesOf answers only the ids that have an account', async () => {
      const users = await open();
      const [a, b] = [account(), account()];
      await users.create(a);
      await users.create(b);
      expect(await users.usernamesOf([a.userId, 'u_ghost', b.userId])).toEqual(
        new Map([
          [a.userId, a.username],
          [b.userId, b.username],
        ]),
      );
      expect(await users.usernamesOf([])).toEqual(new Map());
    });
  });
}
