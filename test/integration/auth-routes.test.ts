import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNames } from '../helpers/isolation.ts';
import { authFixture } from '../helpers/auth-fixture.ts';
import { createAuthRoutes } from '../../src/app/auth/routes.ts';
import { originPolicy } from '../../src/app/auth/origin.ts';
import { sessionKey, SESSION_COOKIE } from '../../src/app/auth/sessions.ts';
import { revocationSubject } from '../../src/adapters/nats/revocations.ts';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../src/app/http.ts';

const names = testNames('authroutes');
let fx: Awaited<ReturnType<typeof authFixture>>;
let routes: HttpRoute[];

beforeAll(async () => {
  fx = await authFixture(names);
  routes = createAuthRoutes({ accounts: fx.accounts, origins: originPolicy(['https://place.example']), cookieSecure: false, sessionTtlSeconds: 3600, guest: { identify: async () => ({ identity: { userId: 'g_test', isGuest: true } }) } });
}, 20_000);
afterAll(async () => fx.close(), 20_000);

function call(method: string, path: string, options: { body?: unknown; raw?: string; headers?: Record<string, string>; ip?: string } = {}): Promise<HttpResponse> {
  const route = routes.find((r) => r.method === method && r.path === path)!;
  const headers: Record<string, string> = { host: 'localhost:3000', 'x-rplace-csrf': '1', ...options.headers };
  const text = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const request: HttpRequest = { method, path, query: new URLSearchParams(), headers, remoteAddress: options.ip ?? '10.0.0.1', ...(text === undefined ? {} : { body: new TextEncoder().encode(text) }) };
  return route.handle(request);
}
const bodyOf = (r: HttpResponse) => JSON.parse(String(r.body)) as Record<string, unknown>;
const cookieOf = (r: HttpResponse) => /rplace_session=([^;]*)/.exec(r.headers?.['set-cookie'] ?? '')?.[1] ?? '';

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
    const first = cookieOf(await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' } }));
    const second = await call('POST', '/api/v1/auth/login', { body: { username: 'Alice_1', password: 'correct horse' }, headers: { cookie: `${SESSION_COOKIE}=${first}` } });
    expect(second.status).toBe(200);
    expect(cookieOf(second)).not.toBe(first);
    expect(cookieOf(second)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${first}` } })).isGuest).toBe(true);
    expect(bodyOf(await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${cookieOf(second)}` } })).isGuest).toBe(false);
  });

  it('treats a forged session id as a guest', async () => {
    const me = await call('GET', '/api/v1/auth/me', { headers: { cookie: `${SESSION_COOKIE}=${'A'.repeat(43)}` } });
    expect(bodyOf(me)).toEqual({ userId: 'g_test', username: null, isGuest: true });
  });

  it('logout destroys the session and tells every edge to close its sockets', async () => {
    const sid = cookieOf(await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' } }));
    const sub = fx.nc.subscribe(revocationSubject(names.canvasId), { max: 1 });
    const received = (async () => { for await (const m of sub) return m.json<{ session: string }>(); })();
    const out = await call('POST', '/api/v1/auth/logout', { headers: { cookie: `${SESSION_COOKIE}=${sid}` } });
    expect(out.status).toBe(200);
    expect(out.headers?.['set-cookie']).toMatch(/Max-Age=0/);
    expect(await received).toEqual({ session: sessionKey(sid) });
    expect(await fx.sessions.get(sid)).toBeNull();
  });

  it('refuses state-changing calls without the CSRF header or from a foreign origin', async () => {
    const creds = { username: 'alice_1', password: 'correct horse' };
    const noHeader = await call('POST', '/api/v1/auth/login', { body: creds, headers: { 'x-rplace-csrf': '' } });
    expect([noHeader.status, bodyOf(noHeader).code]).toEqual([403, 'forbidden']);
    const foreign = await call('POST', '/api/v1/auth/login', { body: creds, headers: { origin: 'https://evil.example' } });
    expect([foreign.status, bodyOf(foreign).code]).toEqual([403, 'forbidden']);
    expect((await call('POST', '/api/v1/auth/login', { body: creds, headers: { origin: 'https://place.example' } })).status).toBe(200);
    expect((await call('POST', '/api/v1/auth/login', { body: creds, headers: { origin: 'http://localhost:3000' } })).status).toBe(200);
  });

  it('refuses bad input with clear codes', async () => {
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { raw: '{not json' })).code).toBe('bad_request');
    expect(bodyOf(await call('POST', '/api/v1/auth/register', { body: { username: 'a b', password: 'x' } })).code).toBe('bad_request');
    expect(bodyOf(await call('POST', '/api/v1/auth/register', { body: { username: 'bob', password: 'p'.repeat(300) } })).code).toBe('bad_request');
    expect((await call('POST', '/api/v1/auth/login', { raw: 'x'.repeat(2000) })).status).toBe(413);
  });

  it('throttles 1,000 parallel wrong-password logins: at most the account budget ever reaches scrypt', async () => {
    await call('POST', '/api/v1/auth/register', { body: { username: 'victim', password: 'the real password' } });
    const started = Date.now();
    const answers = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => call('POST', '/api/v1/auth/login', { body: { username: 'victim', password: `guess-${i}-xx` }, ip: `10.1.${i >> 8}.${i & 255}` })),
    );
    const codes = answers.map((a) => String(bodyOf(a).code));
    expect(codes.filter((c) => c === 'invalid_credentials').length).toBe(fx.settings.loginPerAccount.limit);
    expect(codes.filter((c) => c === 'rate_limited').length).toBe(1000 - fx.settings.loginPerAccount.limit);
    expect(answers.find((a) => a.status === 429)?.headers?.['retry-after']).toMatch(/^\d+$/);
    expect(Date.now() - started).toBeLessThan(10_000);
    // the right password is throttled too while the budget is spent: guessing cannot race a refill
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { body: { username: 'victim', password: 'the real password' } })).code).toBe('rate_limited');
  }, 30_000);

  it('throttles one IP trying many accounts, and leaves other IPs alone', async () => {
    const answers = await Promise.all(
      Array.from({ length: 150 }, (_, i) => call('POST', '/api/v1/auth/login', { body: { username: `nobody${i}`, password: 'whatever1' }, ip: '10.9.9.9' })),
    );
    expect(answers.filter((a) => bodyOf(a).code === 'rate_limited').length).toBe(150 - fx.settings.loginPerIp.limit);
    expect(bodyOf(await call('POST', '/api/v1/auth/login', { body: { username: 'alice_1', password: 'correct horse' }, ip: '10.9.9.10' })).success).toBe(true);
  }, 30_000);
});

describe('session expiry', () => {
  it('an expired session is a guest', async () => {
    const n2 = testNames('authexpiry');
    const f2 = await authFixture(n2, { sessionTtlSeconds: 1 });
    try {
      const r2 = createAuthRoutes({ accounts: f2.accounts, origins: originPolicy([]), cookieSecure: true, sessionTtlSeconds: 1 });
      const reg = await r2[0]!.handle({ method: 'POST', path: '/api/v1/auth/register', query: new URLSearchParams(), headers: { 'x-rplace-csrf': '1' }, remoteAddress: '1.2.3.4', body: new TextEncoder().encode(JSON.stringify({ username: 'shortlived', password: 'password1' })) });
      expect(reg.headers?.['set-cookie']).toMatch(/; Secure$/);
      const sid = cookieOf(reg);
      expect(await f2.sessions.get(sid)).not.toBeNull();
      await new Promise((r) => setTimeout(r, 1_200));
      expect(await f2.sessions.get(sid)).toBeNull();
    } finally {
      await f2.close();
    }
  }, 20_000);
});
