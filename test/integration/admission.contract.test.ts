/** The admission contract (test/contract/admission.contract.ts) on the Redis cooldown store's one script. */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import { bansKey, LOADED } from '../../src/adapters/redis/ban-store.ts';
import { createRedisCooldownStore } from '../../src/adapters/redis/cooldown-store.ts';
import { createRedisSessionStore } from '../../src/adapters/redis/session-store.ts';
import { admissionContract } from '../contract/admission.contract.ts';
import { deleteRedisKeys, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('admission');
let redis: Redis;
beforeAll(() => {
  redis = new Redis(TEST_REDIS_URL);
});
afterAll(async () => {
  await deleteRedisKeys(redis, names);
  redis.disconnect();
});

admissionContract('Redis, one script', async () => {
  const store = createRedisCooldownStore(redis, names);
  const bans = bansKey(names.redisPrefix);
  await redis.hset(bans, LOADED, '1');
  return {
    admission: store,
    cooldowns: store,
    sessions: createRedisSessionStore(redis, names.redisPrefix),
    ban: async (userId, mode) => void (await redis.hset(bans, userId, mode)),
    unloadBans: async () => void (await redis.hdel(bans, LOADED)),
    close: async () => undefined,
  };
});
