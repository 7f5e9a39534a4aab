/**
 * What the edge asks at each WebSocket upgrade and each `place`, in one object so the edge server needs
 * one optional dependency: the Origin allow-list, the per-IP connection cap, the client address rule,
 * and the guarded placement (guests, bans, shadow bans, per-IP caps, risk check).
 */
import type { ConnectionCaps } from './connection-caps.ts';
import type { GuardedPlace } from './placement-guard.ts';

export interface EdgeAccess {
  /** `null` when the upgrade's `Origin` is acceptable, otherwise the reason (the upgrade is refused with 403 `forbidden`). */
  checkOrigin(headers: Readonly<Record<string, string>>): string | null;
  /** The client address for per-IP limits (`TRUST_PROXY` decides whether `X-Forwarded-For` counts). */
  clientIp(remoteAddress: string, forwardedFor: string | undefined): string;
  /** Per-IP concurrent connection cap (refused with 429 `rate_limited`). */
  readonly connections: ConnectionCaps;
  readonly place: GuardedPlace;
}
