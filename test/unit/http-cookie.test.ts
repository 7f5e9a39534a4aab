import { describe, expect, it } from 'vitest';
import { MAX_COOKIE_HEADER, readCookie } from '../../src/app/http-cookie.ts';
import { createGuestIdentity, GUEST_COOKIE } from '../../src/adapters/identity/guest-cookie.ts';

describe('readCookie', () => {
  it('finds a cookie among others, trimmed, the first of two with the same name', () => {
    expect(readCookie('a=1; rplace_guest= g_x.mac ;b=2', 'rplace_guest')).toBe('g_x.mac');
    expect(readCookie('x=1;x=2', 'x')).toBe('1');
    expect(readCookie('x=a=b', 'x')).toBe('a=b'); // only the first = splits
    expect(readCookie('x=', 'x')).toBe('');
  });

  it('skips malformed pairs and never matches a prefix or a value', () => {
    expect(readCookie(undefined, 'x')).toBeUndefined();
    expect(readCookie('', 'x')).toBeUndefined();
    expect(readCookie('x; =x; ;;', 'x')).toBeUndefined();
    expect(readCookie('xx=1; y=x', 'x')).toBeUndefined();
    expect(readCookie('=1; x=2', 'x')).toBe('2');
  });

  it(`does not parse a header over ${MAX_COOKIE_HEADER} characters, however the cookie sits in it`, () => {
    const fits = `x=1; pad=${'p'.repeat(MAX_COOKIE_HEADER - 'x=1; pad='.length)}`;
    expect(fits.length).toBe(MAX_COOKIE_HEADER);
    expect(readCookie(fits, 'x')).toBe('1');
    expect(readCookie(`${fits}p`, 'x')).toBeUndefined();
  });

  it('bounds the guest cookie too: an oversized header gets a fresh guest, not a parse of it', async () => {
    const guests = createGuestIdentity({ secret: 'unit-test-guest-secret-0123456789abcdef' });
    const minted = await guests.identify({});
    const cookie = minted?.setCookie?.split(';')[0] ?? '';
    expect(cookie.startsWith(`${GUEST_COOKIE}=`)).toBe(true);
    const again = await guests.identify({ cookie });
    expect(again?.identity.userId).toBe(minted?.identity.userId);
    expect([minted?.minted, again?.minted]).toEqual([true, undefined]); // only a new guest is new
    const oversized = await guests.identify({ cookie: `${cookie}; pad=${'p'.repeat(MAX_COOKIE_HEADER)}` });
    expect(oversized?.identity.userId).not.toBe(minted?.identity.userId);
    expect(oversized?.setCookie).toBeDefined();
  });
});
