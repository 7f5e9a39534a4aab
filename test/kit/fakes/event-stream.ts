/**
 * `EventStream` over a `MemoryStream`: ordered batches of at most `maxBatch` events, following the stream
 * live until `signal` aborts, or, with `untilSeq`, ending after min(untilSeq, the last sequence at call
 * time) without waiting for events that do not exist yet: the JetStream ordered consumer's rules.
 */
import type { EventStream, PixelBatch, StoredEvent } from '../../../src/ports/event-log.ts';
import type { MemoryStream } from './memory-stream.ts';

interface ReadOptions {
  readonly untilSeq?: number;
  readonly signal?: AbortSignal;
}

export function createFakeEventStream(stream: MemoryStream, options: { readonly maxBatch?: number } = {}): EventStream {
  const maxBatch = options.maxBatch ?? 4096;

  async function* read(fromSeq: number, readOptions: ReadOptions = {}): AsyncIterable<readonly StoredEvent[]> {
    const until =
      readOptions.untilSeq === undefined ? Number.POSITIVE_INFINITY : Math.min(readOptions.untilSeq, stream.lastSeq);
    let next = Math.max(1, Math.floor(fromSeq));
    while (next <= until && !readOptions.signal?.aborted) {
      const batch = stream.slice(next, Math.min(until, next + maxBatch - 1));
      if (batch.length === 0) {
        await stream.next(readOptions.signal); // only an unbounded read gets here: it follows the stream live
        continue;
      }
      next = (batch[batch.length - 1] as StoredEvent).seq + 1;
      yield batch;
    }
  }

  return {
    async lastSeq() {
      return stream.lastSeq;
    },
    read,
    async *readPixels(fromSeq, readOptions = {}) {
      for await (const batch of read(fromSeq, readOptions)) {
        const pixels: PixelBatch = {
          count: batch.length,
          seqs: Float64Array.from(batch, (s) => s.seq),
          setsPixel: new Uint8Array(batch.length).fill(1), // both event kinds set a pixel
          xs: Uint16Array.from(batch, (s) => s.event.x),
          ys: Uint16Array.from(batch, (s) => s.event.y),
          colors: Uint8Array.from(batch, (s) => s.event.color),
        };
        yield pixels;
      }
    },
  };
}
