/**
 * The proof-of-work that stands in for a lockout once an account's login budget is spent. An attacker
 * guessing from many addresses empties the per-account bucket; from then on every login for that account,
 * the owner's included, must carry a solved challenge bound to the username. The owner pays a fraction of
 * a second once; the attacker pays it for every guess, on top of the per-address and per-account+address
 * budgets that stop any single address outright.
 *
 *   GET /api/v1/auth/login-challenge?username=NAME → { challenge, difficulty }   (lives 5 minutes, single use)
 *   then POST /api/v1/auth/login { username, password, challenge, nonce }
 *
 * Issuance is itself bounded per address (a bucket with the per-address login budget), so challenges cannot
 * be minted into an unbounded number of Redis keys.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { json, jsonError, type HttpRoute } from '../http.ts';
import type { ChallengeStore, Limit, RateLimiter } from '../../ports/auth.ts';
import { leadingZeroBits, powDigest } from './proof-of-work.ts';
import { Username } from './schemas.ts';

export const LOGIN_CHALLENGE_PATH = '/api/v1/auth/login-challenge';
const TTL_SECONDS = 300;

export interface LoginChallengeOptions {
  readonly store: ChallengeStore;
  readonly limits: RateLimiter;
  readonly difficulty: number;
  /** Challenges issued per client address. */
  readonly perIp: Limit;
}

export interface LoginChallenges {
  /** True (once) when `challenge` was issued for `username` and `nonce` solves it. */
  redeem(username: string, challenge: string, nonce: string): Promise<boolean>;
  readonly instructions: string;
  readonly routes: readonly HttpRoute[];
}

const key = (challenge: string) => `login-pow:${challenge}`;

export function createLoginChallenges(options: LoginChallengeOptions): LoginChallenges {
  return {
    instructions: `too many login attempts for this account: GET ${LOGIN_CHALLENGE_PATH}?username=<name>, find a nonce (proof-of-work), and log in again with {username, password, challenge, nonce}`,
    async redeem(username, challenge, nonce) {
      // Taken (deleted) before checking the nonce: one challenge buys one password check, solved or not.
      const owner = await options.store.take(key(challenge));
      return owner === username.toLowerCase() && leadingZeroBits(powDigest(challenge, nonce)) >= options.difficulty;
    },
    routes: [
      {
        method: 'GET',
        path: LOGIN_CHALLENGE_PATH,
        maxBodyBytes: 0,
        async handle(request) {
          const username = Username.safeParse(request.query.get('username'));
          if (!username.success) return jsonError(ErrorCode.bad_request, 'username: 3-24 of A-Z a-z 0-9 _ -');
          const bucket = await options.limits.take(
            `login-challenge:ip:${request.remoteAddress}`,
            options.perIp.limit,
            options.perIp.windowMs,
          );
          if (!bucket.allowed) {
            const retryAfterSeconds = Math.max(1, Math.ceil(bucket.retryAfterMs / 1000));
            return {
              ...jsonError(
                ErrorCode.rate_limited,
                `too many challenges from your address; try again in ${retryAfterSeconds} s`,
                { retryAfterSeconds },
              ),
              headers: { 'content-type': 'application/json', 'retry-after': String(retryAfterSeconds) },
            };
          }
          const challenge = randomBytes(16).toString('base64url');
          await options.store.put(key(challenge), username.data.toLowerCase(), TTL_SECONDS);
          return json(
            200,
            { challenge, difficulty: options.difficulty, expiresInSeconds: TTL_SECONDS },
            { 'cache-control': 'no-store' },
          );
        },
      },
    ],
  };
}
