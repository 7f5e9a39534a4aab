/**
 * `PlacementAdmission` over the separate ports (fakes or real): what the one Redis script does
 * (src/adapters/redis/cooldown-lua.ts), call by call. Session, ban and both buckets are always asked; the
 * cooldowns only when every check passes: the address first (skipped for a shadow ban), the user's only if
 * the address was taken or the same holder has it. A store that is down rejects with `StoreUnavailable`.
 */
import type { PlacementAdmission } from '../../../src/ports/admission.ts';
import type { BanStore, RateLimiter, SessionStore } from '../../../src/ports/auth.ts';
import type { CooldownStore } from '../../../src/ports/cooldown.ts';

export interface AdmissionPorts {
  readonly bans: BanStore;
  readonly sessions: Pick<SessionStore, 'aliveByKey'>;
  readonly limits: RateLimiter;
  readonly cooldowns: CooldownStore;
  /**
   * Whether the ban list is known to be complete (the Redis copy is loaded from Postgres); when it says no,
   * the ban is `unknown` and nothing is taken, as the Redis script answers. Default: always loaded.
   */
  readonly bansLoaded?: () => boolean;
}

export function createComposedAdmission(ports: AdmissionPorts): PlacementAdmission {
  return {
    async admit(request) {
      const [alive, ban, byIp, byUser] = await Promise.all([
        request.sessionKey === null ? true : ports.sessions.aliveByKey(request.sessionKey),
        ports.bansLoaded?.() === false ? ('unknown' as const) : ports.bans.get(request.userId),
        ports.limits.take(request.perIp.name, request.perIp.limit, request.perIp.windowMs),
        ports.limits.take(request.perUser.name, request.perUser.limit, request.perUser.windowMs),
      ]);
      const c = request.cooldowns;
      const checks = { alive, ban, byIp, byUser };
      if (c === null || !alive || ban === 'ban' || ban === 'unknown' || !byIp.allowed || !byUser.allowed)
        return { ...checks, address: null, cooldown: null };
      let address = null;
      if (c.address !== null && ban !== 'shadow') {
        address = await ports.cooldowns.tryAcquire(
          c.address.subject,
          c.address.holderId,
          c.placedAt,
          c.seconds,
          c.pixel,
        );
        if (!address.acquired && address.holderRequestId !== c.address.holderId)
          return { ...checks, address, cooldown: null };
      }
      const cooldown = await ports.cooldowns.tryAcquire(request.userId, c.requestId, c.placedAt, c.seconds, c.pixel);
      return { ...checks, address, cooldown };
    },
  };
}
