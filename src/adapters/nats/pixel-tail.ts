/**
 * `readPixels` (the edges' live tail) on the JetStream pull protocol spoken directly over one core
 * subscription, without nats.js's consumer layer.
 *
 * Why: with no WebSocket client the edge's CPU is almost all spent receiving the stream, and nats.js's
 * ordered consumer adds to every message a `JsMsg`, a split of its reply subject into eleven strings, an
 * idle-heartbeat bookkeeping call and a hop through an async iterator, then our pump (batches.ts) another.
 * Measured with `npm run bench -- edge-tail` (BENCHMARKS.md, "fanout"): the bare protocol costs about
 * 7 µs less per event than a bare nats.js ordered consumer. Here each message is checked and written into
 * the batch's columns inside the subscription callback; the reader is woken once per socket read.
 *
 * Same guarantees as the ordered consumer in event-stream.ts: an ephemeral AckNone R1 memory consumer from
 * the next needed sequence; its delivery sequence must advance by exactly one, or the consumer is replaced
 * from the next stream sequence (in order, gap-free, no duplicate: sequences below `next` are dropped). It is
 * also replaced on a 409 status (consumer deleted, leadership change), on a reconnect, when two idle
 * heartbeats are missed, and when the stall watchdog sees the stream hold events it does not deliver.
 * Failing to create a consumer ends the read with the error (the edge feed retries after a pause).
 *
 * Flow control: one pull request at a time, for `pullMessages`; the next is sent only once it is used up
 * and the reader has taken what it delivered, so at most `pullMessages` events wait however slow the reader.
 */
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { createInbox, nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { PixelBatch } from '../../app/ports.ts';
import type { Names } from '../../config/names.ts';
import { startStallWatchdog } from './stall-watchdog.ts';
import { DecodeSkips, PixelColumns } from './stored-event.ts';

export interface PixelTailOptions {
  readonly untilSeq?: number;
  readonly signal?: AbortSignal;
  readonly pullMessages: number;
  /** How long a pull waits on the server; heartbeats come every half of it. */
  readonly expiresMs: number;
  readonly stallCheckMs: number;
  readonly logger?: Pick<Logger, 'warn'>;
  /** The stream's last sequence (stall watchdog). */
  lastSeq(): Promise<number>;
  /** Registers a callback for the connection's reconnects; returns its removal (`watchReconnects`). */
  onReconnect(listener: () => void): () => void;
}

/** One status loop per connection, shared by every read on it (the loop ends when the connection closes). */
export function watchReconnects(nc: NatsConnection): (listener: () => void) => () => void {
  const listeners = new Set<() => void>();
  let watching = false;
  return (listener) => {
    listeners.add(listener);
    if (!watching) {
      watching = true;
      void (async () => {
        for await (const s of nc.status()) if (s.type === 'reconnect') for (const l of [...listeners]) l();
      })();
    }
    return () => listeners.delete(listener);
  };
}

/** Stream and delivery sequence from a JetStream reply subject, in either of its two layouts. */
export function parseAckSubject(reply: string): { streamSeq: number; deliverySeq: number } | null {
  // $JS.ACK.<stream>.<consumer>.<count>.<streamSeq>.<deliverySeq>.<ts>.<pending>                       (9 tokens)
  // $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<count>.<streamSeq>.<deliverySeq>.<ts>.<pending>[.<r>] (11-12)
  if (!reply.startsWith('$JS.ACK.')) return null;
  const dots: number[] = [];
  for (let i = reply.indexOf('.'); i !== -1 && dots.length < 12; i = reply.indexOf('.', i + 1)) dots.push(i);
  const tokens = dots.length + 1;
  const first = tokens === 9 ? 5 : tokens === 11 || tokens === 12 ? 7 : -1; // index of the streamSeq token
  if (first === -1) return null;
  const streamSeq = Number(reply.slice((dots[first - 1] as number) + 1, dots[first]));
  const deliverySeq = Number(reply.slice((dots[first] as number) + 1, dots[first + 1]));
  if (!Number.isSafeInteger(streamSeq) || !Number.isSafeInteger(deliverySeq)) return null;
  return { streamSeq, deliverySeq };
}

let consumerSerial = 0;

export async function* readPixelTail(nc: NatsConnection, names: Names, fromSeq: number, options: PixelTailOptions): AsyncGenerator<PixelBatch> {
  const { signal, untilSeq: until } = options;
  let jsm: JetStreamManager | undefined;
  let next = fromSeq;
  // Two column sets: the reader holds one while the callback fills the other.
  let filling = new PixelColumns();
  let held = new PixelColumns();
  const skips = new DecodeSkips();

  for (;;) {
    if (signal?.aborted) return;
    jsm ??= await jetstreamManager(nc);
    const name = `edge_${process.pid}_${++consumerSerial}_${Date.now().toString(36)}`;
    const inbox = createInbox();
    const heartbeatMs = Math.max(1, Math.floor(options.expiresMs / 2));
    let replace: string | undefined; // why this consumer must be replaced by a new one from `next`
    let failure: Error | undefined;
    let done = false;
    let outstanding = 0;
    let expectedDelivery = 1;
    let heardAt = Date.now();
    let wake: (() => void) | undefined;
    let wakeScheduled = false;
    const wakeReader = () => {
      wakeScheduled = false;
      const w = wake;
      wake = undefined;
      w?.();
    };
    const pullRequest = JSON.stringify({ batch: options.pullMessages, expires: nanos(options.expiresMs), idle_heartbeat: nanos(heartbeatMs) });
    const pull = () => {
      outstanding = options.pullMessages;
      heardAt = Date.now();
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${name}`, pullRequest, { reply: inbox });
    };
    const onMessage = (error: Error | null, msg: Msg) => {
      if (replace !== undefined || done) return;
      if (error) {
        failure = error;
        return wakeReader();
      }
      heardAt = Date.now();
      const reply = msg.reply;
      if (!reply) {
        const code = msg.headers?.code ?? 0;
        if (code === 100) return; // idle heartbeat
        if (code === 404 || code === 408) {
          outstanding = 0; // the pull ended (expired, or nothing left for a no-wait pull): ask again
          return wakeReader();
        }
        const detail = `status ${code} ${msg.headers?.description ?? ''}`.trim();
        // 409: consumer deleted, leadership change...: a new consumer. Anything else (503: JetStream down,
        // 400) ends the read with an error, so the caller retries after its pause rather than at once.
        if (code === 409) replace = detail;
        else failure = new Error(`pull from ${names.stream} failed: ${detail}`);
        return wakeReader();
      }
      const delivered = parseAckSubject(reply);
      if (delivered === null || delivered.deliverySeq !== expectedDelivery) {
        replace = delivered === null ? `unexpected reply subject ${reply}` : `delivery ${delivered.deliverySeq}, expected ${expectedDelivery}`;
        return wakeReader();
      }
      expectedDelivery++;
      outstanding--;
      const seq = delivered.streamSeq;
      if (seq >= next) {
        if (until !== undefined && seq > until) done = true;
        else {
          filling.add(msg, seq, skips);
          next = seq + 1;
          if (until !== undefined && seq >= until) done = true;
        }
      }
      if (wake && !wakeScheduled) {
        wakeScheduled = true;
        setImmediate(wakeReader); // after the rest of this socket read reached the columns
      }
    };
    const onAbort = () => wakeReader();
    signal?.addEventListener('abort', onAbort, { once: true });
    let sub: Subscription | undefined;
    let suspended = false;
    const watchdog = startStallWatchdog({
      periodMs: options.stallCheckMs,
      progress: () => ({ next, busy: suspended }),
      streamLastSeq: options.lastSeq,
      onStall: (progress, streamLast) => {
        options.logger?.warn({ stream: names.stream, next: progress.next, lastSeq: streamLast }, 'pixel tail delivers nothing while the stream holds more; replacing its consumer');
        replace ??= 'stalled';
        wakeReader();
      },
    });
    const heartbeats = setInterval(() => {
      // Only while a pull is open and the reader is not holding a batch: otherwise no heartbeat is due.
      if (!suspended && outstanding > 0 && Date.now() - heardAt > 2 * heartbeatMs + 1_000) {
        replace ??= 'missed heartbeats';
        wakeReader();
      }
    }, heartbeatMs);
    heartbeats.unref?.();
    const stopWatchingReconnects = options.onReconnect(() => {
      replace ??= 'reconnected';
      wakeReader();
    });
    try {
      sub = nc.subscribe(inbox, { callback: onMessage });
      await jsm.consumers.add(names.stream, {
        name,
        filter_subject: names.subjects,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: next,
        ack_policy: AckPolicy.None,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(5 * 60_000),
      });
      heardAt = Date.now();
      pull();
      for (;;) {
        if (signal?.aborted) return;
        if (failure) throw failure;
        if (filling.count > 0) {
          const batch = filling;
          filling = held;
          filling.count = 0;
          held = batch;
          skips.flush(options.logger, names.stream);
          suspended = true;
          yield batch;
          suspended = false;
          heardAt = Date.now();
          continue;
        }
        skips.flush(options.logger, names.stream);
        if (done || replace !== undefined) break;
        if (outstanding === 0) pull();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (done) return;
      options.logger?.warn({ stream: names.stream, next, reason: replace }, 'pixel tail replaces its consumer');
    } finally {
      wake = undefined;
      watchdog.stop();
      clearInterval(heartbeats);
      stopWatchingReconnects();
      signal?.removeEventListener('abort', onAbort);
      sub?.unsubscribe();
      // Not awaited: a consumer on a dead node answers nothing until the request times out.
      void jsm.consumers.delete(names.stream, name).catch(() => undefined);
    }
  }
}
