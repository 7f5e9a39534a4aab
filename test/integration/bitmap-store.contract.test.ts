/** The bitmap contract (test/contract/bitmap-store.contract.ts) on the Redis store, each test under its own key prefix. */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { BITMAP_SPEC, bitmapStoreContract } from '../contract/bitmap-store.contract.ts';
import { deleteRedisKeys, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(() => redis.disconnect());

bitmapStoreContract('Redis', async () => {
  const names = testNames('bmcontract');
  return {
    store: createRedisBitmapStore(redis, names, BITMAP_SPEC),
    wipe: () => deleteRedisKeys(redis, names),
    truncate: async () => {
      await redis.set(names.canvasKey, Buffer.alloc(BITMAP_SPEC.width * BITMAP_SPEC.height - 1));
    },
    close: () => deleteRedisKeys(redis, names),
  };
});
