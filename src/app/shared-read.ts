/**
 * One live read of the stream shared by every projection of one process (`npm start`), each projection
 * keeping its own position: a `ProjectionSource` per projection over ONE ordered read (issue 13). With a
 * durable consumer per projection, nats-server delivered every event once per role and tracked two durables'
 * acknowledgements, and this process received and decoded every event once per consumer.
 *
 * How a projection's `run(fromSeq)` gets every event from `fromSeq` on, in order, none twice:
 * 1. It joins the live read. From then on every batch the live read yields is appended to the projection's
 *    buffer; `joinedAt`, the live read's next sequence when it joined, is where the buffer starts.
 * 2. What lies before (`fromSeq ≤ seq < joinedAt`) it reads on its own (a bounded `EventStream.read`).
 * 3. Then it handles its buffer: whatever accumulated while its last batch was handled, at most `maxBatch`.
 * Events below its position are dropped (the buffer may start before it), so nothing is handled twice.
 *
 * Bounds: the live read never waits for a projection. One whose buffer would pass `maxBuffered` (a slow
 * store: Postgres down) is dropped from it and repeats 1–3 from its position, so memory stays bounded and
 * the other projection is not held back. A handler that rejects gets the same batch again (1–3 from the
 * batch's first sequence, after a backoff), as the durable consumer redelivers; `ProjectionHalted` ends `run`.
 * The projections' stores hold their positions (the truth, as with the durables), so after a restart each
 * starts again from its own.
 *
 * The live read starts at the stream's end when the first projection joins and follows it until `close`; a
 * failed read (a NATS restart) resumes from its next sequence after `pauseMs`, so the buffers stay gap-free.
 * An event of a kind this reader does not know (`UnknownEventKind`) halts every projection at it, as the
 * durable source does.
 */
import { UnknownEventKind } from '../../proto/event-codec.ts';
import { ProjectionHalted } from '../ports/errors.ts';
import type { EventStream, ProjectionSource, StoredEvent } from '../ports/event-log.ts';
import { sleep } from './sleep.ts';

export interface SharedReadOptions {
  /** Events a projection may have waiting before it is dropped back to reading on its own (default 50,000). */
  readonly maxBuffered?: number;
  /** Pause before the live read resumes after a failure (default 500 ms). */
  readonly pauseMs?: number;
  /** Longest wait between a projection's retries after a failed batch (default 5,000 ms). */
  readonly maxBackoffMs?: number;
  /** A failure that is retried: the live read's (it resumes) or a projection's batch (delivered again). */
  readonly onError?: (error: unknown, what: string) => void;
}

export interface SharedRead {
  /** A source for one projection: batches of at most `maxBatch` events (default 4,096). */
  source(options?: { readonly maxBatch?: number }): ProjectionSource;
  /** Stops the live read; a source's `run` then ends (each also ends with its own signal). */
  close(): Promise<void>;
}

/** A projection joined to the live read. */
interface Member {
  /** Events from the live read not handled yet, ascending and gap-free from where it joined. */
  buffer: StoredEvent[];
  /** Dropped from the live read (its buffer would have passed `maxBuffered`): it rejoins from its position. */
  dropped: boolean;
  wake: (() => void) | undefined;
}

/** `promise` settled, or `signal` aborted, whichever comes first; never rejects. */
function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    promise.then(done, done);
  });
}

const wakeUp = (member: Member): void => {
  const wake = member.wake;
  member.wake = undefined;
  wake?.();
};

