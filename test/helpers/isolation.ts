/**
 * Per-test-file isolation on the shared services: a unique canvas id (hence stream, subjects, Redis
 * prefix and Postgres schema, see src/config/names.ts) and a cleanup that removes all of them.
 */
import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { namesFor, type Names } from '../../src/domain/names.ts';

export const TEST_NATS_URL = 'nats://127.0.0.1:4222';
export const TEST_REDIS_URL = 'redis://127.0.0.1:6379';
export const TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';

/** `t_<label>_<random>`, at most 32 characters. */
export function uniqueCanvasId(label: string): string {
  const clean = label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 16);
  return `t_${clean}_${randomBytes(5).toString('hex')}`;
}

export function testNames(label: string): Names {
  return namesFor(uniqueCanvasId(label));
}

/** Environment for a child process or a config loader, pointing at this test's canvas. */
/**
 * An edge's environment as an open demo for clients that all come from loopback (tests, benches, the fault
 * harness): guests place, and the per-address caps (src/config/auth.ts) are out of the way, since every
 * client shares 127.0.0.1 and hundreds of them reconnect at once after an edge restart.
 */
export const OPEN_LOOPBACK_EDGE_ENV: Readonly<Record<string, string>> = {
  ALLOW_GUEST_PLACEMENT: '1',
  GUEST_COOLDOWN_PER_IP: '0',
  WS_MAX_CONNECTIONS_PER_IP: '100000',
  PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '1000000',
  PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: '1000000',
  WS_RESYNCS_PER_IP_PER_MINUTE: '1000000',
};

export function testEnv(names: Names, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NATS_URL: TEST_NATS_URL,
    REDIS_URL: TEST_REDIS_URL,
    DATABASE_URL: TEST_DATABASE_URL,
    CANVAS_ID: names.canvasId,
    LOG_LEVEL: 'warn',
    // Tests of everything but accounts run an edge as an open demo (edge-bounds.test.ts tests the caps, from
    // distinct 127.x addresses; the accounts tests set these explicitly).
    ...OPEN_LOOPBACK_EDGE_ENV,
    ...extra,
  };
}

export async function deleteStream(nc: NatsConnection, names: Names): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(names.stream).catch(() => undefined);
}

export async function deleteRedisKeys(redis: Redis, names: Names): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${names.redisPrefix}*`, 'COUNT', 1000);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

export async function dropSchema(names: Names, databaseUrl = TEST_DATABASE_URL): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${names.pgSchema}" CASCADE`);
  } finally {
    await client.end();
  }
}

/**
 * Removes everything a canvas id created: its stream, its Redis keys and its Postgres schema. Uses the
 * given connections, or opens (and closes) its own.
 */
export async function cleanupCanvas(names: Names, given: { nc?: NatsConnection; redis?: Redis } = {}): Promise<void> {
  const nc = given.nc ?? (await connect({ servers: TEST_NATS_URL }));
  const redis = given.redis ?? new Redis(TEST_REDIS_URL);
  try {
    await deleteStream(nc, names);
    await deleteRedisKeys(redis, names);
    await dropSchema(names);
  } finally {
    if (!given.nc) await nc.close();
    if (!given.redis) redis.disconnect();
  }
}
