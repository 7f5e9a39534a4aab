/** The ban-store contract (fake and the durable Redis + Postgres store): one mode per user, `clear` says whether one was lifted. */
import { describe, expect, it } from 'vitest';
import type { BanStore } from '../../src/ports/auth.ts';

export function banStoreContract(label: string, open: () => Promise<BanStore>): void {
  describe(`ban store contract: ${label}`, () => {
    const user = () => `u_${Math.random().toString(36).slice(2, 10)}`;

    it('a ban reads back; a later mode replaces it; nobody else is banned', async () => {
      const bans = await open();
      const u = user();
      expect(await bans.get(u)).toBeNull();
      await bans.set(u, 'ban');
      expect(await bans.get(u)).toBe('ban');
      await bans.set(u, 'shadow');
      expect(await bans.get(u)).toBe('shadow');
      expect(await bans.get(user())).toBeNull();
    });

    it('clear lifts a ban once (true), then there is none to lift (false)', async () => {
      const bans = await open();
      const u = user();
      await bans.set(u, 'ban');
      expect(await bans.clear(u)).toBe(true);
      expect(await bans.get(u)).toBeNull();
      expect(await bans.clear(u)).toBe(false);
    });
  });
}
