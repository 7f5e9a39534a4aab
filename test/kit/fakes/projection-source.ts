/**
 * `ProjectionSource` over a `MemoryStream`: batches from `fromSeq` on, the next one only after `handle`
 * resolved; a batch whose handler rejects is delivered again (after `retryMs`), and `ProjectionHalted`
 * ends `run` with that error, as the durable JetStream consumer does. Follows the stream live until
 * `signal` aborts.
 */
import { ProjectionHalted } from '../../../src/ports/errors.ts';
import type { ProjectionSource, StoredEvent } from '../../../src/ports/event-log.ts';
import { sleep } from '../../../src/app/sleep.ts';
import type { MemoryStream } from './memory-stream.ts';

export function createFakeProjectionSource(
  stream: MemoryStream,
  options: { readonly maxBatch?: number; readonly retryMs?: number } = {},
): ProjectionSource & { redeliveries: number } {
  const maxBatch = options.maxBatch ?? 5000;
  const source = {
    redeliveries: 0,
    async run(
      fromSeq: number,
      handle: (batch: readonly StoredEvent[]) => Promise<void>,
      signal: AbortSignal,
    ): Promise<void> {
      let next = Math.max(1, fromSeq);
      while (!signal.aborted) {
        const batch = stream.slice(next, next + maxBatch - 1);
        if (batch.length === 0) {
          await stream.next(signal);
          continue;
        }
        try {
          await handle(batch);
          next = (batch[batch.length - 1] as StoredEvent).seq + 1;
        } catch (error) {
          if (error instanceof ProjectionHalted) throw error;
          source.redeliveries++;
          await sleep(options.retryMs ?? 1, signal);
        }
      }
    },
  };
  return source;
}
