/**
 * Everything that stands between a WebSocket `place` and the placement command: guests, bans, per-IP
 * placement caps, the risk check, and shadow bans.
 *
 * Guests (demo mode, `ALLOW_GUEST_PLACEMENT=1`) also hold a cooldown per client ADDRESS: a guest id is a
 * cookie anyone can drop to get a fresh one, so without it one address placed 179 times in 30 s against a
 * 300 s cooldown. Every guest behind one address (a NAT) shares it; accounts are not affected.
 *
 * One Redis round trip for the checks (session still alive, ban, two buckets; auto-pipelined), then the ordinary command.
 * With an `admission` port, the checks AND the cooldowns are one call: the risk rule is asked first whether it
 * would allow an attempt within the budget; if so (and the request is valid) the store takes the cooldowns when
 * every check passes and the budget holds. Otherwise (budget exceeded, a challenging rule, an invalid request,
 * bans to rebuild) nothing was taken and the rest goes as before, so the answers are the same either way. The
 * rule may thus be asked twice for one attempt (within the budget, then exceeded).
 * A shadow-banned user's placement runs the same command against a log that never appends: the user
 * gets a normal `success` (and a normal cooldown, so nothing looks different), the edge echoes the pixel
 * to that socket only, and nothing reaches the stream, so no other client and no projection ever sees it.
 */
import { ErrorCode } from '../../../proto/error-codes.ts';
import {
  createPlacePixel,
  createPlacePixelSteps,
  type PlaceOutcome,
  type PlacePixelDeps,
  type PlaceRequest,
} from '../place-pixel.ts';
import type { AdmissionResult, PlacementAdmission } from '../../ports/admission.ts';
import type { CooldownResult } from '../../ports/cooldown.ts';
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
  /**
   * The checks and the cooldowns in one call (the Redis cooldown store: one script per placement, issue 13).
   * Without it, each port is asked on its own, as before.
   */
  readonly admission?: PlacementAdmission;
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
  const steps = createPlacePixelSteps(deps.place);
  const shadowSteps = createPlacePixelSteps({ ...deps.place, log: shadowLog(deps.currentSeq) });
  const paused: GuardedOutcome = {
    ok: false,
    code: ErrorCode.unavailable,
    message: 'placements are paused for a moment; try again shortly',
  };
  return async (identity, ip, request) => {
    if (identity.isGuest && !deps.allowGuestPlacement) {
      return { ok: false, code: ErrorCode.unauthorized, message: 'log in to place pixels (guests can watch)' };
    }
    if (deps.admission !== undefined) return admitted(deps.admission, identity, ip, request);
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
    return afterChecks(identity, ip, request, checks);
  };

  /** The answer to the checks, then the placement (its cooldowns taken by the command). */
  async function afterChecks(
    identity: AccountIdentity,
    ip: string,
    request: Omit<PlaceRequest, 'userId'>,
    checks: [boolean, BanMode | null, RateDecision, RateDecision],
  ): Promise<GuardedOutcome> {
    const refused = refusal(checks);
    if (refused !== null) return refused;
    const [, ban, , byUser] = checks;
    const accountAgeMs = identity.accountCreatedAt === null ? null : deps.place.clock.now() - identity.accountCreatedAt;
    const verdict = deps.risk.assess({ userId: identity.userId, accountAgeMs, attemptsExceeded: !byUser.allowed, ip });
    if (verdict === 'challenge' && !(await deps.challenge.isCleared(identity.userId))) {
      return { ok: false, code: ErrorCode.challenge_required, message: deps.challenge.instructions };
    }
    const full = { ...request, userId: identity.userId };
    if (ban === 'shadow') return { ...(await shadowPlace(full)), shadow: true };
    if (identity.isGuest && deps.guestCooldownPerIp) return placeAsGuest(ip, full);
    return place(full);
  }

  /** The refusal the session, ban and address checks call for, or null. */
  function refusal([alive, ban, byIp]: [boolean, BanMode | null, RateDecision, RateDecision]): GuardedOutcome | null {
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
    return null;
  }

  /** The checks and, when they pass, the cooldowns in one call; the rest as `afterChecks` when nothing was taken. */
  async function admitted(
    admission: PlacementAdmission,
    identity: AccountIdentity,
    ip: string,
    request: Omit<PlaceRequest, 'userId'>,
  ): Promise<GuardedOutcome> {
    const full = { ...request, userId: identity.userId };
    const { clock, cooldownSeconds } = deps.place;
    const accountAgeMs = identity.accountCreatedAt === null ? null : clock.now() - identity.accountCreatedAt;
    const take =
      steps.validate(full) === null &&
      deps.risk.assess({ userId: identity.userId, accountAgeMs, attemptsExceeded: false, ip }) === 'allow';
    const placedAt = clock.now();
    const holder = `${full.userId}/${full.requestId}`;
    let result: AdmissionResult;
    let ban: BanMode | null;
    try {
      result = await admission.admit({
        userId: identity.userId,
        sessionKey: identity.sessionKey,
        perIp: { name: `place:ip:${ip}`, ...deps.perIp },
        perUser: { name: `place:user:${identity.userId}`, ...deps.perUser },
        cooldowns: take
          ? {
              requestId: full.requestId,
              placedAt,
              seconds: cooldownSeconds,
              pixel: full,
              address:
                identity.isGuest && deps.guestCooldownPerIp ? { subject: `guest-ip:${ip}`, holderId: holder } : null,
            }
          : null,
      });
      // Not known to be complete: the store rebuilds the copy (nothing was taken, so the rest goes as before).
      ban = result.ban === 'unknown' ? await deps.bans.get(identity.userId) : result.ban;
    } catch (error) {
      if (error instanceof StoreUnavailable) return paused;
      throw error;
    }
    const checks: [boolean, BanMode | null, RateDecision, RateDecision] = [
      result.alive,
      ban,
      result.byIp,
      result.byUser,
    ];
    if (result.address === null && result.cooldown === null) return afterChecks(identity, ip, request, checks);
    if (ban === 'shadow')
      return { ...(await shadowSteps.afterAcquire(full, placedAt, result.cooldown!)), shadow: true };
    const address = result.address;
    if (address !== null && result.cooldown === null) return addressRefusal(address);
    const outcome = await steps.afterAcquire(full, placedAt, result.cooldown!);
    if (address !== null) await refundAddress(outcome, address, `guest-ip:${ip}`, holder);
    return outcome;
  }

  function addressRefusal(address: CooldownResult): GuardedOutcome {
    const remainingSeconds = Math.max(1, Math.ceil(address.remainingMs / 1000));
    return {
      ok: false,
      code: ErrorCode.cooldown,
      message: `a guest at your address placed recently; you can place again in ${remainingSeconds} s (or log in)`,
      remainingSeconds,
    };
  }

  /** Gives the address's cooldown back when this attempt took it and the placement did not happen. */
  async function refundAddress(outcome: PlaceOutcome, address: CooldownResult, subject: string, holder: string) {
    if (outcome.ok || !address.acquired) return;
    await deps.place.cooldowns.release(subject, holder).catch((error: unknown) => {
      if (!(error instanceof StoreUnavailable)) throw error; // else it runs out: the address waits, nothing is inconsistent
    });
  }

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
    if (!address.acquired && address.holderRequestId !== holder) return addressRefusal(address);
    const outcome = await place(full);
    await refundAddress(outcome, address, subject, holder);
    return outcome;
  }
}
