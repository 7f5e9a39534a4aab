/**
 * `EventStream` on a JetStream ordered consumer: no server-side state to manage, the client recreates
 * the (ephemeral, AckNone) consumer at the next sequence when it detects a gap or a lost connection,
 * so delivery is in order and gap-free. Used by rebuilds, the edges' live tail and snapshot tails.
 *
 * Batching (see batches.ts): a batch is whatever arrived by the time the reader asks for more, at most
 * `maxBatch`: large batches while catching up (rebuilds), single events with no added latency when
 * following live; at most about `pullMessages + 2 * maxBatch` messages are buffered however slow the reader.
 *
 * Undecodable messages follow the one rule in `stored-event.ts` (skipped, counted, warned once per batch).
 *
 * `readPixels`, the edges' live tail, reads the same consumer protocol without nats.js's consumer layer and
 * with no object per event (pixel-tail.ts): that per-event cost is most of an edge's CPU with few clients.
 */
import { DeliverPolicy, jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jetStreamManagerOf } from './connect.ts';
import type { EventStream, PixelBatch, StoredEvent } from '../../ports/event-log.ts';
import { LogUnavailable } from '../../ports/errors.ts';
import type { Names } from '../../domain/names.ts';
import { batchMessages } from './batches.ts';
import { DecodeSkips, ReadBounds, toStoredEvent, type EventCheck } from './stored-event.ts';
import { createResizeTimeline } from './resize-timeline.ts';
import type { EventBounds } from '../../../proto/event-codec.ts';
import { startStallWatchdog } from './stall-watchdog.ts';
import { readPixelTail, watchReconnects } from './pixel-tail.ts';

/**
 * How long one pull waits on the server. It also sets the idle heartbeat (half of it), which is how the
 * client notices a pull parked on a dead cluster node: nats.js's 30 s default stalled readers for ~30 s
 * after a node was killed (docs/RELIABILITY.md); 5 s bounds that stall to a few seconds.
 */
export const PULL_EXPIRES_MS = 5_000;

/** How often a reader that received nothing compares with the stream's end (stall-watchdog.ts). */
export const STALL_CHECK_MS = 1_000;

export interface EventStreamOptions {
  /**
   * The canvas every event is checked against (stored-event.ts); from `eventBoundsOf(spec)`: its size is the
   * INITIAL one, each read starts from the size in force at its first sequence (resize-timeline.ts).
   */
  readonly canvas: EventBounds;
  /** `reader` label of `rplace_events_rejected_total` (default `stream`). */
  readonly reader?: string;
  /** Largest batch yielded (default 4096). */
  readonly maxBatch?: number;
  /** Messages requested per pull, which also bounds what the client buffers (default 8192). */
  readonly pullMessages?: number;
  /** Receives the one warn line per batch that contained undecodable (skipped) messages. */
  readonly logger?: Pick<Logger, 'warn'>;
  /**
   * `readPixels` reads its inbox from the socket's bytes (fast-delivery.ts) when true. Default false, through
   * nats.js's parser and `Msg`: with it on, both edges' live tails stopped for good after a kill -9 of the
   * stream leader (fresh-clone CI, 2026-12-01 19:23: every consumer create on the reconnected connection timed
   * out; two local runs with it on passed), so it stays opt-in for every live tail until that is understood. The
   * operator's `rplace rebuild bitmap` turns it on (src/cli/rebuild-read.ts says why a bounded read differs).
   */
  readonly fastDelivery?: boolean;
  /**
   * A bounded `readPixels` that delivers nothing new for this long, across the consumers it replaces, ends with
   * `BoundedReadStalled` rather than waiting for ever (pixel-tail.ts). Default: no limit.
   */
  readonly boundedStallLimitMs?: number;
  /** Pulls a bounded `readPixels` keeps open, each for `pullMessages / n` (default 2; pixel-tail.ts). */
  readonly boundedPulls?: number;
}

interface ReadOptions {
  readonly untilSeq?: number;
  readonly signal?: AbortSignal;
}

