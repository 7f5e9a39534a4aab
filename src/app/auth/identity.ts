/**
 * Who is on the other end of a WebSocket upgrade: the account of a valid session cookie, otherwise the
 * guest the edge's guest identity gives. A missing, forged (unknown id) or expired session is simply not
 * a session: the connection is a guest and can watch but (by default) not place.
 */
import type { SessionStore } from './ports.ts';
import { sessionIdFromCookie, sessionKey } from './sessions.ts';

export interface Identity {
  readonly userId: string;
  readonly username: string | null;
  readonly isGuest: boolean;
  /** `sessionKey` of the session this connection authenticated with (logout closes sockets by it). */
  readonly sessionKey: string | null;
  /** Account creation time (ms) for the risk rule; null for guests. */
  readonly accountCreatedAt: number | null;
}

export type ResolveIdentity = (headers: Readonly<Record<string, string>>) => Promise<Identity>;

export function createIdentityResolver(sessions: SessionStore, guestId: (headers: Readonly<Record<string, string>>) => string): ResolveIdentity {
  return async (headers) => {
    const sessionId = sessionIdFromCookie(headers['cookie']);
    const session = sessionId === undefined ? null : await sessions.get(sessionId);
    if (session !== null && sessionId !== undefined) {
      return { userId: session.userId, username: session.username, isGuest: false, sessionKey: sessionKey(sessionId), accountCreatedAt: session.accountCreatedAt };
    }
    return { userId: guestId(headers), username: null, isGuest: true, sessionKey: null, accountCreatedAt: null };
  };
}
