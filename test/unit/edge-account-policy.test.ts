import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../proto/close-codes.ts';
import {
  accountLimits,
  clientAddressResolver,
  closeRevoked,
  edgeAccess,
  LOGIN_WINDOW_MS,
  unavailableOnFailure,
} from '../../src/app/auth/edge-account-policy.ts';
import { asAccountIdentity, type AccountIdentity } from '../../src/app/auth/identity.ts';
import { originPolicy } from '../../src/domain/auth/origin.ts';
import type { HttpRequest, HttpRoute } from '../../src/app/http.ts';

const request: HttpRequest = {
  method: 'POST',
  path: '/api/v1/auth/login',
  query: new URLSearchParams(),
  headers: {},
  remoteAddress: '127.0.0.1',
};

describe('edge account policy', () => {
  it('counts logins over 15 minutes, registrations over an hour, challenges and per-IP placements per minute, per-user placements per 10 minutes', () => {
    const limits = accountLimits({
      sessionTtlSeconds: 600,
      loginAttemptsPerAccount: 1,
      loginAttemptsPerAccountPerIp: 2,
      loginAttemptsPerIp: 3,
      registrationsPerIpPerHour: 4,
      powChallengesPerIpPerMinute: 5,
      placeAttemptsPerIpPerMinute: 6,
      placeAttemptsPerUserPer10Minutes: 7,
    });
    expect(LOGIN_WINDOW_MS).toBe(900_000);
    expect(limits).toEqual({
      auth: {
        sessionTtlSeconds: 600,
        loginPerAccount: { limit: 1, windowMs: 900_000 },
        loginPerAccountPerIp: { limit: 2, windowMs: 900_000 },
        loginPerIp: { limit: 3, windowMs: 900_000 },
        registerPerIp: { limit: 4, windowMs: 3_600_000 },
      },
      powIssuePerIp: { limit: 5, windowMs: 60_000 },
      placePerIp: { limit: 6, windowMs: 60_000 },
      placePerUser: { limit: 7, windowMs: 600_000 },
    });
  });

  it('answers a failing accounts route with 503 unavailable and reports the failure; a working one unchanged', async () => {
    const failures: string[] = [];
    const failing: HttpRoute = {
      method: 'POST',
      path: '/api/v1/auth/login',
      maxBodyBytes: 10,
      handle: () => Promise.reject(new Error('ECONNREFUSED')),
    };
    const guarded = unavailableOnFailure(failing, (error, path) =>
      failures.push(`${path}: ${(error as Error).message}`),
    );
    expect({ method: guarded.method, path: guarded.path, maxBodyBytes: guarded.maxBodyBytes }).toEqual({
      method: 'POST',
      path: '/api/v1/auth/login',
      maxBodyBytes: 10,
    });
    const answer = await guarded.handle(request);
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body as string)).toMatchObject({ code: 'unavailable' });
    expect(failures).toEqual(['/api/v1/auth/login: ECONNREFUSED']);
    const fine = unavailableOnFailure({ ...failing, handle: async () => ({ status: 201 }) }, () => failures.push('no'));
    expect(await fine.handle(request)).toEqual({ status: 201 });
    expect(failures).toHaveLength(1);
  });

  it('takes the client address from a trusted proxy only, and refuses a bad proxy entry at start', () => {
    const viaHeader = clientAddressResolver(['10.0.0.0/8'], 'X-Real-IP');
    const headers: Record<string, string> = { 'x-real-ip': '203.0.113.9', 'x-forwarded-for': '198.51.100.1' };
    expect(viaHeader('10.1.2.3', (name) => headers[name])).toBe('203.0.113.9');
    expect(viaHeader('192.0.2.1', (name) => headers[name])).toBe('192.0.2.1');
    expect(clientAddressResolver([], null)('::ffff:192.0.2.1', (name) => headers[name])).toBe('192.0.2.1');
    expect(() => clientAddressResolver(['not-an-ip'], null)).toThrow(RangeError);
  });

  it('builds the upgrade checks: Origin allow-list, per-address connection cap', () => {
    const access = edgeAccess({
      origins: originPolicy(['https://place.example']),
      clientIp: () => 'x',
      maxConnectionsPerIp: 1,
      place: async () => ({ ok: true, seq: 1, nextPlacement: 1, duplicate: false }),
    });
    expect(access.checkOrigin({ origin: 'https://place.example', host: 'place.example' })).toBeNull();
    expect(access.checkOrigin({ origin: 'https://evil.example', host: 'place.example' })).toEqual(expect.any(String));
    expect([access.connections.acquire('a'), access.connections.acquire('a'), access.connections.acquire('b')]).toEqual(
      [true, false, true],
    );
  });

  it("closes a logout's session with 4004 and a banned user's sockets with 4005", () => {
    const sockets: AccountIdentity[] = [
      { ...asAccountIdentity({ userId: 'u1', isGuest: false }), sessionKey: 'k1' },
      { ...asAccountIdentity({ userId: 'u1', isGuest: false }), sessionKey: 'k2' },
      asAccountIdentity({ userId: 'g_2', isGuest: true }),
    ];
    const closedWith: string[] = [];
    const closeWhere = (matches: (who: AccountIdentity) => boolean, code: number, reason: string) => {
      const hit = sockets.filter(matches);
      for (const who of hit) closedWith.push(`${who.userId}/${who.sessionKey}:${code}:${reason}`);
      return hit.length;
    };
    expect(closeRevoked({ session: 'k2' }, closeWhere)).toEqual({ closed: 1, reason: 'logout' });
    expect(closeRevoked({ user: 'u1' }, closeWhere)).toEqual({ closed: 2, reason: 'ban' });
    expect(closedWith).toEqual([
      `u1/k2:${CloseCode.SessionEnded}:session ended`,
      `u1/k1:${CloseCode.Banned}:banned`,
      `u1/k2:${CloseCode.Banned}:banned`,
    ]);
  });
});
