import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/app/auth/password.ts';
import { checkCsrf, checkUpgradeOrigin, originPolicy } from '../../src/domain/auth/origin.ts';
import { readCookie } from '../../src/app/http-cookie.ts';
import { sessionCookie, sessionCookies, sessionKey, newSessionId } from '../../src/app/auth/sessions.ts';
import { Credentials } from '../../src/app/auth/schemas.ts';
import { ConnectionCaps } from '../../src/domain/auth/connection-caps.ts';
import { accountAgeRiskRule } from '../../src/app/auth/risk.ts';
import { proxyPolicy, resolveClientAddress } from '../../src/app/auth/client-address.ts';
import { authSchema } from '../../src/config/auth.ts';
import { leadingZeroBits, powDigest, solve } from '../../src/app/auth/proof-of-work.ts';

const cheap = { N: 1 << 10, r: 8, p: 1 };

describe('passwords', () => {
  it('verifies the right password only, with a fresh salt each time', async () => {
    const a = await hashPassword('hunter22!', cheap);
    const b = await hashPassword('hunter22!', cheap);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]{43}$/);
    expect(await verifyPassword('hunter22!', a)).toBe(true);
    expect(await verifyPassword('hunter23!', a)).toBe(false);
  });
  it('treats malformed or absurd stored hashes as a mismatch, never a crash or a CPU bomb', async () => {
    for (const stored of [
      '',
      'bcrypt$x',
      'scrypt$1$8$1$aa$bb',
      `scrypt$${2 ** 30}$8$1$aa$${'A'.repeat(43)}`,
      'scrypt$1024$8$1$aa$short',
    ]) {
      expect(await verifyPassword('x', stored)).toBe(false);
    }
  });
});

describe('credentials schema', () => {
  it('bounds usernames and passwords', () => {
    expect(Credentials.safeParse({ username: 'ok_name-1', password: '12345678' }).success).toBe(true);
    expect(Credentials.safeParse({ username: 'ab', password: '12345678' }).success).toBe(false);
    expect(Credentials.safeParse({ username: 'x'.repeat(25), password: '12345678' }).success).toBe(false);
    expect(Credentials.safeParse({ username: 'bad name', password: '12345678' }).success).toBe(false);
    expect(Credentials.safeParse({ username: 'fine', password: 'é'.repeat(129) }).success).toBe(false);
    expect(Credentials.safeParse({ username: 'fine', password: '12345678', admin: true }).success).toBe(false);
  });
});

describe('origins and CSRF', () => {
  const policy = originPolicy(['https://Place.Example/']);
  it("allows the listed origins and the server's own host, refuses the rest", () => {
    expect(checkUpgradeOrigin(policy, { origin: 'https://place.example', host: 'edge:3000' })).toBeNull();
    expect(checkUpgradeOrigin(policy, { origin: 'http://edge:3000', host: 'edge:3000' })).toBeNull();
    expect(checkUpgradeOrigin(policy, {})).toBeNull();
    expect(checkUpgradeOrigin(policy, { origin: 'https://evil.example', host: 'edge:3000' })).toMatch(/not allowed/);
    expect(checkUpgradeOrigin(policy, { origin: 'null', host: 'edge:3000' })).toMatch(/not allowed/);
    expect(checkUpgradeOrigin(policy, { origin: 'http://edge:3000.evil.example', host: 'edge:3000' })).toMatch(
      /not allowed/,
    );
  });
  it('requires the custom header on state-changing calls', () => {
    expect(checkCsrf(policy, { host: 'h' })).toMatch(/x-rplace-csrf/);
    expect(checkCsrf(policy, { host: 'h', 'x-rplace-csrf': '1' })).toBeNull();
    expect(checkCsrf(policy, { host: 'h', 'x-rplace-csrf': '1', origin: 'https://evil.example' })).toMatch(
      /not allowed/,
    );
  });
});

