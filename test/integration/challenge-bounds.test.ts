/**
 * Proof-of-work challenge issuance is bounded, against the real Redis (challenge store, GCRA limiter) and real
 * sessions: an address gets `POW_CHALLENGES_PER_IP_PER_MINUTE`, then 429 with Retry-After; a user holds at most
 * one outstanding challenge (a new one replaces the last), so the keys in Redis stay one per user.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createRedisChallengeStore } from '../../src/adapters/redis/challenge-store.ts';
import { createAccountIdentity } from '../../src/app/auth/identity.ts';
import { originPolicy } from '../../src/app/auth/origin.ts';
import { proofOfWorkRoutes, solve } from '../../src/app/auth/proof-of-work.ts';
import { sessionCookie } from '../../src/app/auth/sessions.ts';
import type { HttpResponse, HttpRoute } from '../../src/app/http.ts';
import { authFixture } from '../helpers/auth-fixture.ts';
import { testNames } from '../helpers/isolation.ts';

const names = testNames('powbounds');
let fx: Awaited<ReturnType<typeof authFixture>>;
let routes: HttpRoute[];
let refusedCount = 0;
const cookies: string[] = [];

beforeAll(async () => {
  fx = await authFixture(names);
  routes = proofOfWorkRoutes({
    store: createRedisChallengeStore(fx.redis, names.redisPrefix),
    difficulty: 4,
    clearSeconds: 60,
    identity: createAccountIdentity(fx.sessions, { identify: async () => null }),
    origins: originPolicy([]),
    limits: fx.limits,
    issuePerIp: { limit: 20, windowMs: 60_000 },
    onRefused: () => refusedCount++,
  });
  for (let i = 0; i < 5; i++) {
    const signedIn = await fx.accounts.register({ username: `pow${i}`, password: 'password1' }, '10.9.0.1');
    if (!signedIn.ok) throw new Error(signedIn.message);
    cookies.push(sessionCookie(signedIn.sessionId, { secure: false, maxAgeSeconds: 60 }).split(';')[0]!);
  }
}, 30_000);
afterAll(async () => fx.close(), 20_000);

function call(method: 'GET' | 'POST', cookie: string, ip: string, body?: unknown): Promise<HttpResponse> {
  const route = routes.find((r) => r.method === method)!;
  return route.handle({
    method, path: route.path, query: new URLSearchParams(), remoteAddress: ip,
    headers: { cookie, host: 'localhost', 'x-rplace-csrf': '1' },
    ...(body === undefined ? {} : { body: new TextEncoder().encode(JSON.stringify(body)) }),
  });
}
const challengeKeys = async () => (await fx.redis.keys(`${names.redisPrefix}chal:pow-user:*`)).length;

it('an address flooding GET /challenge gets its 20 a minute, then 429 rate_limited with Retry-After; one key per user', async () => {
  const answers = await Promise.all(Array.from({ length: 2000 }, (_, i) => call('GET', cookies[i % cookies.length]!, '10.9.0.2')));
  const served = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 429);
  expect(served.length).toBeGreaterThanOrEqual(20);
  expect(served.length).toBeLessThanOrEqual(21); // plus at most what refilled meanwhile (one every 3 s)
  expect(refused.length + served.length).toBe(2000);
  expect(refusedCount).toBe(refused.length);
  const body = JSON.parse(String(refused[0]!.body)) as { code: string; retryAfterSeconds: number };
  expect(body.code).toBe('rate_limited');
  expect(Number(refused[0]!.headers?.['retry-after'])).toBeGreaterThan(0);
  expect(await challengeKeys()).toBe(cookies.length); // 2,000 requests, 5 users: 5 keys
  // Another address is not affected.
  expect((await call('GET', cookies[0]!, '10.9.0.3')).status).toBe(200);
});

it('a new challenge replaces the outstanding one: only the latest can be solved', async () => {
  const first = (JSON.parse(String((await call('GET', cookies[1]!, '10.9.0.4')).body)) as { challenge: string }).challenge;
  const second = (JSON.parse(String((await call('GET', cookies[1]!, '10.9.0.4')).body)) as { challenge: string }).challenge;
  const stale = await call('POST', cookies[1]!, '10.9.0.4', { challenge: first, nonce: solve(first, 4) });
  expect(stale.status).toBe(400);
  const again = (JSON.parse(String((await call('GET', cookies[1]!, '10.9.0.4')).body)) as { challenge: string }).challenge;
  expect(again).not.toBe(second);
  const passed = await call('POST', cookies[1]!, '10.9.0.4', { challenge: again, nonce: solve(again, 4) });
  expect([passed.status, JSON.parse(String(passed.body))]).toEqual([200, { success: true, clearedForSeconds: 60 }]);
});
