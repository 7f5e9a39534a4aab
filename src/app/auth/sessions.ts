/**
 * Session ids and the session cookie. The id is 32 random bytes (base64url); the store and the edges only
 * ever see `sessionKey(id)`, a SHA-256 of it, so neither a store dump nor a log line reveals a live cookie.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'rplace_session';
const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;
/** Cookie headers longer than this are not parsed (browsers cap a cookie at 4 KiB). */
const MAX_COOKIE_HEADER = 8192;

export function newSessionId(): string {
  return randomBytes(32).toString('base64url');
}

export function sessionKey(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url');
}

/** The value of cookie `name` in a Cookie header, or undefined. Bounded; never throws. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > MAX_COOKIE_HEADER) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The session id in a Cookie header when it has the right shape (anything else is ignored, not looked up). */
export function sessionIdFromCookie(header: string | undefined): string | undefined {
  const value = readCookie(header, SESSION_COOKIE);
  return value !== undefined && SESSION_ID.test(value) ? value : undefined;
}

export interface CookieOptions {
  readonly secure: boolean;
  readonly maxAgeSeconds: number;
}

/** HttpOnly (no script can read it), SameSite=Lax (not sent on cross-site POSTs or sub-requests), Secure over TLS. */
export function sessionCookie(sessionId: string, options: CookieOptions): string {
  return `${SESSION_COOKIE}=${sessionId}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${options.maxAgeSeconds}${options.secure ? '; Secure' : ''}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0${secure ? '; Secure' : ''}`;
}
