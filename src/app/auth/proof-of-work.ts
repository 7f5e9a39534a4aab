/**
 * A built-in challenge: proof-of-work (hashcash style), as a `ChallengeGate` plus two HTTP routes. It needs
 * no third party and no change to the WebSocket protocol: a client refused with `challenge_required` fetches
 * a challenge over HTTP, finds a nonce, posts it, and places again.
 *
 *   GET  /api/v1/auth/challenge  → { challenge, difficulty }   (signed-in users; a challenge lives 5 minutes)
 *   POST /api/v1/auth/challenge  { challenge, nonce } → { success: true, clearedForSeconds }
 *
 * Valid when SHA-256(challenge + ":" + nonce) starts with `difficulty` zero bits. A challenge is bound to
 * the user and usable once; passing clears the user for `clearSeconds`.
 *
 * Bounded issuance: a user has at most one outstanding challenge (stored under the user, so a new one
 * replaces the last: one Redis key per user however often it asks), and each client address may ask
 * `issuePerIp.limit` times per `issuePerIp.windowMs` (429 `rate_limited` with `Retry-After` past it).
 */
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { json, jsonError, type HttpRoute } from '../http.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import { checkCsrf, type OriginPolicy } from '../../domain/auth/origin.ts';
import type { ChallengeStore, RateLimiter } from '../../ports/auth.ts';
import type { ChallengeGate } from './risk.ts';

export interface ProofOfWorkOptions {
  readonly store: ChallengeStore;
  readonly difficulty: number;
  readonly clearSeconds: number;
}

export interface ChallengeIssuance {
  readonly limits: RateLimiter;
  /** Challenges one client address may fetch per window. */
  readonly issuePerIp: { readonly limit: number; readonly windowMs: number };
  /** Called once per refused issuance (metrics). */
  readonly onRefused?: () => void;
}

/** How long a challenge may be solved. */
const CHALLENGE_TTL_SECONDS = 300;

export function leadingZeroBits(digest: Uint8Array): number {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

export function powDigest(challenge: string, nonce: string): Uint8Array {
  return createHash('sha256').update(`${challenge}:${nonce}`).digest();
}

/** Finds a nonce (for tests and Node clients). */
export function solve(challenge: string, difficulty: number): string {
  for (let n = 0; ; n++) if (leadingZeroBits(powDigest(challenge, String(n))) >= difficulty) return String(n);
}

export function proofOfWorkGate(options: ProofOfWorkOptions): ChallengeGate {
  return {
    isCleared: (userId) => options.store.has(`pow-ok:${userId}`),
    instructions: `too many placement attempts for a new account: solve the proof-of-work at /api/v1/auth/challenge (GET, then POST {challenge, nonce}), or slow down`,
  };
}

const Solution = z.strictObject({
  challenge: z.string().regex(/^[A-Za-z0-9_-]{22}$/),
  nonce: z.string().min(1).max(32),
});

export function proofOfWorkRoutes(
  options: ProofOfWorkOptions & ChallengeIssuance & { identity: IdentityProvider; origins: OriginPolicy },
): HttpRoute[] {
  const path = '/api/v1/auth/challenge';
  const signedIn = async (headers: Readonly<Record<string, string>>) => {
    const who = await options.identity.identify(headers);
    return who && !who.identity.isGuest ? who.identity.userId : null;
  };
  return [
    {
      method: 'GET',
      path,
      maxBodyBytes: 0,
      async handle(request) {
        const userId = await signedIn(request.headers);
        if (userId === null) return jsonError(ErrorCode.unauthorized, 'log in first');
        const rate = await options.limits.take(
          `pow-issue-ip:${request.remoteAddress}`,
          options.issuePerIp.limit,
          options.issuePerIp.windowMs,
        );
        if (!rate.allowed) {
          options.onRefused?.();
          const retryAfterSeconds = Math.ceil(rate.retryAfterMs / 1000);
          const refused = jsonError(
            ErrorCode.rate_limited,
            `too many challenges from your address; retry in ${retryAfterSeconds} s`,
            { retryAfterSeconds },
          );
          return { ...refused, headers: { ...refused.headers, 'retry-after': String(retryAfterSeconds) } };
        }
        const challenge = randomBytes(16).toString('base64url');
        await options.store.put(`pow-user:${userId}`, challenge, CHALLENGE_TTL_SECONDS); // replaces any earlier one
        return json(200, { challenge, difficulty: options.difficulty }, { 'cache-control': 'no-store' });
      },
    },
    {
      method: 'POST',
      path,
      maxBodyBytes: 256,
      async handle(request) {
        const csrf = checkCsrf(options.origins, request.headers);
        if (csrf !== null) return jsonError(ErrorCode.forbidden, csrf);
        const userId = await signedIn(request.headers);
        if (userId === null) return jsonError(ErrorCode.unauthorized, 'log in first');
        let body: unknown;
        try {
          body = JSON.parse(Buffer.from(request.body ?? new Uint8Array()).toString('utf8'));
        } catch {
          return jsonError(ErrorCode.bad_request, 'body must be JSON {challenge, nonce}');
        }
        const parsed = Solution.safeParse(body);
        if (!parsed.success) return jsonError(ErrorCode.bad_request, 'body must be {challenge, nonce}');
        const outstanding = await options.store.take(`pow-user:${userId}`);
        if (outstanding !== parsed.data.challenge)
          return jsonError(ErrorCode.bad_request, 'unknown, replaced or expired challenge; GET a new one');
        if (leadingZeroBits(powDigest(parsed.data.challenge, parsed.data.nonce)) < options.difficulty) {
          return jsonError(ErrorCode.bad_request, 'the nonce does not solve the challenge; GET a new one');
        }
        await options.store.put(`pow-ok:${userId}`, '1', options.clearSeconds);
        return json(200, { success: true, clearedForSeconds: options.clearSeconds }, { 'cache-control': 'no-store' });
      },
    },
  ];
}
