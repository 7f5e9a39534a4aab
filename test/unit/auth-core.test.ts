import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/app/auth/password.ts';
import { checkCsrf, checkUpgradeOrigin, originPolicy } from '../../src/app/auth/origin.ts';
import { readCookie, sessionCookie, sessionIdFromCookie, sessionKey, newSessionId } from '../../src/app/auth/sessions.ts';
import { Credentials } from '../../src/app/auth/schemas.ts';
import { ConnectionCaps } from '../../src/app/auth/connection-caps.ts';
import { accountAgeRiskRule } from '../../src/app/auth/risk.ts';
import { clientAddress } from '../../src/config/auth.ts';
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
    for (const stored of ['', 'bcrypt$x', 'scrypt$1$8$1$aa$bb', `scrypt$${2 ** 30}$8$1$aa$${'A'.repeat(43)}`, 'scrypt$1024$8$1$aa$short']) {
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
  it('allows the listed origins and the server\'s own host, refuses the rest', () => {
    expect(checkUpgradeOrigin(policy, { origin: 'https://place.example', host: 'edge:3000' })).toBeNull();
    expect(checkUpgradeOrigin(policy, { origin: 'http://edge:3000', host: 'edge:3000' })).toBeNull();
    expect(checkUpgradeOrigin(policy, {})).toBeNull();
    expect(checkUpgradeOrigin(policy, { origin: 'https://evil.example', host: 'edge:3000' })).toMatch(/not allowed/);
    expect(checkUpgradeOrigin(policy, { origin: 'null', host: 'edge:3000' })).toMatch(/not allowed/);
    expect(checkUpgradeOrigin(policy, { origin: 'http://edge:3000.evil.example', host: 'edge:3000' })).toMatch(/not allowed/);
  });
  it('requires the custom header on state-changing calls', () => {
    expect(checkCsrf(policy, { host: 'h' })).toMatch(/x-rplace-csrf/);
    expect(checkCsrf(policy, { host: 'h', 'x-rplace-csrf': '1' })).toBeNull();
    expect(checkCsrf(policy, { host: 'h', 'x-rplace-csrf': '1', origin: 'https://evil.example' })).toMatch(/not allowed/);
  });
});

describe('session cookies', () => {
  it('round-trips an id and ignores malformed or oversized cookies', () => {
    const id = newSessionId();
    const header = `a=b; rplace_session=${id}; c=d`;
    expect(sessionIdFromCookie(header)).toBe(id);
    expect(sessionIdFromCookie('rplace_session=short')).toBeUndefined();
    expect(readCookie(`x=${'y'.repeat(9000)}`, 'x')).toBeUndefined();
    expect(sessionKey(id)).not.toContain(id);
    expect(sessionCookie(id, { secure: true, maxAgeSeconds: 60 })).toBe(`rplace_session=${id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60; Secure`);
  });
});

describe('per-IP connection caps', () => {
  it('caps each address separately and frees slots on release', () => {
    const caps = new ConnectionCaps(2);
    expect([caps.acquire('a'), caps.acquire('a'), caps.acquire('a'), caps.acquire('b')]).toEqual([true, true, false, true]);
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
  it('uses X-Forwarded-For only behind a trusted proxy', () => {
    expect(clientAddress({ TRUST_PROXY: '0' }, '10.0.0.1', '1.2.3.4')).toBe('10.0.0.1');
    expect(clientAddress({ TRUST_PROXY: '1' }, '10.0.0.1', '1.2.3.4, 10.0.0.1')).toBe('1.2.3.4');
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
