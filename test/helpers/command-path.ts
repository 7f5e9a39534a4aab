/**
 * The placement command's real adapters for a test file: NATS with the file's stream (created by the
 * caller, so a test can shorten the duplicate window), the pipelined JetStream event log, Redis and the
 * cooldown store; `close` removes the stream and the Redis keys.
 */
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import { createRedisCooldownStore } from '../../src/adapters/redis/cooldown-store.ts';
import type { CooldownStore } from '../../src/ports/cooldown.ts';
import type { Names } from '../../src/domain/names.ts';
import { deleteRedisKeys, deleteStream, TEST_NATS_URL, TEST_REDIS_URL } from './isolation.ts';

export interface CommandPath {
  readonly nc: NatsConnection;
  readonly redis: Redis;
  readonly jsm: JetStreamManager;
  readonly log: ReturnType<typeof createJetStreamEventLog>;
  readonly cooldowns: CooldownStore;
  lastSeq(): Promise<number>;
  close(): Promise<void>;
}

export async function openCommandPath(
  names: Names,
  label: string,
  createStream: (jsm: JetStreamManager, nc: NatsConnection) => Promise<unknown>,
): Promise<CommandPath> {
  const nc = await connectNats(TEST_NATS_URL, label);
  const redis = await connectRedis(TEST_REDIS_URL, label);
  const jsm = await jetstreamManager(nc);
  await createStream(jsm, nc);
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  return {
    nc,
    redis,
    jsm,
    log,
    cooldowns: createRedisCooldownStore(redis, names),
    lastSeq: async () => (await jsm.streams.info(names.stream)).state.last_seq,
    async close() {
      await log.close();
      await deleteStream(nc, names);
      await deleteRedisKeys(redis, names);
      redis.disconnect();
      await nc.close();
    },
  };
}
