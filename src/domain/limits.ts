/**
 * In-process limits on the work one client can cause: token buckets (a rate with a burst) and slots (a
 * concurrency cap, global and per key). Pure and clock-free: callers pass `now` in ms.
 *
 * A `Bucket` is two numbers the caller owns (a socket keeps its own in its user data), so a check per
 * message allocates nothing. `KeyedBuckets` keeps one per key (a client address) in a Map bounded by
 * `maxKeys`: past it the oldest entries go, so a flood of distinct keys costs bounded memory at the price
 * of handing a forgotten key a fresh bucket.
 */

export interface Rate {
  /** Tokens added per second. */
  readonly perSecond: number;
  /** Bucket size: the most spent at once after a quiet period. */
  readonly burst: number;
}

/** A bucket's state, mutated in place by `takeToken`. */
export interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms). */
  at: number;
}

/** `perMinute` events a minute, all of them allowed at once after a quiet minute. */
export function perMinute(perMinute: number): Rate {
  return { perSecond: perMinute / 60, burst: perMinute };
}

export function fullBucket(rate: Rate, now: number): Bucket {
  return { tokens: rate.burst, at: now };
}

function refill(bucket: Bucket, rate: Rate, now: number): void {
  if (now > bucket.at) {
    bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) * rate.perSecond) / 1000);
    bucket.at = now;
  }
}

/** Spends `cost` tokens if the bucket holds them; false (and nothing spent) otherwise. */
export function takeToken(bucket: Bucket, rate: Rate, now: number, cost = 1): boolean {
  refill(bucket, rate, now);
  if (bucket.tokens < cost) return false;
  bucket.tokens -= cost;
  return true;
}

/** Milliseconds until `cost` tokens are available (0: now). */
export function msUntil(bucket: Bucket, rate: Rate, now: number, cost = 1): number {
  refill(bucket, rate, now);
  return bucket.tokens >= cost ? 0 : Math.ceil(((cost - bucket.tokens) * 1000) / rate.perSecond);
}

/** One bucket per key, in a Map of at most `maxKeys` entries. */
export class KeyedBuckets {
  readonly rate: Rate;
  readonly #maxKeys: number;
  readonly #buckets = new Map<string, Bucket>();

  constructor(rate: Rate, maxKeys = 100_000) {
    this.rate = rate;
    this.#maxKeys = maxKeys;
  }

  /** Spends `cost` from `key`'s bucket; returns 0 when allowed, otherwise the ms until it would be. */
  take(key: string, now: number, cost = 1): number {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
      bucket = fullBucket(this.rate, now);
      this.#buckets.set(key, bucket);
    }
    return takeToken(bucket, this.rate, now, cost) ? 0 : msUntil(bucket, this.rate, now, cost);
  }

  get size(): number {
    return this.#buckets.size;
  }

  /** Drops buckets that have refilled (they equal a new one), then the oldest tenth if still full. */
  #evict(now: number): void {
    for (const [key, bucket] of this.#buckets) {
      refill(bucket, this.rate, now);
      if (bucket.tokens >= this.rate.burst) this.#buckets.delete(key);
    }
    let drop = this.#buckets.size - Math.floor(this.#maxKeys * 0.9);
    for (const key of this.#buckets.keys()) {
      if (drop-- <= 0) break;
      this.#buckets.delete(key);
    }
  }
}

export type SlotRefusal = 'busy' | 'per_key';

/**
 * A concurrency cap with a fair share: at most `global` holders at once, and at most `perKey` of them
 * with one key, so one client cannot hold every slot. `release` must run once per successful `acquire`.
 */
export class Slots {
  readonly global: number;
  readonly perKey: number;
  #held = 0;
  readonly #byKey = new Map<string, number>();

  constructor(global: number, perKey: number) {
    this.global = global;
    this.perKey = Math.min(perKey, global);
  }

  /** null when a slot was taken for `key`; otherwise why not. */
  acquire(key: string): SlotRefusal | null {
    const mine = this.#byKey.get(key) ?? 0;
    if (mine >= this.perKey) return 'per_key';
    if (this.#held >= this.global) return 'busy';
    this.#held += 1;
    this.#byKey.set(key, mine + 1);
    return null;
  }

  release(key: string): void {
    const mine = this.#byKey.get(key) ?? 0;
    if (mine === 0) return;
    this.#held -= 1;
    if (mine === 1) this.#byKey.delete(key);
    else this.#byKey.set(key, mine - 1);
  }

  get held(): number {
    return this.#held;
  }
}
