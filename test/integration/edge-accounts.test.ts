/**
 * Accounts and abuse resistance through real edges (in-process, uWS) on the shared NATS, Redis and
 * Postgres: Origin allow-list, sessions on the WebSocket, guests, bans and shadow bans, logout closing
 * sockets, per-IP connection and placement caps, the risk check.
 */
import { startInProcessEdge } from '../helpers/in-process-edge.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { createDurableBanStore, type DurableBanStore } from '../../src/adapters/redis/ban-store.ts';
import { createPgBanRecords } from '../../src/adapters/pg/ban-records.ts';
import { createNatsRevocations } from '../../src/adapters/nats/revocations.ts';
import { leadingZeroBits, powDigest, solve } from '../../src/app/auth/proof-of-work.ts';
import {
  cleanupCanvas,
  deleteRedisKeys,
  testNames,
  TEST_DATABASE_URL,
  TEST_NATS_URL,
  TEST_REDIS_URL,
} from '../helpers/isolation.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('edgeaccounts');
const SECRET = 'edge-accounts-test-secret-0123456789abcdef';
let nc: NatsConnection;
let redis: Redis;
let pool: pg.Pool;
/** What `rplace mod ban` writes: Postgres, then the Redis copy the edges read. */
let bans: DurableBanStore;
const stops: (() => Promise<void>)[] = [];
let strict: string; // guests may not place; tight caps
let open: string; // ALLOW_GUEST_PLACEMENT=1
const sockets: WebSocket[] = [];

async function edge(extra: Record<string, string>): Promise<string> {
  const started = await startInProcessEdge(names, {
    SESSION_SECRET: SECRET,
    CANVAS_WIDTH: '32',
    CANVAS_HEIGHT: '32',
    COOLDOWN_SECONDS: '1',
    ...extra,
  });
  stops.push(started.stop);
  return started.host;
}

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  redis = new Redis(TEST_REDIS_URL);
  strict = await edge({
    ALLOW_GUEST_PLACEMENT: '0',
    ALLOWED_ORIGINS: 'https://place.example',
    WS_MAX_CONNECTIONS_PER_IP: '8',
    PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '1000',
    PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: '6',
    RISK_MIN_ACCOUNT_AGE_HOURS: '24',
    POW_DIFFICULTY: '8',
  });
  open = await edge({ ALLOW_GUEST_PLACEMENT: '1', GUEST_COOLDOWN_PER_IP: '1', PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '3' });
  pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  bans = createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema));
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.terminate();
  for (const stop of stops) await stop();
  await pool.end();
  await cleanupCanvas(names, { nc, redis });
  await nc.close();
  redis.disconnect();
}, 30_000);

interface Client {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  /** Binary frames received (canvas, pixels). */
  binary: { count: number };
  closed: Promise<number>;
  welcome: Record<string, unknown>;
  place(x: number, y: number, color: number): Promise<Record<string, unknown>>;
}

let nextRequest = 0;
function connectWs(
  host: string,
  options: { cookie?: string; origin?: string; localAddress?: string } = {},
): Promise<Client | { refused: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.cookie) headers['cookie'] = options.cookie;
    const ws = new WebSocket(`ws://${host}/ws?v=1`, {
      headers,
      perMessageDeflate: false,
      ...(options.origin ? { origin: options.origin } : {}),
      ...(options.localAddress ? { localAddress: options.localAddress } : {}),
    });
    sockets.push(ws);
    const messages: Record<string, unknown>[] = [];
    const binary = { count: 0 };
    const waiters: ((m: Record<string, unknown>) => void)[] = [];
    const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ refused: res.statusCode ?? 0, body }));
    });
    ws.on('error', (e) => reject(e));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        binary.count++;
        return;
      }
      const m = JSON.parse(String(data)) as Record<string, unknown>;
      messages.push(m);
      for (const w of waiters.splice(0)) w(m);
      if (m['type'] === 'welcome') {
        resolve({
          ws,
          messages,
          binary,
          closed,
          welcome: m,
          place(x, y, color) {
            const requestId = `r${nextRequest++}`;
            return new Promise((done) => {
              const check = (msg: Record<string, unknown>) =>
                msg['requestId'] === requestId ? done(msg) : waiters.push(check);
              waiters.push(check);
              ws.send(JSON.stringify({ type: 'place', x, y, color, requestId }));
            });
          },
        });
      }
    });
  });
}
async function client(host: string, options: Parameters<typeof connectWs>[1] = {}): Promise<Client> {
  const c = await connectWs(host, options);
  if ('refused' in c) throw new Error(`refused ${c.refused} ${c.body}`);
  return c;
}

