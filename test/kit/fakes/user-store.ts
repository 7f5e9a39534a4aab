/**
 * `UserStore` in memory with the Postgres store's rules (pg/user-store.ts): usernames are unique
 * case-insensitively and user ids are unique (either clash: `create` answers false and stores nothing);
 * lookups by username ignore case; `usernamesOf` lists only ids that have an account.
 */
import type { Account, UserStore } from '../../../src/ports/auth.ts';

export function createFakeUserStore(): UserStore & { readonly accounts: ReadonlyMap<string, Account> } {
  const byId = new Map<string, Account>();
  const byName = new Map<string, Account>();
  return {
    accounts: byId,
    async create(account) {
      const name = account.username.toLowerCase();
      if (byId.has(account.userId) || byName.has(name)) return false;
      const copy = { ...account };
      byId.set(account.userId, copy);
      byName.set(name, copy);
      return true;
    },
    async findByUsername(username) {
      return byName.get(username.toLowerCase()) ?? null;
    },
    async findById(userId) {
      return byId.get(userId) ?? null;
    },
    async usernamesOf(userIds) {
      const out = new Map<string, string>();
      for (const id of userIds) {
        const account = byId.get(id);
        if (account) out.set(id, account.username);
      }
      return out;
    },
  };
}
