/** The cooldown contract (test/contract/cooldown-store.contract.ts) on the Redis store, under a unique key prefix. */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisCooldownStore } from '../../src/adapters/redis/cooldown-store.ts';
import { sleep } from '../../src/app/sleep.ts';
import { cooldownStoreContract } from '../contract/cooldown-store.contract.ts';
import { deleteRedisKeys, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('cdcontract');
let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await deleteRedisKeys(redis, names);
  redis.disconnect();
});

cooldownStoreContract('Redis', async () => ({
  store: createRedisCooldownStore(redis, names),
  pass: (ms) => sleep(ms),
  // Outcome records go out from a setImmediate (batched per event-loop turn): one queued after it runs
  // after their flush, and a round trip on the same connection is answered after them.
  settle: async () => {
    await new Promise((resolve) => setImmediate(resolve));
    await redis.ping();
  },
  close: async () => undefined,
}));
