/** The cooldown contract (test/contract/cooldown-store.contract.ts) on the Redis store, under a unique key prefix. */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisCooldownStore, RECORD_RIDE_MS } from '../../src/adapters/redis/cooldown-store.ts';
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
  // Outcome records ride with the next turn's acquisitions or go alone after RECORD_RIDE_MS; a round trip
  // on the same connection after that is answered after them.
  settle: async () => {
    await sleep(RECORD_RIDE_MS + 10);
    await redis.ping();
  },
  close: async () => undefined,
}));
