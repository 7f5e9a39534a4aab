/**
 * Ports of the accounts and abuse-resistance use cases. Implemented by src/adapters/pg/user-store.ts and
 * src/adapters/redis/{session-store,ban-store,rate-limits,challenge-store}.ts; nothing here imports a client library.
 */

/** A registered account as stored; `passwordHash` is the scrypt string of src/app/auth/password.ts. */
export interface Account {
  readonly userId: string;
  readonly username: string;
  readonly passwordHash: string;
  /** ms since the epoch. */
  readonly createdAt: number;
}

/** Accounts, unique by username case-insensitively. A store failure rejects with `StoreUnavailable`. */
export interface UserStore {
  /** Creates the account; `false` when the username (case-insensitively) is taken. */
  create(account: Account): Promise<boolean>;
  findByUsername(username: string): Promise<Account | null>;
  findById(userId: string): Promise<Account | null>;
  /** The usernames of those of `userIds` that have an account, in one query. */
  usernamesOf(userIds: readonly string[]): Promise<Map<string, string>>;
}

/** What a session knows about its user (copied in at login so the WebSocket upgrade needs one Redis read). */
export interface SessionData {
  readonly userId: string;
  readonly username: string;
  /** Account creation time, ms since the epoch (the built-in risk rule uses account age). */
  readonly accountCreatedAt: number;
  readonly createdAt: number;
}

/**
 * Server-side sessions with an expiry. The store keys sessions by a hash of the id, so a dump of the
 * store does not hand out live cookies. `sessionKey(id)` is that hash; sockets are tagged with it.
 */
export interface SessionStore {
  create(sessionId: string, data: SessionData, ttlSeconds: number): Promise<void>;
  get(sessionId: string): Promise<SessionData | null>;
  destroy(sessionId: string): Promise<void>;
  /** Whether the session with this `sessionKey` still exists (not logged out, not expired). */
  aliveByKey(sessionKey: string): Promise<boolean>;
}

/** `ban` refuses placements; `shadow` accepts them for the user's eyes only (nothing is appended). */
export type BanMode = 'ban' | 'shadow';

/** Bans per user id, read on every placement and upgrade. */
export interface BanStore {
  get(userId: string): Promise<BanMode | null>;
  set(userId: string, mode: BanMode): Promise<void>;
  /** `true` when a ban was lifted. */
  clear(userId: string): Promise<boolean>;
}

export type RateDecision = { readonly allowed: true } | { readonly allowed: false; readonly retryAfterMs: number };

/**
 * Token buckets (GCRA) keyed by an arbitrary string: at most `limit` takes per `windowMs`, refilling
 * smoothly. Atomic across every process sharing the store.
 */
export interface RateLimiter {
  take(key: string, limit: number, windowMs: number): Promise<RateDecision>;
  /** Forgets a bucket (e.g. a successful login clears the account's failure budget). */
  reset(key: string): Promise<void>;
}

/**
 * Tells every edge that sockets must close: a session ended (logout) or a user was banned. Core NATS,
 * on a subject outside the canvas stream's subjects, so it never lands in the log.
 */
export interface Revocations {
  sessionEnded(sessionKey: string): Promise<void>;
  userBanned(userId: string): Promise<void>;
}

/** Short-lived keys for the proof-of-work challenges (src/adapters/redis/challenge-store.ts). */
export interface ChallengeStore {
  put(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Reads and deletes (a challenge is usable once). */
  take(key: string): Promise<string | null>;
  has(key: string): Promise<boolean>;
}

/** `ids` → username for those that have an account (implemented by the Postgres user store). */
export type UsernameLookup = (userIds: readonly string[]) => Promise<ReadonlyMap<string, string>>;

/** A rate limit: at most `limit` hits per `windowMs` (what a {@link RateLimiter} is asked to enforce). */
export interface Limit {
  readonly limit: number;
  readonly windowMs: number;
}
