/** `BanStore` in memory: one mode per user; `clear` says whether there was a ban to lift. */
import type { BanMode, BanStore } from '../../../src/ports/auth.ts';

export function createFakeBanStore(): BanStore & { readonly bans: ReadonlyMap<string, BanMode> } {
  const bans = new Map<string, BanMode>();
  return {
    bans,
    async get(userId) {
      return bans.get(userId) ?? null;
    },
    async set(userId, mode) {
      bans.set(userId, mode);
    },
    async clear(userId) {
      return bans.delete(userId);
    },
  };
}
