/**
 * `readPixels` (the edges' live tail) on the JetStream pull protocol spoken directly over one core
 * subscription, without nats.js's consumer layer.
 *
 * Why: with no WebSocket client the edge's CPU is almost all spent receiving the stream, and nats.js's
 * ordered consumer adds to every message a `JsMsg`, a split of its reply subject into eleven strings, an
 * idle-heartbeat bookkeeping call and a hop through an async iterator, then our pump (batches.ts) another.
 * Measured with `npm run bench -- edge-tail` (BENCHMARKS.md, "fanout"): the bare protocol costs about
 * 7 µs less per event than a bare nats.js ordered consumer. Here each message is checked and written into
 * the batch's columns inside the subscription callback; the reader is woken once per socket read. The
 * messages of the tail's inbox are read straight from the socket's bytes, under nats.js's parser
 * (fast-delivery.ts: no `Msg`, no string per message); status messages and anything unexpected still come
 * through nats.js's subscription callback, which handles them as before.
 *
 * Same guarantees as the ordered consumer in event-stream.ts: an ephemeral AckNone R1 memory consumer from
 * the next needed sequence; its delivery sequence must advance by exactly one, or the consumer is replaced
 * from the next stream sequence (in order, gap-free, no duplicate: sequences below `next` are dropped). It is
 * also replaced on a 409 status (consumer deleted, leadership change), on a reconnect, when two idle
 * heartbeats are missed, and when the stall watchdog sees the stream hold events it does not deliver.
 * Failing to create a consumer ends the read with the error (the edge feed retries after a pause); a consumer
 * replaced before it delivered anything is followed by a 500 ms pause, never a tight loop.
 *
 * A pull counts as ended at its own deadline (its `expires` plus a grace) even without the server's 408:
 * nats-server 2.9.10 silently drops a pull that expires as a message is due (see `pull`, issue 13).
 *
 * Flow control: the events asked for and not yet taken by the reader never exceed `pullMessages`, so at most
 * that many wait beside the batch the reader holds, however slow it is. The live tail has one pull request
 * at a time, for `pullMessages`, the next sent only once it is used up and the reader has taken what it
 * delivered; a bounded read (`untilSeq`) keeps `boundedPulls` (2) of that share of the size open, the next
 * asked for as the reader takes a batch, so the server is not idle while a request travels.
 */
