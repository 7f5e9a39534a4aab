/** The projection-source contract (test/contract/projection-source.contract.ts) on the in-memory fake. */
import { projectionSourceContract } from '../contract/projection-source.contract.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeProjectionSource } from '../kit/fakes/projection-source.ts';

projectionSourceContract('in-memory fake', async () => {
  const stream = new MemoryStream();
  return {
    source: createFakeProjectionSource(stream, { maxBatch: 4 }),
    log: createFakeEventLog(stream),
    close: async () => undefined,
  };
});
