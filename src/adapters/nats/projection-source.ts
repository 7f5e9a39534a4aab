/**
 * `ProjectionSource` on a durable JetStream pull consumer (definition: `projectionConsumerConfig` in
 * streams/definitions.ts). The projection's own stored sequence is the truth; the durable is only a
 * delivery cursor, so `run(fromSeq)` first makes sure the durable exists and sits exactly at `fromSeq`
 * (its delivered and ack-floor sequences both equal `fromSeq - 1`), deleting and recreating it otherwise.
 * Recreating rather than waiting also means messages a crashed process had in flight are redelivered at
 * once instead of after `ack_wait`.
 *
 * Batching is self-adjusting (see batches.ts): a batch is whatever arrived while the previous batch's
 * handler ran (capped at `maxBatch`): one event at a time when idle, thousands when behind.
 *
 * Acknowledgement: the durable uses AckAll (see definitions.ts), and a batch is acknowledged by acking its
 * last message once `handle` resolved; that covers every earlier message. The batches handled within
 * `ACK_EVERY_MS` share one such ack (sent when the interval is up, or when the session ends). A batch whose handler rejects is
 * not acknowledged: the source backs off, re-positions the durable at the first unhandled sequence and
 * delivers it again. Redeliveries of already-handled sequences are dropped here (and the projections are
 * idempotent on the sequence anyway).
 *
 * Gaps: the stream has none, so a delivery past `next` means the durable handed the sequences between to a
 * pull we never received (a partition or a lost node mid-pull). The source never acknowledges past such a gap:
 * it handles what came before it, ends the session, and the durable is re-positioned at `next`.
 *
 * Reconnects: nats.js re-issues pulls after a reconnect; if the consumer or stream disappears
 * (a NATS restart without its store, an operator deleting it), the session ends and the loop recreates
 * the durable at the position it knows, retrying with backoff until it succeeds or `signal` aborts.
 *
 * A handler rejecting with `ProjectionHalted` (a permanent failure) ends `run` with that error: no retry.
 *
 * One process per projection: two processes sharing one durable would each receive part of the stream.
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { ConsumerInfo, ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { jetStreamManagerOf } from './connect.ts';
import type { ProjectionSource, StoredEvent } from '../../ports/event-log.ts';
import type { Names } from '../../domain/names.ts';
import { projectionConsumerConfig } from '../../../streams/definitions.ts';
import { batchMessages } from './batches.ts';
import { PULL_EXPIRES_MS, STALL_CHECK_MS } from './event-stream.ts';
import { startStallWatchdog } from './stall-watchdog.ts';
import { DurableRecovery } from '../../domain/stall-detector.ts';
import { DecodeSkips, ReadBounds, toStoredEvent, type EventCheck } from './stored-event.ts';
import { createResizeTimeline } from './resize-timeline.ts';
import { UnknownEventKind } from '../../../proto/event-codec.ts';
import type { EventBounds } from '../../../proto/event-codec.ts';
import { sleep } from '../../app/sleep.ts';
import { ProjectionHalted } from '../../ports/errors.ts';

export interface ProjectionSourceOptions {
  /** The canvas every event is checked against (stored-event.ts); from `eventBoundsOf(spec)`. */
  readonly canvas: EventBounds;
  /** Largest batch handed to the handler (default 5000). */
  readonly maxBatch?: number;
  /** Messages per pull request (default 10 000); bounds what the client buffers. */
  readonly pullMessages?: number;
  /** Longest wait between retries after a failure (default 5000 ms). */
  readonly maxBackoffMs?: number;
}

/** The config fields that, when they differ from the definition, make us recreate the durable. */
const COMPARED = ['ack_policy', 'filter_subject', 'max_ack_pending', 'ack_wait'] as const;

/**
 * Longest a handled batch waits for its acknowledgement (ms). AckAll: one ack of the last handled message covers
 * every earlier one, so the batches of this interval share one; with one event per batch (a projector keeping
 * up at a few thousand a second) acking each was a message per event for nats-server (issue 13). Far below
 * the durable's `ack_wait` (30 s) and `max_ack_pending` at any rate the stream takes; handling is not delayed.
 */
export const ACK_EVERY_MS = 50;

