/**
 * `EventStream` over a `MemoryStream`: ordered batches of at most `maxBatch` events, following the stream
 * live until `signal` aborts, or, with `untilSeq`, ending after min(untilSeq, the last sequence at call
 * time) without waiting for events that do not exist yet: the JetStream ordered consumer's rules.
 */
import type { EventStream, PixelBatch, StoredEvent } from '../../../src/ports/event-log.ts';
import { EventKind } from '../../../proto/event-codec.ts';
import { type CanvasSize, type Resize, SizeTimeline } from '../../../src/domain/resize.ts';
import type { MemoryStream } from './memory-stream.ts';

interface ReadOptions {
  readonly untilSeq?: number;
  readonly signal?: AbortSignal;
}

/**
 * Resizes follow the same rule as the real readers (src/domain/resize.ts), from the initial size `initial`
 * (default 8192², so a fake that never resizes accepts any pixel, as before).
 */
export function createFakeEventStream(
  stream: MemoryStream,
  options: { readonly maxBatch?: number; readonly initial?: CanvasSize } = {},
): EventStream {
  const maxBatch = options.maxBatch ?? 4096;
  const initial = options.initial ?? { width: 8192, height: 8192 };
  function timeline(through: number): SizeTimeline {
    const t = new SizeTimeline(initial);
    for (const s of stream.slice(1, through)) if (s.event.kind === EventKind.CanvasResized) t.record(s.seq, s.event);
    return t;
  }

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
    async sizeAt(seq) {
      const t = timeline(seq);
      const last = t.resizes.filter((r) => r.seq <= seq).at(-1) ?? null;
      return { size: t.sizeAt(seq), lastResize: last };
    },
    async *readPixels(fromSeq, readOptions = {}) {
      for await (const batch of read(fromSeq, readOptions)) {
        const resizes: { index: number; resize: Resize }[] = [];
        batch.forEach((s, index) => {
          if (s.event.kind === EventKind.CanvasResized) resizes.push({ index, resize: s.event });
        });
        const pixel = (s: StoredEvent, field: 'x' | 'y' | 'color') =>
          s.event.kind === EventKind.CanvasResized ? 0 : s.event[field];
        const pixels: PixelBatch = {
          count: batch.length,
          seqs: Float64Array.from(batch, (s) => s.seq),
          setsPixel: Uint8Array.from(batch, (s) => (s.event.kind === EventKind.CanvasResized ? 0 : 1)),
          xs: Uint16Array.from(batch, (s) => pixel(s, 'x')),
          ys: Uint16Array.from(batch, (s) => pixel(s, 'y')),
          colors: Uint8Array.from(batch, (s) => pixel(s, 'color')),
          resizes,
        };
        yield pixels;
      }
    },
  };
}
