/**
 * The NATS and Redis connections an integration test file holds for its whole run, and their release:
 * each canvas's stream and Redis keys are removed before both connections close (isolation.ts names them).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import type { Names } from '../../src/domain/names.ts';
import { freePort, killAllEdgeProcesses, startEdgeProcess, type EdgeProcess } from './edge-process.ts';
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

/**
 * A test file's services and one edge child process on a free port, started before its tests and killed
 * (with the canvas's stream and keys released) after them. Read them through the getters, inside tests.
 */
export function edgeProcessForFile(
  names: Names,
  clientName: string,
): {
  readonly services: () => TestServices;
  readonly edge: () => EdgeProcess;
  /** A new edge process on the same port (after the test killed the first); it is the one killed after the tests. */
  readonly restartEdge: () => Promise<EdgeProcess>;
} {
  let services: TestServices | undefined;
  let edge: EdgeProcess | undefined;
  beforeAll(async () => {
    services = await connectTestServices(clientName);
    edge = await startEdgeProcess(names, await freePort());
  }, 120_000);
  afterAll(async () => {
    await edge?.kill();
    killAllEdgeProcesses();
    await releaseTestServices(services ?? {}, names);
  });
  const started = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is not started (read it inside a test)`);
    return value;
  };
  return {
    services: () => started(services, 'the test services'),
    edge: () => started(edge, 'the edge process'),
    restartEdge: async () => {
      edge = await startEdgeProcess(names, started(edge, 'the edge process').port);
      return edge;
    },
  };
}
