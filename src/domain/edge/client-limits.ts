/**
 * The edge's per-client rates, as one pure object the uWS adapter asks (docs/SECURITY.md, "Bounded work per
 * client"): messages per socket, and whole-canvas sends per socket and per client address. A socket's
 * budget is two buckets, so the check per message allocates nothing; only a refusal does. Each bucket is made
 * on its first use: a bucket made full then holds what one made full at the open would (tokens stop at the
 * burst), and most sockets are viewers that never send a message, so they never pay for one (issue 14: memory
 * per connection).
 */
import { fullBucket, KeyedBuckets, msUntil, perMinute, takeToken, type Bucket, type Rate } from '../limits.ts';

/** Per-client bounds of the edge (configured by src/config/edge.ts). */
export interface ClientLimits {
  /** Messages per socket; past it the socket gets `rate_limited` and is closed with 1008. */
  readonly messages: Rate;
  /** Whole-canvas (and large catch-up) sends per socket; past it `rate_limited` and 1013. */
  readonly resyncsPerSocket: Rate;
  /** The same across every socket of one client address. */
  readonly resyncsPerIp: Rate;
  /** Large HTTP responses one address may leave unread at once (src/adapters/uws/http-routes.ts). */
  readonly maxUnreadResponsesPerIp: number;
}

export const DEFAULT_CLIENT_LIMITS: ClientLimits = {
  messages: { perSecond: 20, burst: 60 },
  resyncsPerSocket: perMinute(6),
  resyncsPerIp: perMinute(30),
  maxUnreadResponsesPerIp: 8,
};

/** What one socket has left; null: that bucket was never used (full). */
export interface SocketBudget {
  messages: Bucket | null;
  resyncs: Bucket | null;
}

export interface ResyncRefusal {
  readonly limit: 'ws_resyncs_per_socket' | 'ws_resyncs_per_ip';
  readonly retryAfterMs: number;
}

export class EdgeClientLimits {
  readonly limits: ClientLimits;
  readonly #perIp: KeyedBuckets;

  constructor(limits: ClientLimits = DEFAULT_CLIENT_LIMITS) {
    this.limits = limits;
    this.#perIp = new KeyedBuckets(limits.resyncsPerIp);
  }

  /** A new socket's budget: both buckets full. */
  socket(): SocketBudget {
    return { messages: null, resyncs: null };
  }

  /** Spends one message; false when the socket is past its rate. */
  message(budget: SocketBudget, now: number): boolean {
    budget.messages ??= fullBucket(this.limits.messages, now);
    return takeToken(budget.messages, this.limits.messages, now);
  }

  /** Spends one whole-canvas send from the socket's and then the address's bucket (`ip` '' has none); null when allowed. */
  resync(budget: SocketBudget, ip: string, now: number): ResyncRefusal | null {
    budget.resyncs ??= fullBucket(this.limits.resyncsPerSocket, now);
    if (!takeToken(budget.resyncs, this.limits.resyncsPerSocket, now)) {
      return {
        limit: 'ws_resyncs_per_socket',
        retryAfterMs: msUntil(budget.resyncs, this.limits.resyncsPerSocket, now),
      };
    }
    const waitMs = ip === '' ? 0 : this.#perIp.take(ip, now);
    return waitMs === 0 ? null : { limit: 'ws_resyncs_per_ip', retryAfterMs: waitMs };
  }
}
