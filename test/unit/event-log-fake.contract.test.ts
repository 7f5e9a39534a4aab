/** The log contract (test/contract/event-log.contract.ts) on the in-memory fakes: no services. */
import { eventLogContract } from '../contract/event-log.contract.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { createFakeEventStream } from '../kit/fakes/event-stream.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeModerationLog } from '../kit/fakes/moderation-log.ts';

eventLogContract('in-memory fake', async () => {
  const stream = new MemoryStream();
  return {
    log: createFakeEventLog(stream),
    stream: createFakeEventStream(stream, { maxBatch: 2 }),
    moderation: createFakeModerationLog(stream),
    close: async () => undefined,
  };
});
