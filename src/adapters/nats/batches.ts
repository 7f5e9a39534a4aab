/**
 * Groups the messages of a `consume()` into batches: each batch is everything that arrived by the time the
 * reader asks for more (after letting the current socket read finish delivering), at most `maxBatch`.
 * So batches are single messages when the stream is quiet (no added latency beyond one event-loop turn)
 * and thousands when the reader is behind (rebuilds, a projector catching up).
 *
 * Why not `messages.getPending()`: in nats.js 3.4 it over-counts by one after the iterator ran one of its
 * queued pull requests, so "nothing pending" is sometimes never seen and the tail of a burst would wait for
 * the next message. Here a pump moves messages into a local queue instead.
 *
 * Backpressure: the pump stops iterating when `2 * maxBatch` messages wait; nats.js queues its refill pulls
 * inside the iterator, so the client then stops asking the server for more.
 */
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';

export async function* batchMessages(messages: ConsumerMessages, maxBatch: number): AsyncGenerator<JsMsg[]> {
  let queue: JsMsg[] = [];
  let ended = false;
  let failure: unknown;
  let wakeReader: (() => void) | undefined;
  let wakePump: (() => void) | undefined;
  let closing = false;
  const notifyReader = () => {
    const wake = wakeReader;
    wakeReader = undefined;
    wake?.();
  };
  const pump = (async () => {
    try {
      for await (const msg of messages) {
        queue.push(msg);
        notifyReader();
        if (queue.length >= 2 * maxBatch && !closing) await new Promise<void>((resolve) => (wakePump = resolve));
      }
    } catch (error) {
      failure = error;
    } finally {
      ended = true;
      notifyReader();
    }
  })();
  try {
    for (;;) {
      if (queue.length === 0) {
        if (ended) break;
        await new Promise<void>((resolve) => (wakeReader = resolve));
        continue;
      }
      // Let the rest of the socket read that brought this message reach the queue first.
      if (queue.length < maxBatch && !ended) await new Promise((resolve) => setImmediate(resolve));
      let batch: JsMsg[];
      if (queue.length <= maxBatch) {
        batch = queue;
        queue = [];
      } else {
        batch = queue.slice(0, maxBatch);
        queue = queue.slice(maxBatch);
      }
      const wake = wakePump;
      wakePump = undefined;
      wake?.();
      yield batch;
    }
    if (failure !== undefined) throw failure;
  } finally {
    // The pump must be running for close() to complete: nats.js runs its stop inside the iterator.
    closing = true;
    wakePump?.();
    const closed = messages.close().catch(() => undefined);
    await pump;
    await closed;
  }
}