export function createNatsProjectionSource(
  nc: NatsConnection,
  names: Names,
  consumerName: string,
  logger: Logger,
  options: ProjectionSourceOptions,
): ProjectionSource {
  const check: EventCheck = { bounds: options.canvas, names, reader: consumerName };
  const maxBatch = options.maxBatch ?? 5000;
  const pullMessages = options.pullMessages ?? 10_000;
  const maxBackoffMs = options.maxBackoffMs ?? 5000;
  const log = logger.child({ adapter: 'projection-source', consumer: consumerName });
  const js = jetstream(nc);
  const manager = jetStreamManagerOf(nc);
  const streamLastSeq = async () => (await (await manager()).streams.info(names.stream)).state.last_seq;
  /** Errors thrown by the projection's handler, as opposed to the delivery's. */
  const handlerErrors = new WeakSet<object>();
  const timeline = createResizeTimeline(manager, names, check.bounds, streamLastSeq);

  /** Makes sure the durable exists and will deliver `fromSeq` next; returns its info. */
  async function ensure(fromSeq: number, replace: boolean): Promise<ConsumerInfo> {
    const jsm = await manager();
    const wanted = projectionConsumerConfig(consumerName, names, fromSeq);
    let current: ConsumerInfo | undefined;
    if (replace) {
      log.warn({ fromSeq }, 'replacing a durable consumer that stopped delivering or answering');
      await deleteDurable(jsm);
      return jsm.consumers.add(names.stream, wanted);
    }
    try {
      current = await jsm.consumers.info(names.stream, consumerName);
    } catch (error) {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    }
    if (current !== undefined) {
      const positioned = current.delivered.stream_seq === fromSeq - 1 && current.ack_floor.stream_seq === fromSeq - 1;
      const sameConfig = COMPARED.every((key) => JSON.stringify(current.config[key]) === JSON.stringify(wanted[key]));
      if (positioned && sameConfig) return current;
      log.info(
        { fromSeq, delivered: current.delivered.stream_seq, ackFloor: current.ack_floor.stream_seq, sameConfig },
        "re-positioning durable consumer at the projection's stored sequence",
      );
      await deleteDurable(jsm);
    }
    return jsm.consumers.add(names.stream, wanted);
  }

  async function deleteDurable(jsm: JetStreamManager): Promise<void> {
    await jsm.consumers.delete(names.stream, consumerName).catch((error: unknown) => {
      if (!(error instanceof JetStreamApiError && error.code === JetStreamApiCodes.ConsumerNotFound)) throw error;
    });
  }

  /**
   * One consume session; returns the next expected sequence when the session ends (abort, lost consumer, a
   * gap, or a stall: `stalled`).
   */
  async function session(
    next: number,
    handle: (batch: readonly StoredEvent[]) => Promise<void>,
    signal: AbortSignal,
    progress: (next: number) => void,
  ): Promise<{ readonly next: number; readonly stalled: boolean }> {
    let stalled = false;
    const consumer = await js.consumers.get(names.stream, consumerName);
    const messages: ConsumerMessages = await consumer.consume({ max_messages: pullMessages, expires: PULL_EXPIRES_MS });
    const onAbort = () => void messages.close();
    signal.addEventListener('abort', onAbort, { once: true });
    void (async () => {
      for await (const status of messages.status()) {
        if (
          status.type === 'consumer_deleted' ||
          status.type === 'consumer_not_found' ||
          status.type === 'stream_not_found'
        ) {
          log.warn({ status: status.type }, 'durable consumer lost; recreating it');
          void messages.close();
          return;
        }
      }
    })().catch(() => undefined);
    // After a whole-cluster outage or the loss of the consumer's node our pull can be lost without any status
    // event (measured: the history projector sat idle ~15 s with the stream ahead). A stall ends this
    // session; `run` re-positions the durable and starts a new one.
    let handling = false;
    let iterating = false;
    const watchdog = startStallWatchdog({
      periodMs: STALL_CHECK_MS,
      progress: () => ({ next, busy: handling }),
      streamLastSeq,
      onStall: (progress, lastSeq) => {
        log.warn(
          { next: progress.next, lastSeq },
          'no delivery while the stream holds more; restarting the consume session',
        );
        stalled = true;
        void messages.close();
      },
    });
    const skips = new DecodeSkips(consumerName);
    // The last handled message not acknowledged yet: acked at most ACK_EVERY_MS after it was handled (one timer
    // at a time), and when the session ends, so a restart finds the durable where the projection is.
    let unacked: JsMsg | undefined;
    let ackedAt = 0;
    let ackTimer: ReturnType<typeof setTimeout> | undefined;
    const ackNow = () => {
      if (ackTimer !== undefined) clearTimeout(ackTimer);
      ackTimer = undefined;
      const msg = unacked;
      unacked = undefined;
      if (msg === undefined) return;
      msg.ack();
      ackedAt = Date.now();
    };
    const acknowledge = (msg: JsMsg) => {
      unacked = msg;
      const since = Date.now() - ackedAt;
      if (since >= ACK_EVERY_MS) ackNow();
      else ackTimer ??= setTimeout(ackNow, ACK_EVERY_MS - since);
    };
    try {
      // The size in force before `next`; each resize of the session grows it (stored-event.ts).
      const bounds = new ReadBounds((await timeline.sizeAt(next - 1)).size, check.bounds.colors);
      if (signal.aborted) return { next, stalled };
      iterating = true;
      for await (const msgs of batchMessages(messages, maxBatch)) {
        const batch: StoredEvent[] = [];
        /** The last message of the gap-free run starting at `next`: acking it acknowledges the batch. */
        let lastInOrder: JsMsg | undefined;
        let skippedTo: number | undefined;
        for (const msg of msgs) {
          const seq = msg.info.streamSequence;
          if (seq < next) continue; // a redelivery of something already handled
          if (seq > next) {
            // The stream has no gaps (deny_delete, never purged), so the durable delivered next…seq-1 to a pull
            // that never reached us (a partition, a node lost mid-pull). They would come back only after
            // ack_wait, and acking anything past them would acknowledge them too (AckAll): never ack past the
            // gap; end the session after what we hold, and `run` re-positions the durable at `next`.
            skippedTo = seq;
            break;
          }
          let stored: StoredEvent | null;
          try {
            stored = toStoredEvent(msg, check, skips, bounds);
          } catch (error) {
            if (!(error instanceof UnknownEventKind)) throw error;
            // Redelivering cannot help: this reader must be upgraded. What came before it is handled first.
            if (batch.length > 0) await handle(batch);
            throw new ProjectionHalted(`${consumerName} stops at sequence ${seq}: ${error.message}`, seq, {
              cause: error,
            });
          }
          if (stored !== null) batch.push(stored);
          lastInOrder = msg;
          next = seq + 1;
        }
        skips.flush(log, names.stream);
        if (batch.length > 0) {
          handling = true;
          try {
            await handle(batch);
          } catch (error) {
            // Not acknowledged: the caller re-positions at the first sequence of this batch.
            progress((batch[0] as StoredEvent).seq);
            if (typeof error === 'object' && error !== null) handlerErrors.add(error);
            throw error;
          } finally {
            handling = false;
          }
        }
        // AckAll: acking the last in-order message acknowledges the whole batch (and the unacknowledged ones
        // before it); never a message past a gap, so neither is the deferred ack.
        if (lastInOrder !== undefined) acknowledge(lastInOrder);
        progress(next);
        if (skippedTo !== undefined) {
          log.warn({ next, delivered: skippedTo }, 'delivery skipped sequences; re-positioning the durable');
          break;
        }
        if (signal.aborted) break;
      }
      return { next, stalled };
    } finally {
      ackNow(); // what was handled; a batch whose handler rejected never was `unacked`
      watchdog.stop();
      signal.removeEventListener('abort', onAbort);
      // As in event-stream.ts: close() of an iterator never pulled (aborted during set-up) never settles in
      // nats.js 3.4, which hung `run` forever; its subscription and timers are released synchronously anyway.
      const closing = messages.close().catch(() => undefined);
      if (iterating) await closing;
    }
  }

  async function run(
    fromSeq: number,
    handle: (batch: readonly StoredEvent[]) => Promise<void>,
    signal: AbortSignal,
  ): Promise<void> {
    let next = Math.max(1, Math.floor(fromSeq));
    let failures = 0;
    const recovery = new DurableRecovery();
    while (!signal.aborted) {
      try {
        // A durable whose own Raft group lost its way (seen after leader changes and partitions: pulls
        // accepted and never served, info requests timing out; nats-server #4736, #6290, #8036) is not healed
        // by asking it again: after a second stall at the same sequence, or three failures in a row, it is
        // deleted and created anew at `next` (the projection's stored sequence is the truth).
        await ensure(next, recovery.shouldReplace(next));
        failures = 0;
        const ended = await session(next, handle, signal, (n) => {
          next = n;
        });
        recovery.ended(ended.next, ended.stalled);
      } catch (error) {
        if (signal.aborted) break;
        if (error instanceof ProjectionHalted) throw error; // permanent: redelivering cannot help
        failures++;
        // The projection's own store failing says nothing about the durable.
        if (!(typeof error === 'object' && error !== null && handlerErrors.has(error))) recovery.failed();
        const waitMs = Math.min(maxBackoffMs, 100 * 2 ** Math.min(failures, 10));
        log.warn({ err: error, next, retryInMs: waitMs }, 'projection delivery failed; retrying');
        await sleep(waitMs, signal);
      }
    }
  }

  return { run };
}
