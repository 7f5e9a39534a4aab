/**
 * Placement admission: every check a placement needs from shared state, and its cooldowns, as ONE call
 * (issue 13: the guard's checks and the cooldown acquisition were separate Redis writes per placement).
 * Implemented by src/adapters/redis/cooldown-store.ts (one script, in the cooldown store's batch, so the
 * previous placements' outcome records ride along) and, over the separate ports, by
 * src/app/auth/composed-admission.ts (the fakes, and any store without a combined call).
 *
 * Invariant: the cooldowns are taken only if every check passes: the session is alive (or there is none),
 * the bans are known to be loaded and the user is not `ban`ned, and both rate buckets allowed. Both buckets
 * are always charged and the session and ban always read, exactly as the separate checks did.
 * A store that cannot answer rejects with `StoreUnavailable` (src/ports/errors.ts).
 */
import type { BanMode, Limit, RateDecision } from './auth.ts';
import type { CooldownResult, PixelRef } from './cooldown.ts';

/** A rate bucket to charge: `name` as the RateLimiter names it. */
export interface AdmissionBucket extends Limit {
  readonly name: string;
}

/** The cooldowns to take when every check passes, in this order. */
export interface AdmissionCooldowns {
  readonly requestId: string;
  readonly placedAt: number;
  readonly seconds: number;
  readonly pixel: PixelRef;
  /**
   * A guest's address cooldown (`subject` as the CooldownStore's user id, `holderId` its request id), taken
   * first unless the user is shadow-banned; the user's own cooldown is then tried only if the address was
   * taken or `holderId` already holds it.
   */
  readonly address: { readonly subject: string; readonly holderId: string } | null;
}

export interface AdmissionRequest {
  readonly userId: string;
  /** The session to check is alive (its key hash); null for guests. */
  readonly sessionKey: string | null;
  readonly perIp: AdmissionBucket;
  readonly perUser: AdmissionBucket;
  /** null: check only, take nothing. */
  readonly cooldowns: AdmissionCooldowns | null;
}

export interface AdmissionResult {
  readonly alive: boolean;
  /** `unknown` when the ban copy is not known to be complete: ask the BanStore (it rebuilds); nothing was taken. */
  readonly ban: BanMode | null | 'unknown';
  readonly byIp: RateDecision;
  readonly byUser: RateDecision;
  /** The address cooldown's answer, when it was tried. */
  readonly address: CooldownResult | null;
  /** The user's cooldown answer, when it was tried. */
  readonly cooldown: CooldownResult | null;
}

/** One call for a placement's checks and cooldowns (see the invariant above). */
export interface PlacementAdmission {
  admit(request: AdmissionRequest): Promise<AdmissionResult>;
}