async function http(
  host: string,
  method: string,
  path: string,
  body?: unknown,
  cookie?: string,
): Promise<{ status: number; json: Record<string, unknown>; cookie: string | undefined }> {
  const res = await fetch(`http://${host}${path}`, {
    method,
    headers: { 'content-type': 'application/json', 'x-rplace-csrf': '1', ...(cookie ? { cookie } : {}) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const setCookie = res.headers.get('set-cookie') ?? '';
  const sid = /rplace_session=([^;]*)/.exec(setCookie)?.[1];
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    cookie: sid ? `rplace_session=${sid}` : undefined,
  };
}

async function register(username: string): Promise<{ cookie: string; userId: string }> {
  const r = await http(strict, 'POST', '/api/v1/auth/register', { username, password: 'password-123' });
  expect(r.status).toBe(201);
  return { cookie: r.cookie!, userId: String(r.json['userId']) };
}

async function streamCount(): Promise<number> {
  const info = await (await jetstreamManager(nc)).streams.info(names.stream);
  return info.state.messages;
}

describe('the WebSocket upgrade', () => {
  it('refuses a cross-origin upgrade and accepts the own origin, an allowed origin and no origin', async () => {
    const evil = await connectWs(strict, { origin: 'https://evil.example' });
    expect(evil).toMatchObject({ refused: 403 });
    expect(JSON.parse((evil as { body: string }).body)).toMatchObject({ code: 'forbidden' });
    for (const origin of [`http://${strict}`, 'https://place.example', undefined]) {
      const c = await client(strict, origin ? { origin } : {});
      expect(c.welcome['type']).toBe('welcome');
      c.ws.close();
    }
  });

  it('caps a connection flood from one address while other addresses are unaffected', async () => {
    const flood = await Promise.all(
      Array.from({ length: 30 }, () =>
        connectWs(strict, { localAddress: '127.0.0.3' }).catch(() => ({ refused: -1, body: '' })),
      ),
    );
    const accepted = flood.filter((c): c is Client => !('refused' in c));
    const refused = flood.filter((c) => 'refused' in c) as { refused: number; body: string }[];
    expect(accepted.length).toBe(8);
    expect(refused.every((r) => r.refused === 429 && JSON.parse(r.body).code === 'rate_limited')).toBe(true);
    const other = await client(strict, { localAddress: '127.0.0.4' });
    expect(other.welcome['type']).toBe('welcome');
    // a slot is free again once a connection closes
    accepted[0]!.ws.close();
    await accepted[0]!.closed;
    await sleep(100);
    expect((await client(strict, { localAddress: '127.0.0.3' })).welcome['type']).toBe('welcome');
    for (const c of accepted) c.ws.close();
  });
});

describe('who may place', () => {
  it('a guest can watch but not place, unless guest placement is switched on', async () => {
    const guest = await client(strict);
    expect(guest.welcome).toMatchObject({ isGuest: true });
    expect(await guest.place(1, 1, 3)).toMatchObject({ type: 'error', code: 'unauthorized' });
    const demoGuest = await client(open);
    expect(await demoGuest.place(1, 2, 3)).toMatchObject({ type: 'success' });
  });

  it('a missing, forged or expired session cannot place; a live one can', async () => {
    const forged = await client(strict, { cookie: `rplace_session=${'x'.repeat(43)}` });
    expect(forged.welcome['isGuest']).toBe(true);
    expect(await forged.place(2, 2, 3)).toMatchObject({ code: 'unauthorized' });

    const { cookie, userId } = await register('placer');
    const user = await client(strict, { cookie });
    expect(user.welcome).toMatchObject({ isGuest: false, userId });
    expect(await user.place(2, 3, 4)).toMatchObject({ type: 'success' });

    // expiry: the session key disappears (as EX does) while the socket is open
    const keys = await redis.keys(`${names.redisPrefix}session:*`);
    for (const k of keys) if ((await redis.get(k))?.includes(userId)) await redis.del(k);
    await sleep(1_100); // cooldown
    expect(await user.place(2, 4, 4)).toMatchObject({ code: 'unauthorized' });
    expect((await client(strict, { cookie })).welcome['isGuest']).toBe(true);
  });

  it("gives a new session id at login, and logout closes that session's sockets", async () => {
    const { cookie } = await register('leaver');
    const login = await http(
      strict,
      'POST',
      '/api/v1/auth/login',
      { username: 'leaver', password: 'password-123' },
      cookie,
    );
    expect(login.status).toBe(200);
    expect(login.cookie).not.toBe(cookie);
    const [a, b] = await Promise.all([
      client(strict, { cookie: login.cookie! }),
      client(open, { cookie: login.cookie! }),
    ]);
    expect(a.welcome['isGuest']).toBe(false);
    const out = await http(strict, 'POST', '/api/v1/auth/logout', undefined, login.cookie);
    expect(out.status).toBe(200);
    // both edges close it: the revocation travels over NATS
    expect(await a.closed).toBe(4004);
    expect(await b.closed).toBe(4004);
    expect((await http(strict, 'GET', '/api/v1/auth/me', undefined, login.cookie)).json['isGuest']).toBe(true);
  });

  it('throttles 1,000 parallel wrong-password logins from one address over HTTP: only its per-account budget reaches scrypt', async () => {
    await register('target');
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        http(strict, 'POST', '/api/v1/auth/login', { username: 'target', password: `wrong-${i}-pw` }),
      ),
    );
    const byCode = new Map<string, number>();
    for (const a of answers)
      byCode.set(
        `${a.status} ${String(a.json['code'])}`,
        (byCode.get(`${a.status} ${String(a.json['code'])}`) ?? 0) + 1,
      );
    // LOGIN_ATTEMPTS_PER_ACCOUNT_PER_IP defaults to 5; the owner elsewhere is untouched (test/integration/auth-routes.test.ts)
    expect(Object.fromEntries(byCode)).toEqual({ '401 invalid_credentials': 5, '429 rate_limited': 995 });
  }, 60_000);

  it('refuses logout without the CSRF header', async () => {
    const res = await fetch(`http://${strict}/api/v1/auth/logout`, { method: 'POST' });
    expect(res.status).toBe(403);
    expect(((await res.json()) as { code: string }).code).toBe('forbidden');
  });
});

