import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNames } from '../helpers/isolation.ts';
import { authFixture } from '../helpers/auth-fixture.ts';
import { createAuthRoutes } from '../../src/app/auth/routes.ts';
import { originPolicy } from '../../src/domain/auth/origin.ts';
import { sessionKey, SESSION_COOKIE } from '../../src/app/auth/sessions.ts';
import { leadingZeroBits, powDigest, solve } from '../../src/app/auth/proof-of-work.ts';
import { LOGIN_CHALLENGE_PATH } from '../../src/app/auth/login-challenge.ts';
import { revocationSubject } from '../../src/adapters/nats/revocations.ts';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../src/app/http.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('authroutes');
let fx: Awaited<ReturnType<typeof authFixture>>;
let routes: HttpRoute[];

beforeAll(async () => {
  fx = await authFixture(names);
  routes = [
    ...createAuthRoutes({
      accounts: fx.accounts,
      origins: originPolicy(['https://place.example']),
      cookies: fx.cookies,
      cookieSecure: false,
      sessionTtlSeconds: 3600,
      guest: { identify: async () => ({ identity: { userId: 'g_test', isGuest: true } }) },
    }),
    ...fx.loginChallenges.routes,
  ];
}, 20_000);
afterAll(async () => fx.close(), 20_000);

function call(
  method: string,
  path: string,
  options: {
    body?: unknown;
    raw?: string;
    headers?: Record<string, string>;
    ip?: string;
    query?: Record<string, string>;
  } = {},
): Promise<HttpResponse> {
  const route = routes.find((r) => r.method === method && r.path === path)!;
  const headers: Record<string, string> = { host: 'localhost:3000', 'x-rplace-csrf': '1', ...options.headers };
  const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const request: HttpRequest = {
    method,
    path,
    query: new URLSearchParams(options.query ?? {}),
    headers,
    remoteAddress: options.ip ?? '10.0.0.1',
    ...(text === undefined ? {} : { body: new TextEncoder().encode(text) }),
  };
  return route.handle(request);
}
const bodyOf = (r: HttpResponse) => JSON.parse(String(r.body)) as Record<string, unknown>;
const cookieOf = (r: HttpResponse) => /rplace_session=([^;]*)/.exec(r.headers?.['set-cookie'] ?? '')?.[1] ?? '';
/** The session id inside a signed cookie value (`<id>.<mac>`). */
const idOf = (cookie: string) => cookie.slice(0, 43);

