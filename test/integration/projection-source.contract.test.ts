/**
 * The projection-source contract (test/contract/projection-source.contract.ts) on a durable JetStream consumer, and
 * on the shared read of `npm start` (src/app/shared-read.ts) over the ordered consumer; a stream per test.
 */
import { afterAll, beforeAll } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import { createSharedRead } from '../../src/app/shared-read.ts';
import { applyStreams } from '../../streams/apply.ts';
import { CONTRACT_CANVAS } from '../contract/event-log.contract.ts';
import { projectionSourceContract } from '../contract/projection-source.contract.ts';
import { deleteStream, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';

let nc: NatsConnection;
beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test projection-source contract');
});
afterAll(async () => nc?.close());

projectionSourceContract('JetStream durable consumer', async () => {
  const names = testNames('pscontract');
  await applyStreams(nc, names);
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  return {
    source: createNatsProjectionSource(nc, names, 'contract', pino({ level: 'silent' }), {
      canvas: CONTRACT_CANVAS,
      maxBatch: 4,
      maxBackoffMs: 50,
    }),
    log,
    async close() {
      await log.close();
      await deleteStream(nc, names);
    },
  };
});

projectionSourceContract('shared read over a JetStream ordered consumer', async () => {
  const names = testNames('pscontract');
  await applyStreams(nc, names);
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
  const shared = createSharedRead(createNatsEventStream(nc, names, { canvas: CONTRACT_CANVAS, maxBatch: 4 }), {
    maxBackoffMs: 50,
  });
  return {
    source: shared.source({ maxBatch: 4 }),
    log,
    async close() {
      await shared.close();
      await log.close();
      await deleteStream(nc, names);
    },
  };
});