describe('bans and abuse', () => {
  it('a banned user is disconnected and refused; unban restores placing', async () => {
    const { cookie, userId } = await register('vandal');
    const c = await client(strict, { cookie });
    await bans.set(userId, 'ban');
    await createNatsRevocations(nc, names.canvasId).userBanned(userId);
    expect(await c.closed).toBe(4005);
    const again = await client(strict, { cookie });
    expect(await again.place(5, 5, 1)).toMatchObject({ code: 'banned' });
    await bans.clear(userId);
    expect(await again.place(5, 5, 1)).toMatchObject({ type: 'success' });
  });

  it('a shadow-banned user is answered success, but nothing reaches the stream or anyone else', async () => {
    const { cookie, userId } = await register('sneaky');
    await bans.set(userId, 'shadow');
    const watcher = await client(open);
    const sneaky = await client(strict, { cookie });
    const before = await streamCount();
    await sleep(200); // the watcher's initial canvas has arrived
    const framesBefore = watcher.binary.count;
    const answer = await sneaky.place(7, 7, 9);
    expect(answer).toMatchObject({ type: 'success' });
    // the cooldown applies to them as to anyone, so nothing looks different
    expect(await sneaky.place(7, 8, 9)).toMatchObject({ code: 'cooldown' });
    await sleep(300);
    expect(await streamCount()).toBe(before);
    expect(watcher.binary.count).toBe(framesBefore);
    // while an ordinary placement does reach the watcher
    const { cookie: honestCookie } = await register('honest');
    expect(await (await client(strict, { cookie: honestCookie })).place(7, 9, 9)).toMatchObject({ type: 'success' });
    await sleep(300);
    expect(watcher.binary.count).toBeGreaterThan(framesBefore);
    expect(await streamCount()).toBe(before + 1);
  });

  it('caps placement attempts per address', async () => {
    const guests = await Promise.all([
      client(open, { localAddress: '127.0.0.5' }),
      client(open, { localAddress: '127.0.0.5' }),
    ]);
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push(await guests[i % 2]!.place(10 + i, 10, 2));
    // the second guest at the address shares its guest cooldown (below); the fourth attempt is over the cap
    expect(answers.map((a) => a['code'] ?? a['type'])).toEqual(['success', 'cooldown', 'cooldown', 'rate_limited']);
    expect(answers[3]!['remainingSeconds']).toBeGreaterThan(0);
    const elsewhere = await client(open, { localAddress: '127.0.0.6' });
    expect(await elsewhere.place(20, 20, 2)).toMatchObject({ type: 'success' });
  });

  it('demo mode: a guest that drops its cookie does not escape the cooldown; its address holds it', async () => {
    const first = await client(open, { localAddress: '127.0.0.7' });
    expect(await first.place(11, 11, 2)).toMatchObject({ type: 'success' });
    first.ws.close();
    // no cookie: a fresh guest id, same address
    const fresh = await client(open, { localAddress: '127.0.0.7' });
    expect(fresh.welcome['userId']).not.toBe(first.welcome['userId']);
    const refused = await fresh.place(12, 12, 2);
    expect(refused).toMatchObject({ code: 'cooldown' });
    expect(refused['remainingSeconds']).toBeGreaterThan(0);
    // another address is not affected, and after the cooldown (1 s here) the address may place again
    expect(await (await client(open, { localAddress: '127.0.0.8' })).place(13, 13, 2)).toMatchObject({
      type: 'success',
    });
    await sleep(1_100);
    expect(await fresh.place(12, 12, 2)).toMatchObject({ type: 'success' });
  });

  it('a new account placing far faster than the cooldown allows trips the risk check', async () => {
    const { cookie } = await register('hammer');
    const c = await client(strict, { cookie });
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) codes.push(String((await c.place(i, 30, 1))['code'] ?? 'success'));
    expect(codes.slice(0, 6).every((code) => code === 'success' || code === 'cooldown')).toBe(true);
    expect(codes.slice(6)).toEqual(['challenge_required', 'challenge_required']);
    expect(String((await c.place(9, 30, 1))['message'])).toMatch(/\/api\/v1\/auth\/challenge/);

    // the built-in proof-of-work: fetch a challenge, solve it, and placing works again
    const got = await http(strict, 'GET', '/api/v1/auth/challenge', undefined, cookie);
    expect(got.json).toMatchObject({ difficulty: 8 });
    const challenge = String(got.json['challenge']);
    const wrong = await http(
      strict,
      'POST',
      '/api/v1/auth/challenge',
      { challenge, nonce: ['a', 'b', 'c', 'd'].find((n) => leadingZeroBits(powDigest(challenge, n)) < 8)! },
      cookie,
    );
    expect(wrong.status).toBe(400); // a wrong nonce also burns the challenge (single use)
    const fresh = String((await http(strict, 'GET', '/api/v1/auth/challenge', undefined, cookie)).json['challenge']);
    const passed = await http(
      strict,
      'POST',
      '/api/v1/auth/challenge',
      { challenge: fresh, nonce: solve(fresh, 8) },
      cookie,
    );
    expect(passed.json).toMatchObject({ success: true });
    await sleep(1_100); // cooldown
    expect(await c.place(10, 30, 1)).toMatchObject({ type: 'success' });
    // guests cannot ask for challenges
    expect((await http(strict, 'GET', '/api/v1/auth/challenge')).status).toBe(401);
  });
});

describe('bans survive a Redis loss (last: it deletes every Redis key of this test canvas)', () => {
  it("ban, delete the canvas's Redis keys, sign in again: still banned; unban: places", async () => {
    const { userId } = await register('persistent');
    await bans.set(userId, 'ban');
    await deleteRedisKeys(redis, names); // only this test's prefix: as if Redis restarted empty
    expect(await redis.exists(`${names.redisPrefix}bans`)).toBe(0);
    // sessions went with Redis (disposable: the user signs in again); the ban did not
    const login = await http(strict, 'POST', '/api/v1/auth/login', {
      username: 'persistent',
      password: 'password-123',
    });
    expect(login.status).toBe(200);
    const c = await client(strict, { cookie: login.cookie!, localAddress: '127.0.0.9' });
    expect(await c.place(6, 6, 1)).toMatchObject({ code: 'banned' });
    expect(await redis.hget(`${names.redisPrefix}bans`, userId)).toBe('ban'); // rebuilt from Postgres
    await bans.clear(userId);
    expect(await c.place(6, 6, 1)).toMatchObject({ type: 'success' });
  });
});