export function createSharedRead(stream: EventStream, options: SharedReadOptions = {}): SharedRead {
  const maxBuffered = options.maxBuffered ?? 50_000;
  const pauseMs = options.pauseMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const members = new Set<Member>();
  const stop = new AbortController();
  /** The live read's next sequence; null until it started. */
  let position: number | null = null;
  /** The live read met an event this reader cannot decode, at or after this sequence: it stopped there. */
  let halted: { readonly seq: number; readonly error: UnknownEventKind } | null = null;
  let started: Promise<void> | undefined;
  let live: Promise<void> = Promise.resolve();

  const deliver = (batch: readonly StoredEvent[]) => {
    position = (batch[batch.length - 1] as StoredEvent).seq + 1;
    for (const member of members) {
      if (member.dropped) continue;
      if (member.buffer.length + batch.length > maxBuffered) {
        member.dropped = true;
        member.buffer = [];
      } else for (const event of batch) member.buffer.push(event);
      wakeUp(member);
    }
  };

  async function follow(): Promise<void> {
    while (!stop.signal.aborted) {
      try {
        for await (const batch of stream.read(position as number, { signal: stop.signal }))
          if (batch.length > 0) deliver(batch);
      } catch (error) {
        if (stop.signal.aborted) break;
        if (error instanceof UnknownEventKind) {
          halted = { seq: position as number, error };
          for (const member of members) wakeUp(member);
          return;
        }
        options.onError?.(error, 'the shared read of the stream failed; resuming from its next sequence');
      }
      await sleep(pauseMs, stop.signal);
    }
  }

  /** Starts the live read at the stream's end (once); resolves when it runs or the shared read was closed. */
  function start(): Promise<void> {
    started ??= (async () => {
      for (let failures = 1; !stop.signal.aborted; failures++) {
        try {
          position = (await stream.lastSeq()) + 1;
          live = follow();
          return;
        } catch (error) {
          options.onError?.(error, 'the shared read cannot find the end of the stream; retrying');
          await sleep(Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10)), stop.signal);
        }
      }
    })();
    return started;
  }

  const halt = (seq: number, error: UnknownEventKind) =>
    new ProjectionHalted(`the shared read stops at sequence ${seq}: ${error.message}`, seq, { cause: error });

  function source({ maxBatch = 4096 }: { readonly maxBatch?: number } = {}): ProjectionSource {
    return {
      async run(fromSeq, handle, signal) {
        let next = Math.max(1, Math.floor(fromSeq));
        let member: Member | undefined;
        const onAbort = () => {
          if (member) wakeUp(member);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        stop.signal.addEventListener('abort', onAbort, { once: true });
        const ended = () => signal.aborted || stop.signal.aborted;
        /** Handles the events of `batch` from `next` on, `maxBatch` at a time; `next` follows each. */
        const handleFrom = async (batch: readonly StoredEvent[]) => {
          let from = 0;
          while (from < batch.length && (batch[from] as StoredEvent).seq < next) from++;
          for (let i = from; i < batch.length && !ended(); i += maxBatch) {
            const slice = i === 0 && batch.length <= maxBatch ? batch : batch.slice(i, i + maxBatch);
            await handle(slice);
            next = (slice[slice.length - 1] as StoredEvent).seq + 1;
          }
        };
        let failures = 0;
        try {
          while (!ended()) {
            const joined: Member = { buffer: [], dropped: false, wake: undefined };
            try {
              await untilAborted(start(), signal);
              if (ended()) break;
              // Joined in the same turn as `position` is read: the buffer holds every event from `joinedAt` on.
              const joinedAt = position as number;
              member = joined;
              members.add(joined);
              if (next < joinedAt)
                for await (const batch of stream.read(next, { untilSeq: joinedAt - 1, signal })) {
                  await handleFrom(batch);
                  failures = 0;
                }
              while (!ended() && !joined.dropped) {
                if (joined.buffer.length === 0) {
                  if (halted !== null) throw halt(halted.seq, halted.error);
                  await new Promise<void>((resolve) => (joined.wake = resolve));
                  continue;
                }
                const all = joined.buffer;
                const batch = all.length <= maxBatch ? all : all.slice(0, maxBatch);
                joined.buffer = all.length <= maxBatch ? [] : all.slice(maxBatch);
                await handleFrom(batch);
                failures = 0;
              }
            } catch (error) {
              if (ended()) break;
              if (error instanceof ProjectionHalted) throw error;
              if (error instanceof UnknownEventKind) throw halt(next, error); // met by its own read
              failures++;
              options.onError?.(error, 'a projection batch failed; delivering it again');
              await sleep(Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10)), signal);
            } finally {
              members.delete(joined);
            }
          }
        } finally {
          signal.removeEventListener('abort', onAbort);
          stop.signal.removeEventListener('abort', onAbort);
        }
      },
    };
  }

  return {
    source,
    async close() {
      stop.abort();
      await live;
    },
  };
}
