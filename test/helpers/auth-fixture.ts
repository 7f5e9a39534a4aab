/**
 * Real-service fixture for the accounts tests: Redis, Postgres (the users and bans migrations in this test's schema)
 * and NATS, all keyed by one test canvas id.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { up as usersUp } from '../../migrations/0002_users.ts';
import { up as bansUp } from '../../migrations/0005_bans.ts';
import { createAccounts, type AuthSettings } from '../../src/app/auth/accounts.ts';
import { createRedisSessionStore } from '../../src/adapters/redis/session-store.ts';
import { createRedisRateLimiter } from '../../src/adapters/redis/rate-limits.ts';
import { createDurableBanStore } from '../../src/adapters/redis/ban-store.ts';
import { createPgBanRecords } from '../../src/adapters/pg/ban-records.ts';
import { createPgUserStore } from '../../src/adapters/pg/user-store.ts';
import { createNatsRevocations } from '../../src/adapters/nats/revocations.ts';
import { createRedisChallengeStore } from '../../src/adapters/redis/challenge-store.ts';
import { createLoginChallenges } from '../../src/app/auth/login-challenge.ts';
import { sessionCookies } from '../../src/app/auth/sessions.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { deleteRedisKeys, dropSchema, TEST_DATABASE_URL, TEST_NATS_URL, TEST_REDIS_URL } from './isolation.ts';
import type { Names } from '../../src/domain/names.ts';

export const FAST_SCRYPT = { N: 1 << 10, r: 8, p: 1 };
export const TEST_SESSION_SECRET = 'auth-fixture-session-secret-0123456789';
/** Login challenges easy enough to solve in a test (2^8 hashes on average). */
export const TEST_LOGIN_DIFFICULTY = 8;

export async function createUsersSchema(names: Names): Promise<pg.Pool> {
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA IF NOT EXISTS "${names.pgSchema}"`);
  await admin.end();
  const pool = new pg.Pool({
    connectionString: TEST_DATABASE_URL,
    max: 4,
    options: `-c search_path="${names.pgSchema}"`,
  });
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool }) });
  await usersUp(db);
  await bansUp(db);
  return pool;
}

export async function authFixture(names: Names, settings: Partial<AuthSettings> = {}) {
  const redis = new Redis(TEST_REDIS_URL, { enableAutoPipelining: true });
  const nc: NatsConnection = await connect({ servers: TEST_NATS_URL });
  const pool = await createUsersSchema(names);
  const sessions = createRedisSessionStore(redis, names.redisPrefix);
  const limits = createRedisRateLimiter(redis, names.redisPrefix);
  const bans = createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema));
  const users = createPgUserStore(pool, names.pgSchema);
  const fullSettings: AuthSettings = {
    sessionTtlSeconds: 3600,
    loginPerAccount: { limit: 10, windowMs: 15 * 60_000 },
    loginPerAccountPerIp: { limit: 10, windowMs: 15 * 60_000 },
    loginPerIp: { limit: 100, windowMs: 15 * 60_000 },
    registerPerIp: { limit: 1000, windowMs: 60 * 60_000 },
    scryptCost: FAST_SCRYPT,
    ...settings,
  };
  const loginChallenges = createLoginChallenges({
    store: createRedisChallengeStore(redis, names.redisPrefix),
    limits,
    difficulty: TEST_LOGIN_DIFFICULTY,
    perIp: fullSettings.loginPerIp,
  });
  const accounts = createAccounts({
    users,
    sessions,
    limits,
    revocations: createNatsRevocations(nc, names.canvasId),
    clock: systemClock,
    settings: fullSettings,
    loginChallenges,
  });
  const cookies = sessionCookies(TEST_SESSION_SECRET);
  return {
    redis,
    nc,
    pool,
    sessions,
    limits,
    bans,
    users,
    accounts,
    loginChallenges,
    cookies,
    settings: fullSettings,
    async close() {
      await deleteRedisKeys(redis, names);
      redis.disconnect();
      await nc.close();
      await pool.end();
      await dropSchema(names);
    },
  };
}
