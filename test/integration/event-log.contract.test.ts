/**
 * The log contract (test/contract/event-log.contract.ts) on JetStream: the pipelined event log, the
 * ordered-consumer stream and the moderation log, each test on its own stream.
 */
import { afterAll, beforeAll } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createNatsModerationLog } from '../../src/adapters/nats/moderation-log.ts';
import { applyStreams } from '../../streams/apply.ts';
import { CONTRACT_CANVAS, eventLogContract } from '../contract/event-log.contract.ts';
import { deleteStream, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test event-log contract');
});
afterAll(async () => nc?.close());

eventLogContract('JetStream', async () => {
  const names = testNames('logcontract');
  await applyStreams(nc, names);
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  return {
    log,
    stream: createNatsEventStream(nc, names, { canvas: CONTRACT_CANVAS, maxBatch: 2 }),
    moderation: createNatsModerationLog(nc, names),
    async close() {
      await log.close();
      await deleteStream(nc, names);
    },
  };
});
