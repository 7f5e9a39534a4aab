/**
 * The account use cases: register, login, logout, identify. Expected outcomes (bad input, taken
 * username, wrong password, throttled) are returned values; only infrastructure failures throw.
 *
 * Login throttling happens BEFORE any password work, and counts attempts, not failures: 1,000 parallel
 * guesses all race for the same buckets, and at most the budget of each ever reaches scrypt. Three buckets:
 * - per address (one address trying many accounts): refused, `rate_limited`;
 * - per account+address (one address guessing one account): refused, `rate_limited`; other addresses,
 *   the owner's among them, are untouched by it;
 * - per account (one account guessed from many addresses): NOT refused once spent (that would let anyone
 *   lock the owner out with ten wrong passwords), but `challenge_required`: the login must carry a solved
 *   proof-of-work bound to the username (login-challenge.ts), so every further guess costs real work.
 * The per-account bucket is taken only by attempts the first two let through, so a throttled address
 * cannot keep draining it. A successful login refills the account's bucket and that address's pair bucket.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { Clock } from '../../ports/clock.ts';
import { dummyPasswordHash, hashPassword, verifyPassword, type ScryptCost } from './password.ts';
import type { Limit, RateLimiter, Revocations, SessionData, SessionStore, UserStore } from '../../ports/auth.ts';
import type { LoginChallenges } from './login-challenge.ts';
import { Credentials, LoginBody } from './schemas.ts';
import { newSessionId, sessionKey } from './sessions.ts';

export interface AuthSettings {
  readonly sessionTtlSeconds: number;
  /** Per account from anywhere; past it a login needs a solved challenge. */
  readonly loginPerAccount: Limit;
  /** Per account from one address; past it that address is refused. */
  readonly loginPerAccountPerIp: Limit;
  readonly loginPerIp: Limit;
  readonly registerPerIp: Limit;
  readonly scryptCost?: ScryptCost;
}

export interface AccountsDeps {
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly limits: RateLimiter;
  readonly revocations: Revocations;
  readonly clock: Clock;
  readonly settings: AuthSettings;
  /** Redeems the challenge a login must carry once the account's budget is spent. */
  readonly loginChallenges: Pick<LoginChallenges, 'redeem' | 'instructions'>;
}

export type Refusal = {
  readonly ok: false;
  readonly code: ErrorCode;
  readonly message: string;
  readonly retryAfterSeconds?: number;
};
export type SignedIn = { readonly ok: true; readonly sessionId: string; readonly session: SessionData };

export interface Accounts {
  register(body: unknown, ip: string, previousSessionId?: string): Promise<SignedIn | Refusal>;
  login(body: unknown, ip: string, previousSessionId?: string): Promise<SignedIn | Refusal>;
  logout(sessionId: string): Promise<void>;
  session(sessionId: string): Promise<SessionData | null>;
}

function badRequest(issues: readonly { message: string }[]): Refusal {
  return {
    ok: false,
    code: ErrorCode.bad_request,
    message: issues
      .map((i) => i.message)
      .join('; ')
      .slice(0, 300),
  };
}

function throttled(retryAfterMs: number, what: string): Refusal {
  const retryAfterSeconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return {
    ok: false,
    code: ErrorCode.rate_limited,
    message: `too many ${what}; try again in ${retryAfterSeconds} s`,
    retryAfterSeconds,
  };
}

export function newUserId(): string {
  return `u_${randomBytes(9).toString('base64url')}`;
}

export function createAccounts(deps: AccountsDeps): Accounts {
  const { users, sessions, limits, clock, settings } = deps;

  async function signIn(
    account: { userId: string; username: string; createdAt: number },
    previousSessionId: string | undefined,
  ): Promise<SignedIn> {
    // Never reuse a session id presented by the client (no fixation): the old one, if any, is destroyed.
    if (previousSessionId !== undefined) await endSession(previousSessionId);
    const sessionId = newSessionId();
    const session: SessionData = {
      userId: account.userId,
      username: account.username,
      accountCreatedAt: account.createdAt,
      createdAt: clock.now(),
    };
    await sessions.create(sessionId, session, settings.sessionTtlSeconds);
    return { ok: true, sessionId, session };
  }

  async function endSession(sessionId: string): Promise<void> {
    await sessions.destroy(sessionId);
    await deps.revocations.sessionEnded(sessionKey(sessionId));
  }

  return {
    async register(body, ip, previousSessionId) {
      const parsed = Credentials.safeParse(body);
      if (!parsed.success) return badRequest(parsed.error.issues);
      const ipBucket = await limits.take(
        `register:ip:${ip}`,
        settings.registerPerIp.limit,
        settings.registerPerIp.windowMs,
      );
      if (!ipBucket.allowed) return throttled(ipBucket.retryAfterMs, 'registrations from your address');
      const account = {
        userId: newUserId(),
        username: parsed.data.username,
        passwordHash: await hashPassword(parsed.data.password, settings.scryptCost),
        createdAt: clock.now(),
      };
      if (!(await users.create(account)))
        return { ok: false, code: ErrorCode.username_taken, message: `the username ${account.username} is taken` };
      return signIn(account, previousSessionId);
    },

    async login(body, ip, previousSessionId) {
      const parsed = LoginBody.safeParse(body);
      if (!parsed.success) return badRequest(parsed.error.issues);
      const username = parsed.data.username.toLowerCase();
      const byIp = await limits.take(`login:ip:${ip}`, settings.loginPerIp.limit, settings.loginPerIp.windowMs);
      if (!byIp.allowed) return throttled(byIp.retryAfterMs, 'login attempts from your address');
      const pairKey = `login:user-ip:${username}:${ip}`;
      const byPair = await limits.take(
        pairKey,
        settings.loginPerAccountPerIp.limit,
        settings.loginPerAccountPerIp.windowMs,
      );
      if (!byPair.allowed) return throttled(byPair.retryAfterMs, 'login attempts for this account from your address');
      const accountKey = `login:user:${username}`;
      const byAccount = await limits.take(
        accountKey,
        settings.loginPerAccount.limit,
        settings.loginPerAccount.windowMs,
      );
      if (!byAccount.allowed) {
        const { challenge, nonce } = parsed.data;
        const solved =
          challenge !== undefined &&
          nonce !== undefined &&
          (await deps.loginChallenges.redeem(username, challenge, nonce));
        if (!solved)
          return { ok: false, code: ErrorCode.challenge_required, message: deps.loginChallenges.instructions };
      }
      const account = await users.findByUsername(parsed.data.username);
      // Same scrypt work whether or not the account exists, so timing does not reveal usernames.
      const valid = await verifyPassword(
        parsed.data.password,
        account?.passwordHash ?? (await dummyPasswordHash(settings.scryptCost)),
      );
      if (account === null || !valid)
        return { ok: false, code: ErrorCode.invalid_credentials, message: 'wrong username or password' };
      await Promise.all([limits.reset(accountKey), limits.reset(pairKey)]);
      return signIn(account, previousSessionId);
    },

    logout: endSession,

    session: (sessionId) => sessions.get(sessionId),
  };
}
