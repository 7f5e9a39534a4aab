/**
 * Guest identities in a signed cookie: `rplace_guest=<id>.<HMAC-SHA256(secret, id), base64url>`. The
 * browser keeps it across reloads, so a guest's cooldown survives a reload; forging one needs the secret.
 * Small on purpose: accounts replace it behind the same `IdentityProvider` port.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readCookie } from '../../app/http-cookie.ts';
import type { IdentityProvider } from '../../ports/identity.ts';

export const GUEST_COOKIE = 'rplace_guest';
const ONE_YEAR_S = 365 * 24 * 3600;

export interface GuestCookieOptions {
  /** HMAC key; at least 32 characters. */
  readonly secret: string;
  /** Add `Secure` (behind HTTPS). */
  readonly secure?: boolean;
}

export function createGuestIdentity(
  options: GuestCookieOptions,
): IdentityProvider & { sign(userId: string): string; verify(value: string): string | null } {
  if (options.secret.length < 32) throw new RangeError('the guest cookie secret must be at least 32 characters');
  const sign = (id: string) => `${id}.${createHmac('sha256', options.secret).update(id).digest('base64url')}`;
  const verify = (value: string): string | null => {
    const dot = value.lastIndexOf('.');
    if (dot <= 0 || value.length > 200) return null;
    const id = value.slice(0, dot);
    if (!/^g_[0-9a-f]{16}$/.test(id)) return null;
    const expected = Buffer.from(sign(id));
    const given = Buffer.from(value);
    return expected.length === given.length && timingSafeEqual(expected, given) ? id : null;
  };
  return {
    sign,
    verify,
    async identify(headers) {
      const existing = readCookie(headers['cookie'], GUEST_COOKIE);
      const userId = existing ? verify(existing) : null;
      if (userId) return { identity: { userId, isGuest: true } };
      const minted = `g_${randomBytes(8).toString('hex')}`;
      const setCookie = `${GUEST_COOKIE}=${sign(minted)}; Path=/; Max-Age=${ONE_YEAR_S}; HttpOnly; SameSite=Lax${options.secure ? '; Secure' : ''}`;
      return { identity: { userId: minted, isGuest: true }, setCookie, minted: true };
    },
  };
}
