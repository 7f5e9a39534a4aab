/**
 * The edge's account policy, as plain functions the edge role (src/roles/edge/accounts.ts) only wires:
 * the attempt windows behind each configured count, the answer when the accounts store fails, which
 * address a request counts against, what `EdgeAccess` checks at an upgrade, and which sockets a
 * revocation closes.
 */
import { CloseCode } from '../../../proto/close-codes.ts';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { jsonError, type HttpRoute } from '../http.ts';
import type { AuthSettings } from './accounts.ts';
import type { Limit } from '../../ports/auth.ts';
import { proxyPolicy, resolveClientAddress } from './client-address.ts';
import { ConnectionCaps } from '../../domain/auth/connection-caps.ts';
import type { EdgeAccess } from './edge-access.ts';
import type { AccountIdentity } from './identity.ts';
import { checkUpgradeOrigin, type OriginPolicy } from '../../domain/auth/origin.ts';
import type { GuardedPlace } from './placement-guard.ts';

/** Login attempts are counted over 15 minutes: long enough to stop guessing, short enough to forgive a typo. */
export const LOGIN_WINDOW_MS = 15 * 60_000;
export const REGISTER_WINDOW_MS = 60 * 60_000;
export const POW_ISSUE_WINDOW_MS = 60_000;
export const PLACE_PER_IP_WINDOW_MS = 60_000;
export const PLACE_PER_USER_WINDOW_MS = 10 * 60_000;

/** The configured counts (src/config/auth.ts), each per its window above. */
export interface AccountLimitCounts {
  readonly sessionTtlSeconds: number;
  readonly loginAttemptsPerAccount: number;
  readonly loginAttemptsPerAccountPerIp: number;
  readonly loginAttemptsPerIp: number;
  readonly registrationsPerIpPerHour: number;
  readonly powChallengesPerIpPerMinute: number;
  readonly placeAttemptsPerIpPerMinute: number;
  readonly placeAttemptsPerUserPer10Minutes: number;
}

export interface AccountLimits {
  /** For `createAccounts`. */
  readonly auth: AuthSettings;
  readonly powIssuePerIp: Limit;
  readonly placePerIp: Limit;
  readonly placePerUser: Limit;
}

export function accountLimits(counts: AccountLimitCounts): AccountLimits {
  return {
    auth: {
      sessionTtlSeconds: counts.sessionTtlSeconds,
      loginPerAccount: { limit: counts.loginAttemptsPerAccount, windowMs: LOGIN_WINDOW_MS },
      loginPerAccountPerIp: { limit: counts.loginAttemptsPerAccountPerIp, windowMs: LOGIN_WINDOW_MS },
      loginPerIp: { limit: counts.loginAttemptsPerIp, windowMs: LOGIN_WINDOW_MS },
      registerPerIp: { limit: counts.registrationsPerIpPerHour, windowMs: REGISTER_WINDOW_MS },
    },
    powIssuePerIp: { limit: counts.powChallengesPerIpPerMinute, windowMs: POW_ISSUE_WINDOW_MS },
    placePerIp: { limit: counts.placeAttemptsPerIpPerMinute, windowMs: PLACE_PER_IP_WINDOW_MS },
    placePerUser: { limit: counts.placeAttemptsPerUserPer10Minutes, windowMs: PLACE_PER_USER_WINDOW_MS },
  };
}

/**
 * The route, except that a failure of what it calls (Postgres down during register or login) answers
 * `unavailable` (503, "try again"), not a crash or a 500 without a code. `onFailure` logs it.
 */
export function unavailableOnFailure(route: HttpRoute, onFailure: (error: unknown, path: string) => void): HttpRoute {
  return {
    ...route,
    async handle(request) {
      try {
        return await route.handle(request);
      } catch (error) {
        onFailure(error, route.path);
        return jsonError(ErrorCode.unavailable, 'accounts are unavailable right now; try again in a moment');
      }
    },
  };
}

/**
 * The client address of a request (client-address.ts): the socket's peer, unless that peer is one of
 * `trustedProxies`, which may then speak for the client through `addressHeader` or `X-Forwarded-For`.
 * Throws a RangeError naming a bad proxy entry (at start, not per request).
 */
export function clientAddressResolver(
  trustedProxies: readonly string[],
  addressHeader: string | null,
): EdgeAccess['clientIp'] {
  const proxies = proxyPolicy(trustedProxies, addressHeader);
  return (remote, header) => resolveClientAddress(proxies, remote, header);
}

export interface EdgeAccessDeps {
  readonly origins: OriginPolicy;
  readonly clientIp: EdgeAccess['clientIp'];
  readonly maxConnectionsPerIp: number;
  readonly place: GuardedPlace;
}

/** What the edge asks at each upgrade and placement: the Origin allow-list, the per-address cap, the guarded placement. */
export function edgeAccess(deps: EdgeAccessDeps): EdgeAccess {
  return {
    checkOrigin: (headers) => checkUpgradeOrigin(deps.origins, headers),
    clientIp: deps.clientIp,
    connections: new ConnectionCaps(deps.maxConnectionsPerIp),
    place: deps.place,
  };
}

/** A logout (by session key) or a ban (by user), from any edge. */
export type Revocation = { readonly session: string } | { readonly user: string };
export type CloseWhere = (matches: (identity: AccountIdentity) => boolean, code: number, reason: string) => number;

/** Closes the sockets a revocation ends: a logout's session with 4004, a banned user's with 4005. */
export function closeRevoked(
  revocation: Revocation,
  closeWhere: CloseWhere,
): { readonly closed: number; readonly reason: 'logout' | 'ban' } {
  if ('session' in revocation)
    return {
      closed: closeWhere((who) => who.sessionKey === revocation.session, CloseCode.SessionEnded, 'session ended'),
      reason: 'logout',
    };
  return { closed: closeWhere((who) => who.userId === revocation.user, CloseCode.Banned, 'banned'), reason: 'ban' };
}
