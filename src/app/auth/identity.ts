/**
 * Accounts behind the edge's `IdentityProvider` port: the account of a valid session cookie, otherwise
 * whatever the guest provider gives (the signed guest cookie). A missing, unsigned (old format), forged
 * (bad MAC, so never looked up) or expired session is simply not a session: the connection is a guest and can watch but, by default, not place.
 * The protocol does not change: `welcome` carries `userId` and `isGuest` as before.
 */
import type { Identity, IdentityProvider } from '../../ports/identity.ts';
import type { SessionStore } from '../../ports/auth.ts';
import { sessionKey, type SessionCookies } from './sessions.ts';

export interface AccountIdentity extends Identity {
  readonly username: string | null;
  /** `sessionKey` of the session this connection authenticated with (logout closes sockets by it). */
  readonly sessionKey: string | null;
  /** Account creation time (ms) for the risk rule; null for guests. */
  readonly accountCreatedAt: number | null;
}

export function asAccountIdentity(identity: Identity): AccountIdentity {
  const extra = identity as Partial<AccountIdentity>;
  return {
    userId: identity.userId,
    isGuest: identity.isGuest,
    username: extra.username ?? null,
    sessionKey: extra.sessionKey ?? null,
    accountCreatedAt: extra.accountCreatedAt ?? null,
  };
}

export function createAccountIdentity(
  sessions: SessionStore,
  guest: IdentityProvider,
  cookies: SessionCookies,
): IdentityProvider {
  return {
    async identify(headers) {
      const sessionId = cookies.idFrom(headers['cookie']);
      const session = sessionId === undefined ? null : await sessions.get(sessionId);
      if (session !== null && sessionId !== undefined) {
        const identity: AccountIdentity = {
          userId: session.userId,
          isGuest: false,
          username: session.username,
          sessionKey: sessionKey(sessionId),
          accountCreatedAt: session.accountCreatedAt,
        };
        return { identity };
      }
      const who = await guest.identify(headers);
      return who === null ? null : { ...who, identity: asAccountIdentity(who.identity) };
    },
  };
}