import { AckPolicy, DeliverPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { nanos, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import type { Logger } from 'pino';
import type { PixelBatch } from '../../ports/event-log.ts';
import type { Names } from '../../domain/names.ts';
import { connectionInbox, jetStreamManagerOf } from './connect.ts';
import { sleep } from '../../app/sleep.ts';
import { startStallWatchdog } from './stall-watchdog.ts';
import { deliverFast, type FastMessage } from './fast-delivery.ts';
import type { SubjectClass } from '../../../proto/event-codec.ts';
import { DecodeSkips, PixelColumns, type EventCheck, type ReadBounds } from './stored-event.ts';

export interface PixelTailOptions {
  readonly untilSeq?: number;
  readonly signal?: AbortSignal;
  /** What every event is checked against (stored-event.ts). */
  readonly check: EventCheck;
  /** The size in force before `fromSeq`, grown by each resize the read meets (stored-event.ts). */
  readonly bounds: ReadBounds;
  readonly pullMessages: number;
  /** Read the inbox from the socket's bytes (fast-delivery.ts) rather than through nats.js's `Msg`. */
  readonly fastDelivery: boolean;
  /** Pulls a bounded read keeps open (each for `pullMessages / boundedPulls`); the live tail has one. */
  readonly boundedPulls: number;
  /** How long a pull waits on the server; heartbeats come every half of it. */
  readonly expiresMs: number;
  /**
   * A bounded read that delivers no new sequence for this long while it waits on the server (the reader's own
   * time with a batch not counted), across every consumer it replaces, ends with `BoundedReadStalled` instead
   * of replacing consumers for ever. Unset: no limit (the live tail, and the roles' bounded reads, which retry).
   */
  readonly boundedStallLimitMs?: number;
  readonly stallCheckMs: number;
  readonly logger?: Pick<Logger, 'warn'>;
  /** The stream's last sequence (stall watchdog). */
  lastSeq(): Promise<number>;
  /** The connection's JetStream manager (the event stream's `jetStreamManagerOf`); default: one of its own. */
  readonly manager?: () => Promise<JetStreamManager>;
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

/** Where `parseAckSubject` puts what it read (one object for every message: the tail's hot path). */
export const parsedAck = { streamSeq: 0, deliverySeq: 0, storedAtMs: 0 };

const encoder = new TextEncoder();

/**
 * Reads the stream and delivery sequences and the stored timestamp (`<ts>`, ns since the epoch, read to
 * whole ms) of a JetStream reply subject, in either of its layouts, into `parsedAck`; false when `reply` is
 * not one. (`parseAckBytes` on its UTF-8 bytes: the one reading of the layout.)
 */
export function parseAckSubject(reply: string): boolean {
  // Into one scratch buffer: a new array per message showed in the edge's profile (~1.5 % of its CPU).
  if (reply.length <= ACK_SCRATCH.length) {
    const { read, written } = encoder.encodeInto(reply, ACK_SCRATCH);
    if (read === reply.length) return parseAckBytes(ACK_SCRATCH, 0, written);
  }
  const bytes = encoder.encode(reply);
  return parseAckBytes(bytes, 0, bytes.length);
}

/** Reply subjects are ~100 bytes; one longer than this takes `encode`. */
const ACK_SCRATCH = new Uint8Array(256);

const DOT = 46;
/** `$JS.ACK.` */
const ACK_PREFIX = encoder.encode('$JS.ACK.');

/**
 * `parseAckSubject` of a reply subject still in bytes, `b[from, to)` (the fast delivery's socket read): no
 * substring, string or array per message.
 */
export function parseAckBytes(b: Uint8Array, from: number, to: number): boolean {
  // $JS.ACK.<stream>.<consumer>.<count>.<streamSeq>.<deliverySeq>.<ts>.<pending>                       (9 tokens)
  // $JS.ACK.<domain>.<hash>.<stream>.<consumer>.<count>.<streamSeq>.<deliverySeq>.<ts>.<pending>[.<r>] (11-12)
  if (to - from < ACK_PREFIX.length) return false;
  for (let i = 0; i < ACK_PREFIX.length; i++) if (b[from + i] !== ACK_PREFIX[i]) return false;
  let tokens = 1;
  for (let i = from; i < to; i++) if (b[i] === DOT) tokens++;
  if (tokens !== 9 && tokens !== 11 && tokens !== 12) return false;
  // <streamSeq>.<deliverySeq> are the 4th and 3rd tokens from the end (5th and 4th with the random suffix).
  let end = to;
  for (let k = tokens === 12 ? 3 : 2; k > 0; k--) end = lastDot(b, from, end - 1);
  const deliveryStart = lastDot(b, from, end - 1);
  const streamStart = lastDot(b, from, deliveryStart - 1);
  const streamSeq = digits(b, streamStart + 1, deliveryStart);
  const deliverySeq = digits(b, deliveryStart + 1, end);
  // <ts> follows <deliverySeq>; nanoseconds, so its last 6 digits are below a millisecond.
  let tsEnd = end + 1;
  while (tsEnd < to && b[tsEnd] !== DOT) tsEnd++;
  const storedAtMs = tsEnd - end - 1 > 6 ? digits(b, end + 1, tsEnd - 6) : tsEnd > end + 1 ? 0 : -1;
  if (streamSeq < 0 || deliverySeq < 0 || storedAtMs < 0) return false;
  parsedAck.streamSeq = streamSeq;
  parsedAck.deliverySeq = deliverySeq;
  parsedAck.storedAtMs = storedAtMs;
  return true;
}

/** The index of the last `.` at or before `at` (and not before `from`), or `from - 1`. */
function lastDot(b: Uint8Array, from: number, at: number): number {
  let i = at;
  while (i >= from && b[i] !== DOT) i--;
  return i;
}

/** The decimal number in `b[from, to)`, or -1 when it is empty, not all digits, or above 2^53. */
function digits(b: Uint8Array, from: number, to: number): number {
  if (to <= from || to - from > 16) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return Number.isSafeInteger(n) ? n : -1;
}

/** `stalled ×3, reconnected`: each reason once, with its count, in the order first seen. */
function summarise(reasons: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const r of reasons) counts.set(r, (counts.get(r) ?? 0) + 1);
  return [...counts].map(([r, n]) => (n > 1 ? `${r} ×${n}` : r)).join(', ');
}

/** A pull request the server has not finished: what it still owes, when it was sent, its own deadline. */
interface OpenPull {
  remaining: number;
  readonly sentAt: number;
  deadline: ReturnType<typeof setTimeout> | undefined;
}

/**
 * A bounded read gave up (`boundedStallLimitMs`): nothing new arrived for that long. Says where it stopped, the
 * range it was asked for, and why each consumer it replaced was replaced (a consumer create that failed ends a
 * read with that error instead, at once).
 */
export class BoundedReadStalled extends Error {
  override readonly name = 'BoundedReadStalled';
}

let consumerSerial = 0;
const REPLACE_PAUSE_MS = 500;
/** Longest wait for a pull's 408 after its `expires` before the pull counts as ended anyway (see `pull`). */
const PULL_GRACE_MS = 250;

/**
 * With `untilSeq`, the range is clamped to the stream's last sequence at call time (as `read` does): the
 * read ends after min(untilSeq, lastSeq), at once when that is below `fromSeq`.
 */
export async function* readPixelTail(
  nc: NatsConnection,
  names: Names,
  fromSeq: number,
  options: PixelTailOptions,
): AsyncGenerator<PixelBatch> {
  const { signal } = options;
  if (signal?.aborted) return;
  let next = Math.max(1, Math.floor(fromSeq));
  let until: number | undefined;
  if (options.untilSeq !== undefined) {
    until = Math.min(options.untilSeq, await options.lastSeq());
    if (next > until) return;
  }
  // A bounded read (a rebuild, a snapshot tail) keeps two pulls of half the size open, so the server has the
  // next request while it serves the current one (one pull at a time left a full replay idle ~22 % of its time,
  // BENCHMARKS.md "Recovery"); the live tail keeps one pull at a time, as its expiry handling below was written
  // and tested for (issue 13).
  const bounded = until !== undefined;
  const openPulls = bounded ? Math.max(1, Math.floor(options.boundedPulls)) : 1;
  const pullSize = Math.max(1, Math.floor(options.pullMessages / openPulls));
  const check = options.check;
  const manager = options.manager ?? jetStreamManagerOf(nc);
  let fruitless = false;
  // Two column sets: the reader holds one while the callback fills the other.
  let filling = new PixelColumns();
  let held = new PixelColumns();
  const skips = new DecodeSkips(options.check.reader);
  // The bounded stall limit: when a new sequence last arrived (or the reader last handed a batch back), and why
  // each consumer since was replaced.
  const stallLimitMs = bounded ? options.boundedStallLimitMs : undefined;
  let progressAt = Date.now();
  let replacedFor: { reason: string; at: number }[] = [];
  const stalledFor = () => {
    if (stallLimitMs === undefined || Date.now() - progressAt < stallLimitMs) return undefined;
    const since = replacedFor.filter((r) => r.at >= progressAt).map((r) => r.reason);
    const why = since.length > 0 ? `; consumers replaced since: ${summarise(since)}` : '';
    return new BoundedReadStalled(
      `read of ${names.stream} stalled: nothing after seq ${next - 1} for ${Math.round((Date.now() - progressAt) / 1000)} s, ` +
        `though the read runs to seq ${until}${why}`,
    );
  };

  for (;;) {
    if (signal?.aborted) return;
    const stalled = stalledFor();
    if (stalled) throw stalled;
    const jsm = await manager();
    const name = `edge_${process.pid}_${++consumerSerial}_${Date.now().toString(36)}`;
    const inbox = connectionInbox(nc);
    const heartbeatMs = Math.max(1, Math.floor(options.expiresMs / 2));
    let replace: string | undefined; // why this consumer must be replaced by a new one from `next`
    let failure: Error | undefined;
    let done = false;
    let outstanding = 0; // messages asked for and not delivered yet, over every open pull
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
    const pullRequest = JSON.stringify({
      batch: pullSize,
      expires: nanos(options.expiresMs),
      idle_heartbeat: nanos(heartbeatMs),
    });
    // nats-server 2.9.10 (ours; fixed upstream by nats-io/nats-server#3942, merged after 2.9.15) drops a pull whose
    // `expires` passed when the next message is due, WITHOUT the 408: under steady load most pulls end that
    // way, and the tail waited for the stall watchdog (2-3 s, issue 13; test/integration/pixel-tail-load.test.ts
    // reproduced it). So a pull counts as ended at its own deadline, `expiresMs` + a grace for the 408 in
    // flight, whatever the server says; a 408 that arrives while the oldest open pull is younger than
    // `expiresMs` (so it cannot be that pull's) is ignored rather than ending it.
    // The server serves a consumer's pulls in the order they came, so deliveries count against the oldest.
    const pulls: OpenPull[] = [];
    const graceMs = Math.min(PULL_GRACE_MS, Math.max(10, Math.floor(options.expiresMs / 5)));
    const endPull = (p: OpenPull) => {
      const at = pulls.indexOf(p);
      if (at === -1) return;
      pulls.splice(at, 1);
      clearTimeout(p.deadline);
      outstanding -= p.remaining;
    };
    /**
     * Opens pulls while fewer than `openPulls` are open and the unread columns plus what is asked for stay within
     * `pullMessages`: at most that many events wait beside the batch the reader holds, however slow it is.
     */
    const topUp = () => {
      while (pulls.length < openPulls && outstanding + filling.count + pullSize <= options.pullMessages) pull();
    };
    const pull = () => {
      heardAt = Date.now();
      const p: OpenPull = { remaining: pullSize, sentAt: heardAt, deadline: undefined };
      p.deadline = setTimeout(() => {
        if (replace !== undefined || done) return;
        endPull(p);
        wakeReader();
      }, options.expiresMs + graceMs);
      pulls.push(p);
      outstanding += pullSize;
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${names.stream}.${name}`, pullRequest, { reply: inbox });
    };
    /** One delivered event (either path): checked into the columns; false when the read must stop or be replaced. */
    const deliver = (
      data: Uint8Array,
      subjectClass: SubjectClass,
      deliverySeq: number,
      seq: number,
      storedAtMs: number,
    ) => {
      if (deliverySeq !== expectedDelivery) return false;
      heardAt = Date.now();
      expectedDelivery++;
      const oldest = pulls[0];
      if (oldest !== undefined) {
        outstanding--;
        if (--oldest.remaining === 0) {
          clearTimeout(oldest.deadline);
          pulls.shift();
        }
      }
      if (seq >= next) {
        if (until !== undefined && seq > until) done = true;
        else {
          try {
            filling.addEvent(data, subjectClass, seq, storedAtMs, skips, options.bounds);
          } catch (error) {
            failure = error as Error; // UnknownEventKind: the read stops here (stored-event.ts)
            wakeReader();
            return true;
          }
          next = seq + 1;
          progressAt = heardAt;
          if (until !== undefined && seq >= until) done = true;
        }
      }
      if (wake && !wakeScheduled) {
        wakeScheduled = true;
        setImmediate(wakeReader); // after the rest of this socket read reached the columns
      }
      return true;
    };
    const onMessage = (error: Error | null, msg: Msg) => {
      if (replace !== undefined || done || failure) return;
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
          const oldest = pulls[0];
          // Not the oldest open pull's (it is younger than its expiry): an older pull's, ended at its deadline already.
          if (oldest === undefined || Date.now() - oldest.sentAt < options.expiresMs - 1) return;
          endPull(oldest); // expired, or nothing left for a no-wait pull: ask again
          return wakeReader();
        }
        const detail = `status ${code} ${msg.headers?.description ?? ''}`.trim();
        // 409: consumer deleted, leadership change...: a new consumer. Anything else (503: JetStream down,
        // 400) ends the read with an error, so the caller retries after its pause rather than at once.
        if (code === 409) replace = detail;
        else failure = new Error(`pull from ${names.stream} failed: ${detail}`);
        return wakeReader();
      }
      if (
        !parseAckSubject(reply) ||
        !deliver(
          msg.data,
          check.names.subjectClass(msg.subject),
          parsedAck.deliverySeq,
          parsedAck.streamSeq,
          parsedAck.storedAtMs,
        )
      ) {
        replace = `delivery ${reply} where delivery ${expectedDelivery} was expected`;
        wakeReader();
      }
    };
    // The same, from the socket read's bytes (fast-delivery.ts). Declined (nats.js's path, then `onMessage`):
    // status messages (no reply), and anything that is not the next delivery, so `onMessage` says why.
    const onFastMessage = (m: FastMessage) => {
      if (m.replyStart < 0) return false;
      if (replace !== undefined || done || failure) return true; // dropped, as `onMessage` does
      const frame = m.frame;
      return (
        parseAckBytes(frame, m.replyStart, m.replyEnd) &&
        deliver(
          frame.subarray(m.dataStart, m.dataEnd),
          check.names.subjectClassOfBytes(frame, m.subjectStart, m.subjectEnd),
          parsedAck.deliverySeq,
          parsedAck.streamSeq,
          parsedAck.storedAtMs,
        )
      );
    };
    const onAbort = () => wakeReader();
    signal?.addEventListener('abort', onAbort, { once: true });
    let sub: Subscription | undefined;
    let stopFastDelivery: (() => void) | undefined;
    let suspended = false;
    const watchdog = startStallWatchdog({
      periodMs: options.stallCheckMs,
      progress: () => ({ next, busy: suspended }),
      streamLastSeq: options.lastSeq,
      onStall: (progress, streamLast) => {
        options.logger?.warn(
          { stream: names.stream, next: progress.next, lastSeq: streamLast },
          'pixel tail delivers nothing while the stream holds more; replacing its consumer',
        );
        replace ??= 'stalled';
        wakeReader();
      },
    });
    const heartbeats = setInterval(
      () => {
        // Only while a pull is open and the reader is not holding a batch: otherwise no heartbeat is due.
        if (!suspended && outstanding > 0 && Date.now() - heardAt > 2 * heartbeatMs + 1_000) {
          replace ??= 'missed heartbeats';
          wakeReader();
        }
        if (!suspended && !failure && replace === undefined && !done) {
          const stalled = stalledFor();
          if (stalled) {
            failure = stalled;
            wakeReader();
          }
        }
      },
      stallLimitMs === undefined ? heartbeatMs : Math.min(heartbeatMs, Math.max(100, stallLimitMs / 10)),
    );
    heartbeats.unref?.();
    const stopWatchingReconnects = options.onReconnect(() => {
      replace ??= 'reconnected';
      wakeReader();
    });
    try {
      sub = nc.subscribe(inbox, { callback: onMessage });
      if (options.fastDelivery) stopFastDelivery = deliverFast(nc, sub.getID(), onFastMessage);
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
      topUp();
      for (;;) {
        if (signal?.aborted) return;
        if (failure && filling.count === 0) throw failure; // what arrived before it is delivered first
        if (filling.count > 0) {
          const batch = filling;
          filling = held;
          filling.reset();
          held = batch;
          skips.flush(options.logger, names.stream);
          // A bounded read asks for more before the reader works on this batch, so the server sends meanwhile.
          if (bounded && !done && replace === undefined && !failure) topUp();
          suspended = true;
          yield batch;
          suspended = false;
          heardAt = Date.now();
          progressAt = heardAt;
          continue;
        }
        skips.flush(options.logger, names.stream);
        if (done || replace !== undefined) break;
        topUp();
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (done) return;
      if (stallLimitMs !== undefined) {
        replacedFor = replacedFor.filter((r) => r.at >= progressAt); // only those since the last progress count
        replacedFor.push({ reason: replace ?? 'unknown', at: Date.now() });
      }
      options.logger?.warn({ stream: names.stream, next, reason: replace }, 'pixel tail replaces its consumer');
    } finally {
      fruitless = expectedDelivery === 1;
      wake = undefined;
      watchdog.stop();
      clearInterval(heartbeats);
      for (const p of pulls) clearTimeout(p.deadline);
      stopWatchingReconnects();
      stopFastDelivery?.();
      signal?.removeEventListener('abort', onAbort);
      sub?.unsubscribe();
      // Not awaited: a consumer on a dead node answers nothing until the request times out.
      void jsm.consumers.delete(names.stream, name).catch(() => undefined);
    }
    // A consumer replaced before it delivered anything: pause, so a server that keeps refusing is not asked
    // again in a tight loop.
    if (fruitless) await sleep(REPLACE_PAUSE_MS, signal ?? new AbortController().signal);
  }
}
