/**
 * The placement admission contract (src/ports/admission.ts), run against the composition of the in-memory
 * fakes (unit) and the Redis cooldown store's one script (integration): every check is made and both buckets
 * charged on every call; the cooldowns are taken only when all pass; a shadow ban skips the address; an
 * address held by another holder stops the user's cooldown.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AdmissionRequest, PlacementAdmission } from '../../src/ports/admission.ts';
import type { BanMode, SessionStore } from '../../src/ports/auth.ts';
import type { CooldownStore } from '../../src/ports/cooldown.ts';
import { sessionKey } from '../../src/app/auth/sessions.ts';

export interface AdmissionSubject {
  readonly admission: PlacementAdmission;
  /** The same cooldowns the admission takes. */
  readonly cooldowns: CooldownStore;
  readonly sessions: SessionStore;
  ban(userId: string, mode: BanMode): Promise<void>;
  /** Forgets that the ban copy is complete (Redis only: the fake's bans are always known). */
  readonly unloadBans: () => Promise<void>;
  close(): Promise<void>;
}

const pixel = { x: 1, y: 2, color: 3 };
let n = 0;
const unique = (label: string) => `${label}-${++n}-${Math.random().toString(36).slice(2, 8)}`;
const bucket = (name: string, limit = 10) => ({ name, limit, windowMs: 60_000 });

function request(userId: string, over: Partial<AdmissionRequest> = {}): AdmissionRequest {
  return {
    userId,
    sessionKey: null,
    perIp: bucket(unique('ip')),
    perUser: bucket(unique('user')),
    cooldowns: { requestId: unique('req'), placedAt: 1_000, seconds: 60, pixel, address: null },
    ...over,
  };
}

export function admissionContract(label: string, open: () => Promise<AdmissionSubject>): void {
  describe(`placement admission contract: ${label}`, () => {
    let s: AdmissionSubject;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => s.close());

    it('all checks pass: the cooldown is taken; the next admission is refused and told who holds it', async () => {
      const u = unique('u');
      const first = await s.admission.admit(request(u));
      expect(first).toMatchObject({ alive: true, ban: null, byIp: { allowed: true }, byUser: { allowed: true } });
      expect(first.address).toBeNull();
      expect(first.cooldown?.acquired).toBe(true);
      const second = await s.admission.admit(request(u));
      if (second.cooldown === null || second.cooldown.acquired) throw new Error('expected a refusal');
      expect(second.cooldown.holderPixel).toEqual(pixel);
      expect(second.cooldown.remainingMs).toBeGreaterThan(50_000);
    });

    it('a ban, a dead session or no cooldowns asked: nothing is taken, but both buckets are charged', async () => {
      const banned = unique('u');
      await s.ban(banned, 'ban');
      const ip = bucket(unique('ip'), 1);
      const user = bucket(unique('user'), 1);
      const refused = await s.admission.admit(request(banned, { perIp: ip, perUser: user }));
      expect(refused).toMatchObject({ ban: 'ban', address: null, cooldown: null });
      const again = await s.admission.admit(request(banned, { perIp: ip, perUser: user }));
      expect(again.byIp.allowed).toBe(false);
      expect(again.byUser.allowed).toBe(false);
      if (!again.byIp.allowed) expect(again.byIp.retryAfterMs).toBeGreaterThan(0);
      expect((await s.cooldowns.tryAcquire(banned, 'r', 1, 60, pixel)).acquired).toBe(true);

      const dead = unique('u');
      const gone = await s.admission.admit(request(dead, { sessionKey: sessionKey(unique('nosession')) }));
      expect(gone).toMatchObject({ alive: false, cooldown: null });
      const none = await s.admission.admit(request(dead, { cooldowns: null }));
      expect(none).toMatchObject({ alive: true, cooldown: null });
      expect((await s.cooldowns.tryAcquire(dead, 'r', 1, 60, pixel)).acquired).toBe(true);
    });

    it('a live session passes; an exhausted user bucket takes nothing', async () => {
      const u = unique('u');
      const sid = unique('sid');
      await s.sessions.create(sid, { userId: u, username: u, accountCreatedAt: 1, createdAt: 1 }, 60);
      const user = bucket(unique('user'), 1);
      const live = await s.admission.admit(request(u, { sessionKey: sessionKey(sid), perUser: user }));
      expect(live.alive).toBe(true);
      expect(live.cooldown?.acquired).toBe(true);
      const other = unique('u');
      const over = await s.admission.admit(request(other, { perUser: user }));
      expect(over).toMatchObject({ byUser: { allowed: false }, cooldown: null });
      expect((await s.cooldowns.tryAcquire(other, 'r', 1, 60, pixel)).acquired).toBe(true);
    });

    it("a guest's address: taken first; held by another holder it stops the user's cooldown; a shadow ban skips it", async () => {
      const subject = unique('guest-ip');
      const a = unique('u');
      const withAddress = (u: string, holderId: string) =>
        request(u, { cooldowns: { requestId: 'q', placedAt: 5, seconds: 60, pixel, address: { subject, holderId } } });
      const first = await s.admission.admit(withAddress(a, `${a}/q`));
      expect(first.address?.acquired).toBe(true);
      expect(first.cooldown?.acquired).toBe(true);
      // The same holder again (a retry): the address lets it through to its own cooldown.
      const retry = await s.admission.admit(withAddress(a, `${a}/q`));
      expect(retry.address?.acquired).toBe(false);
      expect(retry.cooldown?.acquired).toBe(false);
      const b = unique('u');
      const blocked = await s.admission.admit(withAddress(b, `${b}/q`));
      if (blocked.address === null || blocked.address.acquired) throw new Error('expected the address refused');
      expect(blocked.address.holderRequestId).toBe(`${a}/q`);
      expect(blocked.cooldown).toBeNull();
      expect((await s.cooldowns.tryAcquire(b, 'r', 1, 60, pixel)).acquired).toBe(true);
      const shadow = unique('u');
      await s.ban(shadow, 'shadow');
      const hidden = await s.admission.admit(withAddress(shadow, `${shadow}/q`));
      expect(hidden).toMatchObject({ ban: 'shadow', address: null });
      expect(hidden.cooldown?.acquired).toBe(true);
    });

    it('bans not known to be complete: `unknown`, nothing taken', async () => {
      await s.unloadBans();
      const u = unique('u');
      const result = await s.admission.admit(request(u));
      expect(result).toMatchObject({ ban: 'unknown', cooldown: null });
      expect((await s.cooldowns.tryAcquire(u, 'r', 1, 60, pixel)).acquired).toBe(true);
    });
  });
}