describe('accounts over HTTP (real Redis, Postgres, NATS)', () => {
  it('registers, sets an HttpOnly SameSite session cookie, and me knows the user', async () => {
    const r = await call('POST', '/api/v1/auth/register', { body: { username: 'Alice_1', password: 'correct horse' } });
    expect(r.status).toBe(201);
    expect(r.headers?.['set-cookie']).toMatch(/HttpOnly; SameSite=Lax; Max-Age=3600$/);
    const me = await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${cookieOf(r)}` } });
    expect(bodyOf(me)).toMatchObject({ username: 'Alice_1', isGuest: false });
    expect(String(bodyOf(me).userId)).toMatch(/^u_/);
    const dup = await call('POST', '/api/v1/auth/register', { body: { username: 'alice_1', password: 'another one' } });
    expect([dup.status, bodyOf(dup).code]).toEqual([409, 'username_taken']);
  });

  it('issues a new session id at login and destroys the one the client presented (no fixation)', async () => {
    const first = cookieOf(
      await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' } }),
    );
    const second = await call('POST', '/api/v1/auth/login', {
      body: { username: 'Alice_1', password: 'correct horse' },
      headers: { cookie: `${SESSION_COOKIE}=${first}` },
    });
    expect(second.status).toBe(200);
    expect(cookieOf(second)).not.toBe(first);
    expect(cookieOf(second)).toMatch(/^[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
    expect(
      bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${first}` } })).isGuest,
    ).toBe(true);
    expect(
      bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${cookieOf(second)}` } }))
        .isGuest,
    ).toBe(false);
  });

  it('treats a forged session id as a guest', async () => {
    const me = await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } });
    expect(bodyOf(me)).toEqual({ userId: 'g_test', username: null, isGuest: true });
  });

  it('refuses a session record written straight into Redis: its id has no MAC without SESSION_SECRET', async () => {
    const forgedId = 'F'.repeat(43);
    const record = JSON.stringify({
      userId: 'u_victim',
      username: 'victim',
      accountCreatedAt: 0,
      createdAt: Date.now(),
    });
    await fx.redis.set(`${names.redisPrefix}session:${sessionKey(forgedId)}`, record, 'EX', 60);
    expect(await fx.sessions.get(forgedId)).not.toBeNull(); // the record is there …
    for (const value of [forgedId, `${forgedId}.${'A'.repeat(43)}`]) {
      // … but neither the bare id (the old cookie format) nor one with a made-up MAC reaches it
      expect(
        bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${value}` } })).isGuest,
      ).toBe(true);
    }
  });

  it('refuses an old-format (unsigned) cookie of a live session and a tampered MAC: the user signs in again', async () => {
    const cookie = cookieOf(
      await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' } }),
    );
    expect(await fx.sessions.get(idOf(cookie))).not.toBeNull();
    const tampered = `${cookie.slice(0, -1)}${cookie.endsWith('A') ? 'B' : 'A'}`;
    for (const value of [idOf(cookie), tampered]) {
      expect(
        bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${value}` } })),
      ).toEqual({ userId: 'g_test', username: null, isGuest: true });
      const out = await call('POST', '/api/v1/auth/logout', { headers: { cookie: `${SESSION_COOKIE}=${value}` } });
      expect([out.status, out.headers?.['set-cookie']]).toEqual([200, expect.stringMatching(/Max-Age=0/)]);
    }
    expect(await fx.sessions.get(idOf(cookie))).not.toBeNull(); // an unsigned cookie could not even log it out
    expect(
      bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${cookie}` } })).isGuest,
    ).toBe(false);
  });

  it('logout destroys the session and tells every edge to close its sockets', async () => {
    const sid = cookieOf(
      await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' } }),
    );
    const sub = fx.nc.subscribe(revocationSubject(names.canvasId), { max: 1 });
    const received = (async () => {
      for await (const m of sub) return m.json<{ session: string }>();
    })();
    const out = await call('POST', '/api/v1/auth/logout', { headers: { cookie: `${SESSION_COOKIE}=${sid}` } });
    expect(out.status).toBe(200);
    expect(out.headers?.['set-cookie']).toMatch(/Max-Age=0/);
    expect(await received).toEqual({ session: sessionKey(idOf(sid)) });
    expect(await fx.sessions.get(idOf(sid))).toBeNull();
  });

  it('refuses state-changing calls without the CSRF header or from a foreign origin', async () => {
    const creds = { username: 'alice_1', password: 'correct horse' };
    const noHeader = await call('POST', '/api/v1/auth/login', { body: creds, headers: { 'x-rplace-csrf': '' } });
    expect([noHeader.status, bodyOf(noHeader).code]).toEqual([403, 'forbidden']);
    const foreign = await call('POST', '/api/v1/auth/login', {
      body: creds,
      headers: { origin: 'https://evil.example' },
    });
    expect([foreign.status, bodyOf(foreign).code]).toEqual([403, 'forbidden']);
    expect(
      (await call('POST', '/api/v1/auth/login', { body: creds, headers: { origin: 'https://place.example' } })).status,
    ).toBe(200);
    expect(
      (await call('POST', '/api/v1/auth/login', { body: creds, headers: { origin: 'http://localhost:3000' } })).status,
    ).toBe(200);
  });

  it('refuses bad input with clear codes', async () => {
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { raw: '{not json' })).code).toBe('bad_request');
    expect(bodyOf(await call('POST', '/api/v1/auth/register', { body: { username: 'a b', password: 'x' } })).code).toBe(
      'bad_request',
    );
    expect(
      bodyOf(await call('POST', '/api/v1/auth/register', { body: { username: 'bob', password: 'p'.repeat(300) } }))
        .code,
    ).toBe('bad_request');
    expect((await call('POST', '/api/v1/auth/login', { raw: 'x'.repeat(2000) })).status).toBe(413);
  });

  it('1,000 parallel wrong-password logins from many addresses: at most the account budget reaches scrypt, then only solved challenges', async () => {
    await call('POST', '/api/v1/auth/register', { body: { username: 'victim', password: 'the real password' } });
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        call('POST', '/api/v1/auth/login', {
          body: { username: 'victim', password: `guess-${i}-xx` },
          ip: `10.1.${i >> 8}.${i & 255}`,
        }),
      ),
    );
    const codes = answers.map((a) => String(bodyOf(a).code));
    expect(codes.filter((c) => c === 'invalid_credentials').length).toBe(fx.settings.loginPerAccount.limit);
    expect(codes.filter((c) => c === 'challenge_required').length).toBe(1000 - fx.settings.loginPerAccount.limit);
    expect(answers.find((a) => bodyOf(a).code === 'challenge_required')?.status).toBe(403);
    expect(Date.now() - started).toBeLessThan(10_000);
    // the owner is not locked out: the right password needs a solved challenge while the budget is spent
    const owner = { username: 'victim', password: 'the real password' };
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { body: owner })).code).toBe('challenge_required');
    const issued = bodyOf(await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'Victim' } }));
    const challenge = String(issued.challenge);
    const nonce = solve(challenge, Number(issued.difficulty));
    const ok = await call('POST', '/api/v1/auth/login', { body: { ...owner, challenge, nonce } });
    expect([ok.status, bodyOf(ok).username]).toEqual([200, 'victim']);
  }, 30_000);

  it('ten wrong passwords from address A: A is throttled, the owner at address B still logs in (after a challenge)', async () => {
    await call('POST', '/api/v1/auth/register', {
      body: { username: 'owner_b', password: 'owner password' },
      ip: '10.50.0.9',
    });
    const wrong = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        call('POST', '/api/v1/auth/login', {
          body: { username: 'owner_b', password: `wrong-${i}-pw` },
          ip: '10.50.0.1',
        }),
      ),
    );
    expect(wrong.map((a) => bodyOf(a).code)).toEqual(Array(10).fill('invalid_credentials'));
    // A: its budget for this account is spent; even the right password is refused from there
    const fromA = await call('POST', '/api/v1/auth/login', {
      body: { username: 'owner_b', password: 'owner password' },
      ip: '10.50.0.1',
    });
    expect([fromA.status, bodyOf(fromA).code]).toEqual([429, 'rate_limited']);
    expect(fromA.headers?.['retry-after']).toMatch(/^\d+$/);
    // B: asked for a challenge, not refused
    const fromB = await call('POST', '/api/v1/auth/login', {
      body: { username: 'owner_b', password: 'owner password' },
      ip: '10.50.0.2',
    });
    expect(bodyOf(fromB).code).toBe('challenge_required');
    const issued = bodyOf(await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'owner_b' }, ip: '10.50.0.2' }));
    const body = {
      username: 'owner_b',
      password: 'owner password',
      challenge: String(issued.challenge),
      nonce: solve(String(issued.challenge), Number(issued.difficulty)),
    };
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { body, ip: '10.50.0.2' })).success).toBe(true);
    // the owner's success refilled the account, not A's pair budget
    expect(
      bodyOf(
        await call('POST', '/api/v1/auth/login', {
          body: { username: 'owner_b', password: 'owner password' },
          ip: '10.50.0.1',
        }),
      ).code,
    ).toBe('rate_limited');
    expect(
      bodyOf(
        await call('POST', '/api/v1/auth/login', {
          body: { username: 'owner_b', password: 'owner password' },
          ip: '10.50.0.3',
        }),
      ).success,
    ).toBe(true);
  }, 30_000);

  it('a challenge is bound to its username and refused when unsolved; issuance is bounded per address', async () => {
    const issued = bodyOf(
      await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'someone_else' }, ip: '10.60.0.1' }),
    );
    expect(
      await fx.loginChallenges.redeem(
        'victim',
        String(issued.challenge),
        solve(String(issued.challenge), Number(issued.difficulty)),
      ),
    ).toBe(false);
    const again = bodyOf(await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'victim' }, ip: '10.60.0.1' }));
    let unsolved = 0;
    while (leadingZeroBits(powDigest(String(again.challenge), String(unsolved))) >= Number(again.difficulty))
      unsolved++;
    expect(await fx.loginChallenges.redeem('victim', String(again.challenge), String(unsolved))).toBe(false);
    const third = bodyOf(await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'victim' }, ip: '10.60.0.1' }));
    const nonce = solve(String(third.challenge), Number(third.difficulty));
    expect(await fx.loginChallenges.redeem('Victim', String(third.challenge), nonce)).toBe(true);
    expect(await fx.loginChallenges.redeem('victim', String(third.challenge), nonce)).toBe(false); // usable once
    expect(bodyOf(await call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'a b' } })).code).toBe('bad_request');
    const burst = await Promise.all(
      Array.from({ length: fx.settings.loginPerIp.limit + 5 }, () =>
        call('GET', LOGIN_CHALLENGE_PATH, { query: { username: 'victim' }, ip: '10.60.0.2' }),
      ),
    );
    expect(burst.filter((r) => r.status === 429).length).toBe(5);
  }, 30_000);

  it('throttles one IP trying many accounts, and leaves other IPs alone', async () => {
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) =>
        call('POST', '/api/v1/auth/login', { body: { username: `nobody${i}`, password: 'whatever1' }, ip: '10.9.9.9' }),
      ),
    );
    expect(answers.filter((a) => bodyOf(a).code === 'rate_limited').length).toBe(150 - fx.settings.loginPerIp.limit);
    expect(
      bodyOf(
        await call('POST', '/api/v1/auth/login', {
          body: { username: 'alice_1', password: 'correct horse' },
          ip: '10.9.9.10',
        }),
      ).success,
    ).toBe(true);
  }, 30_000);
});

describe('session expiry', () => {
  it('an expired session is a guest', async () => {
    const n2 = testNames('authexpiry');
    const f2 = await authFixture(n2, { sessionTtlSeconds: 1 });
    try {
      const r2 = createAuthRoutes({
        accounts: f2.accounts,
        origins: originPolicy([]),
        cookies: f2.cookies,
        cookieSecure: true,
        sessionTtlSeconds: 1,
      });
      const reg = await r2[0]!.handle({
        method: 'POST',
        path: '/api/v1/auth/register',
        query: new URLSearchParams(),
        headers: { 'x-rplace-csrf': '1' },
        remoteAddress: '1.2.3.4',
        body: new TextEncoder().encode(JSON.stringify({ username: 'shortlived', password: 'password1' })),
      });
      expect(reg.headers?.['set-cookie']).toMatch(/; Secure$/);
      const sid = cookieOf(reg);
      expect(await f2.sessions.get(idOf(sid))).not.toBeNull();
      await sleep(1_200);
      expect(await f2.sessions.get(idOf(sid))).toBeNull();
    } finally {
      await f2.close();
    }
  }, 20_000);
});
