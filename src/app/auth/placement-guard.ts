/**
 * Everything that stands between a WebSocket `place` and the placement command: guests, bans, per-IP
 * placement caps, the risk check, and shadow bans.
 *
 * Guests (demo mode, `ALLOW_GUEST_PLACEMENT=1`) also hold a cooldown per client ADDRESS: a guest id is a
 * cookie anyone can drop to get a fresh one, so without it one address placed 179 times in 30 s against a
 * 300 s cooldown. Every guest behind one address (a NAT) shares it; accounts are not affected.
 *
 * One Redis round trip for the checks (session still alive, ban, two buckets; auto-pipelined), then the ordinary command.
 * A shadow-banned user's placement runs the same command against a log that never appends: the user
 * gets a normal `success` (and a normal cooldown, so nothing looks different), the edge echoes the pixel
 * to that socket only, and nothing reaches the stream, so no other client and no projection ever sees it.
 */
import { ErrorCode } from '../../../proto/error-codes.ts';
import { createPlacePixel, type PlaceOutcome, type PlacePixelDeps, type PlaceRequest } from '../place-pixel.ts';
import type { EventLog } from '../../ports/event-log.ts';
import type { AccountIdentity } from './identity.ts';
import type { BanMode, BanStore, Limit, RateDecision, RateLimiter, SessionStore } from '../../ports/auth.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { ChallengeGate, RiskRule } from './risk.ts';

/**
 * The answer when a store the guard needs (rate limits, cooldowns) is down: nothing was taken, retry later;
 * the same answer the placement command gives when its cooldown store is down.
 */
const PAUSED: GuardedOutcome = {
  ok: false,
  code: ErrorCode.unavailable,
  message: 'placements are paused for a moment; try again shortly',
};

export interface PlacementGuardDeps {
  readonly place: PlacePixelDeps;
  readonly bans: BanStore;
  readonly sessions: Pick<SessionStore, 'aliveByKey'>;
  readonly limits: RateLimiter;
  readonly allowGuestPlacement: boolean;
  /** Guests also hold one cooldown per client address (on unless a load test turns it off). */
  readonly guestCooldownPerIp: boolean;
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
export type GuardedPlace = (
  identity: AccountIdentity,
  ip: string,
  request: Omit<PlaceRequest, 'userId'>,
) => Promise<GuardedOutcome>;

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
      if (error instanceof StoreUnavailable) return PAUSED;
      throw error;
    }
    const [alive, ban, byIp, byUser] = checks;
    // The socket outlived its session (logout on another edge whose notice was lost, or expiry).
    if (!alive) return { ok: false, code: ErrorCode.unauthorized, message: 'your session has ended; log in again' };
    if (ban === 'ban')
      return { ok: false, code: ErrorCode.banned, message: 'this account is banned from placing pixels' };
    if (!byIp.allowed) {
      const remainingSeconds = Math.max(1, Math.ceil(byIp.retryAfterMs / 1000));
      return {
        ok: false,
        code: ErrorCode.rate_limited,
        message: `too many placement attempts from your address; wait ${remainingSeconds} s`,
        remainingSeconds,
      };
    }
    const accountAgeMs = identity.accountCreatedAt === null ? null : deps.place.clock.now() - identity.accountCreatedAt;
    const verdict = deps.risk.assess({ userId: identity.userId, accountAgeMs, attemptsExceeded: !byUser.allowed, ip });
    if (verdict === 'challenge' && !(await deps.challenge.isCleared(identity.userId))) {
      return { ok: false, code: ErrorCode.challenge_required, message: deps.challenge.instructions };
    }
    const full = { ...request, userId: identity.userId };
    if (ban === 'shadow') return { ...(await shadowPlace(full)), shadow: true };
    if (identity.isGuest && deps.guestCooldownPerIp) return placeAsGuest(ip, full);
    return place(full);
  };

  /** The address's guest cooldown first (a retry of the same request passes it), refunded if the placement did not happen. */
  async function placeAsGuest(ip: string, full: PlaceRequest): Promise<GuardedOutcome> {
    const { cooldowns, clock, cooldownSeconds } = deps.place;
    const subject = `guest-ip:${ip}`;
    const holder = `${full.userId}/${full.requestId}`;
    let address;
    try {
      address = await cooldowns.tryAcquire(subject, holder, clock.now(), cooldownSeconds, full);
    } catch (error) {
      if (error instanceof StoreUnavailable) return PAUSED;
      throw error;
    }
    if (!address.acquired && address.holderRequestId !== holder) {
      const remainingSeconds = Math.max(1, Math.ceil(address.remainingMs / 1000));
      return {
        ok: false,
        code: ErrorCode.cooldown,
        message: `a guest at your address placed recently; you can place again in ${remainingSeconds} s (or log in)`,
        remainingSeconds,
      };
    }
    const outcome = await place(full);
    if (!outcome.ok && address.acquired) {
      await cooldowns.release(subject, holder).catch((error: unknown) => {
        if (!(error instanceof StoreUnavailable)) throw error; // else it runs out: the address waits, nothing is inconsistent
      });
    }
    return outcome;
  }
}
