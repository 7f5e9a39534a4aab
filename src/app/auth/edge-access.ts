/**
 * What the edge asks at each WebSocket upgrade and each `place`, in one object so the edge server needs
 * one optional dependency: the Origin allow-list, the per-IP connection cap, the client address rule,
 * and the guarded placement (guests, bans, shadow bans, per-IP caps, risk check).
 */
import type { ConnectionCaps } from '../../domain/auth/connection-caps.ts';
import type { GuardedPlace } from './placement-guard.ts';

export interface EdgeAccess {
  /** `null` when the upgrade's `Origin` is acceptable, otherwise the reason (the upgrade is refused with 403 `forbidden`). */
  checkOrigin(headers: Readonly<Record<string, string>>): string | null;
  /**
   * The client address for per-IP limits: the peer, or what a proxy in `TRUSTED_PROXIES` says
   * (client-address.ts). `header(name)` reads a request header by lower-case name.
   */
  clientIp(remoteAddress: string, header: (name: string) => string | undefined): string;
  /** Per-IP concurrent connection cap (refused with 429 `rate_limited`). */
  readonly connections: ConnectionCaps;
  readonly place: GuardedPlace;
}
