/**
 * Everything that stands between a WebSocket `place` and the placement command: guests, bans, per-IP
 * placement caps, the risk check, and shadow bans.
 *
 * One Redis round trip for the checks (session still alive, ban, two buckets; auto-pipelined), then the ordinary command.
 * A shadow-banned user's placement runs the same command against a log that never appends: the user
 * gets a normal `success` (and a normal cooldown, so nothing looks different), the edge echoes the pixel
 * to that socket only, and nothing reaches the stream, so no other client and no projection ever sees it.
 */
import { ErrorCode } from '../../../proto/error-codes.ts';
import { createPlacePixel, type PlaceOutcome, type PlacePixelDeps, type PlaceRequest } from '../place-pixel.ts';
import type { EventLog } from '../ports.ts';
import type { Limit } from './accounts.ts';
import type { AccountIdentity } from './identity.ts';
import type { BanMode, BanStore, RateDecision, RateLimiter, SessionStore } from './ports.ts';
import { StoreUnavailable } from '../errors.ts';
import type { ChallengeGate, RiskRule } from './risk.ts';

export interface PlacementGuardDeps {
  readonly place: PlacePixelDeps;
  readonly bans: BanStore;
  readonly sessions: Pick<SessionStore, 'aliveByKey'>;
  readonly limits: RateLimiter;
  readonly allowGuestPlacement: boolean;
  /** Placement attempts per IP (all users behind it). */
  readonly perIp: Limit;
  /** Placement attempts per user before the risk rule is asked. */
  readonly perUser: Limit;
  readonly risk: RiskRule;
  readonly challenge: ChallengeGate;
  /** The sequence a shadow placement reports (the edge's current sequence). */
  readonly currentSeq: () => number;
}

export type GuardedOutcome = PlaceOutcome & { readonly shadow?: boolean };
export type GuardedPlace = (identity: AccountIdentity, ip: string, request: Omit<PlaceRequest, 'userId'>) => Promise<GuardedOutcome>;

/** An `EventLog` that stores nothing: a shadow-banned user's placements end here. */
export function shadowLog(currentSeq: () => number): EventLog {
  return { append: async () => ({ seq: currentSeq(), duplicate: false }) };
}

export function createPlacementGuard(deps: PlacementGuardDeps): GuardedPlace {
  const place = createPlacePixel(deps.place);
  const shadowPlace = createPlacePixel({ ...deps.place, log: shadowLog(deps.currentSeq) });
  return async (identity, ip, request) => {
    if (identity.isGuest && !deps.allowGuestPlacement) {
      return { ok: false, code: ErrorCode.unauthorized, message: 'log in to place pixels (guests can watch)' };
    }
    let checks: [boolean, BanMode | null, RateDecision, RateDecision];
    try {
      checks = await Promise.all([
        identity.sessionKey === null ? true : deps.sessions.aliveByKey(identity.sessionKey),
        deps.bans.get(identity.userId),
        deps.limits.take(`place:ip:${ip}`, deps.perIp.limit, deps.perIp.windowMs),
        deps.limits.take(`place:user:${identity.userId}`, deps.perUser.limit, deps.perUser.windowMs),
      ]);
    } catch (error) {
      // The same answer as the command gives when its cooldown store is down: nothing was taken, retry later.
      if (error instanceof StoreUnavailable) return { ok: false, code: ErrorCode.unavailable, message: 'placements are paused for a moment; try again shortly' };
      throw error;
    }
    const [alive, ban, byIp, byUser] = checks;
    // The socket outlived its session (logout on another edge whose notice was lost, or expiry).
    if (!alive) return { ok: false, code: ErrorCode.unauthorized, message: 'your session has ended; log in again' };
    if (ban === 'ban') return { ok: false, code: ErrorCode.banned, message: 'this account is banned from placing pixels' };
    if (!byIp.allowed) {
      const remainingSeconds = Math.max(1, Math.ceil(byIp.retryAfterMs / 1000));
      return { ok: false, code: ErrorCode.rate_limited, message: `too many placement attempts from your address; wait ${remainingSeconds} s`, remainingSeconds };
    }
    const accountAgeMs = identity.accountCreatedAt === null ? null : deps.place.clock.now() - identity.accountCreatedAt;
    const verdict = deps.risk.assess({ userId: identity.userId, accountAgeMs, attemptsExceeded: !byUser.allowed, ip });
    if (verdict === 'challenge' && !(await deps.challenge.isCleared(identity.userId))) {
      return { ok: false, code: ErrorCode.challenge_required, message: deps.challenge.instructions };
    }
    const full = { ...request, userId: identity.userId };
    if (ban === 'shadow') return { ...(await shadowPlace(full)), shadow: true };
    return place(full);
  };
}
