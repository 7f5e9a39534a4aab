/**
 * Session ids and the session cookie. The id is 32 random bytes (base64url); the store and the edges only
 * ever see `sessionKey(id)`, a SHA-256 of it, so neither a store dump nor a log line reveals a live cookie.
 *
 * The cookie value is `<id>.<HMAC-SHA256(SESSION_SECRET, "rplace-session:" + id), base64url>`, checked in
 * constant time BEFORE any store lookup: a session record written straight into Redis (by whoever can
 * write Redis) is never reached, because its id has no valid MAC without the secret. The label keeps the
 * MAC distinct from the guest cookie's, which uses the same secret. A cookie in the old, unsigned format
 * (a bare id) is not a session: the client is a guest and signs in again.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readCookie } from '../http-cookie.ts';

export const SESSION_COOKIE = 'rplace_session';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** base64url of a 32-byte HMAC. */
const MAC_LENGTH = 43;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function sessionKey(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}

/** Signs and checks session cookie values with the edge's `SESSION_SECRET`. */
export interface SessionCookies {
  /** The cookie value for a session id: `<id>.<mac>`. */
  value(sessionId: string): string;
  /** The session id of a Cookie header whose `rplace_session` carries a valid MAC; undefined otherwise (never looked up). */
  idFrom(header: string | undefined): string | undefined;
}

export function sessionCookies(secret: string): SessionCookies {
  if (secret.length < 32) throw new RangeError('the session secret must be at least 32 characters');
  const mac = (id: string) => createHmac('sha256', secret).update(`rplace-session:${id}`).digest('base64url');
  return {
    value: (sessionId) => `${sessionId}.${mac(sessionId)}`,
    idFrom(header) {
      const value = readCookie(header, SESSION_COOKIE);
      if (value === undefined || value.length !== 43 + 1 + MAC_LENGTH || value[43] !== '.') return undefined;
      const id = value.slice(0, 43);
      if (!SESSION_ID.test(id)) return undefined;
      const given = Buffer.from(value.slice(44));
      const expected = Buffer.from(mac(id));
      return given.length === expected.length && timingSafeEqual(given, expected) ? id : undefined;
    },
  };
}

export interface CookieOptions {
  readonly secure: boolean;
  readonly maxAgeSeconds: number;
}

/** HttpOnly (no script can read it), SameSite=Lax (not sent on cross-site POSTs or sub-requests), Secure over TLS. */
export function sessionCookie(cookies: SessionCookies, sessionId: string, options: CookieOptions): string {
  return `${SESSION_COOKIE}=${cookies.value(sessionId)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${options.maxAgeSeconds}${options.secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}
