/**
 * The NATS and Redis connections an integration test file holds for its whole run, and their release:
 * each canvas's stream and Redis keys are removed before both connections close (isolation.ts names them).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import type { Names } from '../../src/domain/names.ts';
import { deleteRedisKeys, deleteStream, TEST_NATS_URL, TEST_REDIS_URL } from './isolation.ts';

export interface TestServices {
  readonly nc: NatsConnection;
  readonly redis: Redis;
}

/** Both connections, named `clientName` (seen in NATS and Redis client lists). */
export async function connectTestServices(clientName: string): Promise<TestServices> {
  const nc = await connectNats(TEST_NATS_URL, clientName);
  return { nc, redis: await connectRedis(TEST_REDIS_URL, clientName) };
}

/** Deletes the streams and Redis keys of `canvases`, then closes what is open (after a failed start, part may be). */
export async function releaseTestServices(
  services: { nc?: NatsConnection; redis?: Redis },
  ...canvases: Names[]
): Promise<void> {
  const { nc, redis } = services;
  for (const names of canvases) {
    if (nc) await deleteStream(nc, names);
    if (redis) await deleteRedisKeys(redis, names);
  }
  await redis?.quit();
  await nc?.close();
}
