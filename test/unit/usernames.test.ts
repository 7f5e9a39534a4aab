import { describe, expect, it } from 'vitest';
import { userLabel } from '../../proto/user-label.ts';
import { Usernames } from '../../src/app/history/usernames.ts';

function counting(names: Record<string, string>) {
  const calls: string[][] = [];
  let fail = false;
  return {
    calls,
    failNext: () => {
      fail = true;
    },
    lookup: async (ids: readonly string[]) => {
      calls.push([...ids]);
      if (fail) {
        fail = false;
        throw new Error('pg down');
      }
      return new Map(ids.filter((id) => names[id]).map((id) => [id, names[id] as string]));
    },
  };
}

describe('userLabel', () => {
  it('names accounts by username and guests by the last six characters of their id', () => {
    expect(userLabel('u_TYC3VXf8G0xL', 'testercm4om')).toBe('testercm4om');
    expect(userLabel('g_e93b1454bac42d4b', null)).toBe('Guest c42d4b');
    expect(userLabel('u_unknown', null)).toBeNull();
  });
});

describe('Usernames', () => {
  it('looks the ids of a page up in one batch, never guests, and serves repeats from the cache', async () => {
    const store = counting({ u_a: 'alice', u_b: 'bob' });
    let now = 0;
    const names = new Usernames({ lookup: store.lookup, clock: { now: () => now }, missTtlMs: 1000 });
    const first = await names.labels(['u_a', 'u_b', 'u_a', 'g_0123456789abcdef', 'u_x']);
    expect(Object.fromEntries(first)).toEqual({
      u_a: 'alice',
      u_b: 'bob',
      g_0123456789abcdef: 'Guest abcdef',
      u_x: null,
    });
    expect(store.calls).toEqual([['u_a', 'u_b', 'u_x']]);
    await names.labels(['u_b', 'u_a', 'u_x']);
    expect(store.calls).toHaveLength(1);
    // An id without an account is asked again once its miss expires (it may be a brand new account).
    now = 1001;
    await names.labels(['u_a', 'u_x']);
    expect(store.calls).toEqual([['u_a', 'u_b', 'u_x'], ['u_x']]);
  });

  it('keeps at most maxEntries, dropping the least recently used', async () => {
    const store = counting({ u_1: 'one', u_2: 'two', u_3: 'three' });
    const names = new Usernames({ lookup: store.lookup, clock: { now: () => 0 }, maxEntries: 2 });
    await names.labels(['u_1', 'u_2']);
    await names.labels(['u_1']); // u_1 is now the most recent
    await names.labels(['u_3']); // evicts u_2
    store.calls.length = 0;
    await names.labels(['u_1', 'u_3']);
    expect(store.calls).toEqual([]);
    await names.labels(['u_2']);
    expect(store.calls).toEqual([['u_2']]);
  });

  it('serves a page without names when the store fails, reports it and caches nothing', async () => {
    const store = counting({ u_a: 'alice' });
    const errors: Error[] = [];
    const names = new Usernames({ lookup: store.lookup, clock: { now: () => 0 }, onError: (e) => errors.push(e) });
    store.failNext();
    expect(Object.fromEntries(await names.labels(['u_a', 'g_0000000000ffffff']))).toEqual({
      u_a: null,
      g_0000000000ffffff: 'Guest ffffff',
    });
    expect(errors.map((e) => e.message)).toEqual(['pg down']);
    expect(Object.fromEntries(await names.labels(['u_a']))).toEqual({ u_a: 'alice' });
  });
});
