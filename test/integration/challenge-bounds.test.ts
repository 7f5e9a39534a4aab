/**
 * Proof-of-work challenge issuance is bounded, through a real edge (in-process, uWS) on the shared Redis,
 * Postgres and NATS: an address gets `POW_CHALLENGES_PER_IP_PER_MINUTE`, then 429 `rate_limited` with
 * Retry-After; a user holds at most one outstanding challenge (a new one replaces the last), so 2,000
 * requests by 5 users leave 5 keys in Redis, where they used to leave 2,000.
 */
import { startInProcessEdge } from '../helpers/in-process-edge.ts';
import { request } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { solve } from '../../src/app/auth/proof-of-work.ts';
import { cleanupCanvas, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('powbounds');
let stop: (() => Promise<void>) | undefined;
let redis: Redis;
let port = 0;
const cookies: string[] = [];

beforeAll(async () => {
  redis = new Redis(TEST_REDIS_URL);
  ({ stop, port } = await startInProcessEdge(names, {
    SESSION_SECRET: 'pow-bounds-test-secret-0123456789abcdef',
    CANVAS_WIDTH: '32',
    CANVAS_HEIGHT: '32',
    ALLOW_GUEST_PLACEMENT: '0',
    POW_DIFFICULTY: '4',
    POW_CHALLENGES_PER_IP_PER_MINUTE: '20',
  }));
  for (let i = 0; i < 5; i++) {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-rplace-csrf': '1' },
      body: JSON.stringify({ username: `pow${i}`, password: 'password-123' }),
    });
    expect(res.status).toBe(201);
    cookies.push(/rplace_session=[^;]*/.exec(res.headers.get('set-cookie') ?? '')![0]);
  }
}, 60_000);

afterAll(async () => {
  await stop?.();
  await cleanupCanvas(names, { redis });
  redis.disconnect();
}, 30_000);

/** One request from `from` (a 127.x source address), answered as status, headers and JSON body. */
function call(
  method: 'GET' | 'POST',
  cookie: string,
  from: string,
  body?: unknown,
): Promise<{ status: number; retryAfter: string | undefined; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method,
        path: '/api/v1/auth/challenge',
        headers: {
          cookie,
          'x-rplace-csrf': '1',
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (d: Buffer) => (text += d.toString()));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            retryAfter: res.headers['retry-after'],
            json: JSON.parse(text) as Record<string, unknown>,
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}
const challengeKeys = async () => (await redis.keys(`${names.redisPrefix}chal:pow-user:*`)).length;
const refusals = async () =>
  Number(
    /^rplace_limit_refusals_total\{limit="pow_challenges_per_ip"[^}]*\} (\d+)/m.exec(
      await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(),
    )?.[1] ?? 0,
  );

it('an address flooding GET /challenge gets its 20 a minute, then 429 rate_limited with Retry-After; one key per user', async () => {
  const before = await refusals();
  const answers: Awaited<ReturnType<typeof call>>[] = [];
  for (let batch = 0; batch < 20; batch++)
    answers.push(
      ...(await Promise.all(
        Array.from({ length: 100 }, (_, i) => call('GET', cookies[i % cookies.length]!, '127.0.0.31')),
      )),
    );
  const served = answers.filter((a) => a.status === 200);
  const refused = answers.filter((a) => a.status === 429);
  expect(served.length).toBeGreaterThanOrEqual(20);
  expect(served.length).toBeLessThanOrEqual(25); // plus what refilled meanwhile (one every 3 s)
  expect(refused.length + served.length).toBe(2000);
  expect(refused[0]!.json['code']).toBe('rate_limited');
  expect(Number(refused[0]!.retryAfter)).toBeGreaterThan(0);
  expect((await refusals()) - before).toBe(refused.length);
  expect(await challengeKeys()).toBe(cookies.length); // 2,000 requests, 5 users: 5 keys
  // Another address is not affected.
  expect((await call('GET', cookies[0]!, '127.0.0.32')).status).toBe(200);
}, 60_000);

it('a new challenge replaces the outstanding one: only the latest can be solved', async () => {
  const first = String((await call('GET', cookies[1]!, '127.0.0.33')).json['challenge']);
  const second = String((await call('GET', cookies[1]!, '127.0.0.33')).json['challenge']);
  expect(second).not.toBe(first);
  const stale = await call('POST', cookies[1]!, '127.0.0.33', { challenge: first, nonce: solve(first, 4) });
  expect(stale.status).toBe(400);
  const again = String((await call('GET', cookies[1]!, '127.0.0.33')).json['challenge']);
  const passed = await call('POST', cookies[1]!, '127.0.0.33', { challenge: again, nonce: solve(again, 4) });
  expect([passed.status, passed.json]).toEqual([200, { success: true, clearedForSeconds: 3600 }]);
});