describe('session cookies', () => {
  it('round-trips an id and ignores malformed or oversized cookies', () => {
    const cookies = sessionCookies('unit-test-session-secret-0123456789abcdef');
    const id = newSessionId();
    const value = cookies.value(id);
    expect(value).toMatch(new RegExp(`^${id}\\.[A-Za-z0-9_-]{43}$`));
    expect(cookies.idFrom(`a=b; rplace_session=${value}; c=d`)).toBe(id);
    expect(cookies.idFrom('rplace_session=short')).toBeUndefined();
    expect(readCookie(`x=${'y'.repeat(9000)}`, 'x')).toBeUndefined();
    expect(sessionKey(id)).not.toContain(id);
    expect(sessionCookie(cookies, id, { secure: true, maxAgeSeconds: 60 })).toBe(
      `rplace_session=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure`,
    );
  });
  it("refuses unsigned (old-format) ids, tampered MACs and another secret's MACs", () => {
    const cookies = sessionCookies('unit-test-session-secret-0123456789abcdef');
    const other = sessionCookies('another-secret-entirely-0123456789abcdef');
    const id = newSessionId();
    const mac = cookies.value(id).slice(44);
    expect(cookies.idFrom(`rplace_session=${id}`)).toBeUndefined();
    expect(cookies.idFrom(`rplace_session=${other.value(id)}`)).toBeUndefined();
    expect(cookies.idFrom(`rplace_session=${id}.${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
    expect(cookies.idFrom(`rplace_session=${newSessionId()}.${mac}`)).toBeUndefined();
    expect(cookies.idFrom(`rplace_session=${id}.${mac}x`)).toBeUndefined();
    expect(() => sessionCookies('short')).toThrow(RangeError);
  });
});

describe('per-IP connection caps', () => {
  it('caps each address separately and frees slots on release', () => {
    const caps = new ConnectionCaps(2);
    expect([caps.acquire('a'), caps.acquire('a'), caps.acquire('a'), caps.acquire('b')]).toEqual([
      true,
      true,
      false,
      true,
    ]);
    caps.release('a');
    expect(caps.acquire('a')).toBe(true);
    caps.release('b');
    expect(caps.count('b')).toBe(0);
  });
});

describe('risk rule and client address', () => {
  it('challenges only young accounts (and guests) over the attempt budget', () => {
    const rule = accountAgeRiskRule(3_600_000);
    expect(rule.assess({ userId: 'u', ip: 'i', accountAgeMs: 60_000, attemptsExceeded: true })).toBe('challenge');
    expect(rule.assess({ userId: 'u', ip: 'i', accountAgeMs: null, attemptsExceeded: true })).toBe('challenge');
    expect(rule.assess({ userId: 'u', ip: 'i', accountAgeMs: 7_200_000, attemptsExceeded: true })).toBe('allow');
    expect(rule.assess({ userId: 'u', ip: 'i', accountAgeMs: 60_000, attemptsExceeded: false })).toBe('allow');
  });
  it('believes forwarding headers only from a trusted proxy, read from the right', () => {
    const none = proxyPolicy([]);
    const lb = proxyPolicy(['10.0.0.0/8', 'fd00::/8']);
    const headers = (h: Record<string, string>) => (name: string) => h[name];
    // no trusted proxy: the peer, whatever it sends
    expect(resolveClientAddress(none, '10.0.0.1', headers({ 'x-forwarded-for': '1.2.3.4' }))).toBe('10.0.0.1');
    // an untrusted peer is the client
    expect(resolveClientAddress(lb, '203.0.113.7', headers({ 'x-forwarded-for': '1.2.3.4' }))).toBe('203.0.113.7');
    // nginx with $proxy_add_x_forwarded_for: the client's own entries stay on the left and are never read
    expect(resolveClientAddress(lb, '10.0.0.5', headers({ 'x-forwarded-for': '1.2.3.4, 198.51.100.9' }))).toBe(
      '198.51.100.9',
    );
    expect(resolveClientAddress(lb, '10.0.0.5', headers({ 'x-forwarded-for': '198.51.100.9, 10.0.0.6' }))).toBe(
      '198.51.100.9',
    );
    // garbage or a missing header falls back to the last hop we could vouch for, never to the client's value
    expect(resolveClientAddress(lb, '10.0.0.5', headers({ 'x-forwarded-for': 'evil, 10.0.0.6' }))).toBe('10.0.0.6');
    expect(resolveClientAddress(lb, '10.0.0.5', headers({}))).toBe('10.0.0.5');
    expect(
      resolveClientAddress(lb, '10.0.0.5', headers({ 'x-forwarded-for': `${'1.1.1.1,'.repeat(400)}1.1.1.1` })),
    ).toBe('10.0.0.5');
    // IPv4 peers of a dual-stack socket, and IPv6 proxies
    expect(resolveClientAddress(lb, '::ffff:10.0.0.5', headers({ 'x-forwarded-for': '198.51.100.9' }))).toBe(
      '198.51.100.9',
    );
    expect(resolveClientAddress(lb, 'fd00::1', headers({ 'x-forwarded-for': '2001:db8::1' }))).toBe('2001:db8::1');
    // a header the proxy overwrites (X-Real-IP)
    const real = proxyPolicy(['10.0.0.5'], 'X-Real-IP');
    expect(
      resolveClientAddress(real, '10.0.0.5', headers({ 'x-real-ip': '198.51.100.9', 'x-forwarded-for': '1.2.3.4' })),
    ).toBe('198.51.100.9');
    expect(resolveClientAddress(real, '10.0.0.5', headers({ 'x-real-ip': 'not-an-ip' }))).toBe('10.0.0.5');
    expect(resolveClientAddress(real, '10.0.0.6', headers({ 'x-real-ip': '198.51.100.9' }))).toBe('10.0.0.6');
  });
  it('validates TRUSTED_PROXIES and refuses the old TRUST_PROXY', () => {
    expect(authSchema.safeParse({ TRUSTED_PROXIES: '10.0.0.0/8, 192.168.1.1,fd00::/8' }).success).toBe(true);
    expect(authSchema.safeParse({ TRUSTED_PROXIES: '10.0.0.0/33' }).success).toBe(false);
    expect(authSchema.safeParse({ TRUSTED_PROXIES: 'nginx' }).success).toBe(false);
    const old = authSchema.safeParse({ TRUST_PROXY: '1' });
    expect(old.success).toBe(false);
    expect(old.error?.issues[0]?.message).toMatch(/TRUSTED_PROXIES/);
  });
});

describe('proof-of-work', () => {
  it('counts leading zero bits and finds a solving nonce', () => {
    expect(leadingZeroBits(Uint8Array.of(0, 0x10, 0xff))).toBe(11);
    expect(leadingZeroBits(Uint8Array.of(0x80))).toBe(0);
    expect(leadingZeroBits(new Uint8Array(4))).toBe(32);
    const nonce = solve('abc', 10);
    expect(leadingZeroBits(powDigest('abc', nonce))).toBeGreaterThanOrEqual(10);
  });
});
