/**
 * The auth port contracts (test/contract/) on the real stores: sessions, rate limits and challenges in
 * Redis under this file's key prefix, accounts in Postgres in its schema, bans in both.
 */
import { afterAll, beforeAll } from 'vitest';
import { Redis } from 'ioredis';
import type pg from 'pg';
import { createPgBanRecords } from '../../src/adapters/pg/ban-records.ts';
import { createPgUserStore } from '../../src/adapters/pg/user-store.ts';
import { createDurableBanStore } from '../../src/adapters/redis/ban-store.ts';
import { createRedisChallengeStore } from '../../src/adapters/redis/challenge-store.ts';
import { createRedisRateLimiter } from '../../src/adapters/redis/rate-limits.ts';
import { createRedisSessionStore } from '../../src/adapters/redis/session-store.ts';
import { sleep } from '../../src/app/sleep.ts';
import { banStoreContract } from '../contract/ban-store.contract.ts';
import { challengeStoreContract } from '../contract/challenge-store.contract.ts';
import { rateLimiterContract } from '../contract/rate-limiter.contract.ts';
import { sessionStoreContract } from '../contract/session-store.contract.ts';
import { userStoreContract } from '../contract/user-store.contract.ts';
import { createUsersSchema } from '../helpers/auth-fixture.ts';
import { deleteRedisKeys, dropSchema, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('authcontract');
let redis: Redis;
let pool: pg.Pool;
beforeAll(async () => {
  redis = new Redis(TEST_REDIS_URL);
  pool = await createUsersSchema(names);
}, 30_000);
afterAll(async () => {
  await deleteRedisKeys(redis, names);
  redis.disconnect();
  await pool?.end();
  await dropSchema(names);
});

const pass = (ms: number) => sleep(ms);
sessionStoreContract('Redis', async () => ({ store: createRedisSessionStore(redis, names.redisPrefix), pass }));
rateLimiterContract('Redis', async () => ({ limiter: createRedisRateLimiter(redis, names.redisPrefix), pass }));
challengeStoreContract('Redis', async () => ({ store: createRedisChallengeStore(redis, names.redisPrefix), pass }));
userStoreContract('Postgres', async () => createPgUserStore(pool, names.pgSchema));
banStoreContract('Redis + Postgres', async () =>
  createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema)),
);
