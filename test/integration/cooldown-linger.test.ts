/**
 * The cooldown store's linger (src/adapters/redis/cooldown-store.ts): while acquisitions keep coming, a batch
 * waits up to `lingerMs` (or until LINGER_BATCH) so that many placements share one Redis call; a lone
 * acquisition after a pause is not held back. Real Redis; the store's script calls are counted on its client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisCooldownStore, LINGER_BATCH } from '../../src/adapters/redis/cooldown-store.ts';
import { sleep } from '../../src/app/sleep.ts';
import { deleteRedisKeys, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('cdlinger');
const pixel = { x: 1, y: 2, color: 3 };
let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await deleteRedisKeys(redis, names);
  redis.disconnect();
});

/** A store on its own client whose batch script calls are counted. */
function countedStore(lingerMs: number) {
  const client = redis.duplicate();
  const store = createRedisCooldownStore(client, names, { lingerMs });
  const commands = client as unknown as { rplaceCooldownBatch: (...args: unknown[]) => Promise<unknown> };
  const original = commands.rplaceCooldownBatch.bind(client);
  const calls = { count: 0 };
  commands.rplaceCooldownBatch = (...args: unknown[]) => {
    calls.count++;
    return original(...args);
  };
  return { store, calls, close: () => client.disconnect() };
}

let user = 0;
const acquire = (store: ReturnType<typeof countedStore>['store']) =>
  store.tryAcquire(`u${++user}`, `r${user}`, Date.now(), 60, pixel);

/** `count` acquisitions of new users, one every ~1 ms (each alone in its loop turn); their answers. */
async function trickle(store: ReturnType<typeof countedStore>['store'], count: number) {
  const pending: Promise<{ acquired: boolean }>[] = [];
  for (let i = 0; i < count; i++) {
    pending.push(acquire(store));
    await sleep(1);
  }
  return Promise.all(pending);
}

describe('the cooldown store lingers only while acquisitions flow', () => {
  it('a lone acquisition after a pause goes in the next loop turn, not after the linger', async () => {
    const { store, calls, close } = countedStore(2_000);
    try {
      const started = performance.now();
      expect((await acquire(store)).acquired).toBe(true);
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(calls.count).toBe(1);
    } finally {
      close();
    }
  });

  it('a trickle of acquisitions, each in its own loop turn, shares calls; every one gets its own answer', async () => {
    const { store, calls, close } = countedStore(50);
    try {
      const results = await trickle(store, 40);
      expect(results.every((r) => r.acquired)).toBe(true);
      // Without the linger every acquisition here is a call of its own (each is alone in its turn).
      expect(calls.count).toBeLessThanOrEqual(10);
    } finally {
      close();
    }
  });

  it('without a linger the same trickle makes a call per loop turn', async () => {
    const { store, calls, close } = countedStore(0);
    try {
      await trickle(store, 20);
      expect(calls.count).toBe(20);
    } finally {
      close();
    }
  });

  it('a lingering batch goes as soon as it holds LINGER_BATCH acquisitions', async () => {
    const { store, calls, close } = countedStore(10_000);
    try {
      await acquire(store); // alone: sent at once
      const started = performance.now();
      const pending: Promise<{ acquired: boolean }>[] = [];
      for (let i = 0; i < LINGER_BATCH; i++) {
        pending.push(acquire(store));
        await new Promise((resolve) => setImmediate(resolve)); // each in a turn of its own
      }
      const results = await Promise.all(pending);
      expect(results.every((r) => r.acquired)).toBe(true);
      expect(performance.now() - started).toBeLessThan(5_000);
      expect(calls.count).toBe(2);
    } finally {
      close();
    }
  });

  it('two acquisitions of one user in one lingering batch still see each other', async () => {
    const { store, close } = countedStore(50);
    try {
      await acquire(store);
      const id = `u_same_${Date.now()}`;
      const first = store.tryAcquire(id, 'r_a', Date.now(), 60, pixel);
      await sleep(1);
      const second = store.tryAcquire(id, 'r_b', Date.now(), 60, pixel);
      const [a, b] = await Promise.all([first, second]);
      expect(a.acquired).toBe(true);
      expect(b).toMatchObject({ acquired: false, holderRequestId: 'r_a' });
    } finally {
      close();
    }
  });
});