export function createNatsEventStream(nc: NatsConnection, names: Names, options: EventStreamOptions): EventStream {
  const check: EventCheck = { bounds: options.canvas, names, reader: options.reader ?? 'stream' };
  const maxBatch = options.maxBatch ?? 4096;
  const pullMessages = options.pullMessages ?? 8192;
  const js = jetstream(nc);
  const manager = jetStreamManagerOf(nc);

  async function lastSeq(): Promise<number> {
    try {
      const info = await (await manager()).streams.info(names.stream);
      return info.state.last_seq;
    } catch (cause) {
      if (cause instanceof JetStreamApiError && cause.code === JetStreamApiCodes.StreamNotFound) {
        throw new LogUnavailable(`stream ${names.stream} does not exist (run: rplace streams apply)`, { cause });
      }
      throw new LogUnavailable(`cannot read stream ${names.stream}: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * With `untilSeq`, the range is clamped to the stream's last sequence at call time, so a read never waits
   * for events that do not exist yet: it ends after min(untilSeq, lastSeq), immediately when that is
   * below `fromSeq` (empty stream included).
   */
  async function* read(fromSeq: number, opts: ReadOptions = {}): AsyncGenerator<readonly StoredEvent[]> {
    const { signal } = opts;
    if (signal?.aborted) return;
    const start = Math.max(1, Math.floor(fromSeq));
    let until: number | undefined;
    if (opts.untilSeq !== undefined) {
      until = Math.min(opts.untilSeq, await lastSeq());
      if (start > until) return;
    }
    let next = start;
    const bounds = new ReadBounds((await timeline.sizeAt(start - 1)).size, check.bounds.colors);
    // Each pass is one ordered consumer from `next`; a stalled one (see stall-watchdog.ts) is replaced.
    for (;;) {
      const consumer = await js.consumers.get(names.stream, {
        filter_subjects: names.subjects,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: next,
      });
      let messages: ConsumerMessages | undefined;
      let stalled = false;
      let iterating = false;
      let suspended = false; // the caller holds a batch: no delivery is expected meanwhile
      const onAbort = () => void messages?.close();
      signal?.addEventListener('abort', onAbort, { once: true });
      const watchdog = startStallWatchdog({
        periodMs: STALL_CHECK_MS,
        progress: () => ({ next, busy: suspended }),
        streamLastSeq: lastSeq,
        onStall: (progress, streamLast) => {
          stalled = true;
          options.logger?.warn(
            { stream: names.stream, next: progress.next, lastSeq: streamLast },
            'ordered consumer delivers nothing while the stream holds more; replacing it',
          );
          void messages?.close();
        },
      });
      const skips = new DecodeSkips(check.reader);
      try {
        messages = await consumer.consume({ max_messages: pullMessages, expires: PULL_EXPIRES_MS });
        if (signal?.aborted) return;
        iterating = true;
        for await (const msgs of batchMessages(messages, maxBatch)) {
          const batch: StoredEvent[] = [];
          let done = false;
          for (const msg of msgs) {
            const seq = msg.info.streamSequence;
            if (seq < next) continue; // already yielded by a consumer this one replaced
            if (until !== undefined && seq > until) {
              done = true;
              break;
            }
            let stored: StoredEvent | null;
            try {
              stored = toStoredEvent(msg, check, skips, bounds);
            } catch (error) {
              // UnknownEventKind (stored-event.ts): the read stops there, after what came before it.
              if (batch.length > 0) yield batch;
              throw error;
            }
            if (stored !== null) batch.push(stored);
            next = seq + 1;
            // Only the sequence ends a bounded read: `pending` can read 0 transiently (a cluster node rejoining),
            // and the stream has no gaps to wait across (deny_delete, never purged), so `until` always arrives.
            if (until !== undefined && seq >= until) {
              done = true;
              break;
            }
          }
          skips.flush(options.logger, names.stream);
          if (batch.length > 0) {
            suspended = true;
            yield batch;
            suspended = false;
          }
          if (done || signal?.aborted) return;
        }
      } finally {
        watchdog.stop();
        signal?.removeEventListener('abort', onAbort);
        // nats.js 3.4 (@nats-io/jetstream): `ConsumerMessages.close()` settles only once the iterator is pulled
        // again; one never iterated (the signal aborted while the consumer was being created) would hang this
        // read forever. Its subscription and timers are released synchronously by close() all the same.
        const closing = messages?.close().catch(() => undefined);
        if (iterating) await closing;
        // Ordered consumers are ephemeral; deleting spares the server 5 minutes of an idle consumer. Not
        // awaited: a consumer on a dead node answers nothing until the request times out.
        void consumer.delete().catch(() => undefined);
      }
      if (!stalled || signal?.aborted) return;
    }
  }

  const onReconnect = watchReconnects(nc);
  /** The edges' live tail: the protocol by hand (pixel-tail.ts); same range rules as `read`. */
  async function* readPixels(fromSeq: number, opts: ReadOptions = {}): AsyncGenerator<PixelBatch> {
    const start = Math.max(1, Math.floor(fromSeq));
    const bounds = new ReadBounds((await timeline.sizeAt(start - 1)).size, check.bounds.colors);
    yield* readPixelTail(nc, names, start, {
      ...opts,
      ...(options.logger ? { logger: options.logger } : {}),
      check,
      bounds,
      pullMessages,
      fastDelivery: options.fastDelivery ?? false,
      boundedPulls: options.boundedPulls ?? 2,
      boundedStallLimitMs: options.boundedStallLimitMs,
      expiresMs: PULL_EXPIRES_MS,
      stallCheckMs: STALL_CHECK_MS,
      lastSeq,
      manager,
      onReconnect,
    });
  }

  const timeline = createResizeTimeline(manager, names, check.bounds, lastSeq);
  return { lastSeq, read, readPixels, sizeAt: (seq) => timeline.sizeAt(seq) };
}
