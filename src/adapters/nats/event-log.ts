/**
 * The event log's append path on JetStream, pipelined.
 *
 * `js.publish` from @nats-io/jetstream does a request per message: a muxed-inbox request object, a
 * timer, and an `Error` built up front for its stack trace. Measured on this machine that caps out far
 * below what the server takes (see BENCHMARKS.md, "placements"). Here instead:
 * - one wildcard subscription `<inbox>.*` receives every PubAck;
 * - each append is a plain core publish to the event's subject, with header `Nats-Msg-Id` (the server
 *   deduplicates within the stream's duplicate window) and the reply subject `<inbox>.<token>`;
 * - timeouts are found by one periodic sweep over the pending map (insertion order = deadline order,
 *   because every append has the same timeout), not by a timer per request;
 * - a disconnect or close rejects everything pending, and appends made while disconnected fail at once
 *   instead of sitting in the client's reconnect buffer (where they could land in the stream long after
 *   the caller was told `unavailable` and refunded).
 *
 * Every failure is a `LogUnavailable`: a 503 status reply (no responders: the stream does not exist or
 * JetStream is down), a PubAck carrying `error`, a timeout, a lost connection.
 */
import { headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/nats-core';
import { encodeEvent, EventKind } from '../../../proto/event-codec.ts';
import type { Names } from '../../domain/names.ts';
import { connectionInbox } from './connect.ts';
import { LogUnavailable } from '../../ports/errors.ts';
import type { AppendResult, EventLog } from '../../ports/event-log.ts';

export interface JetStreamEventLogOptions {
  /** How long an append waits for its PubAck before failing with `LogUnavailable`. */
  readonly timeoutMs: number;
  /** Most appends awaiting their PubAck at once; beyond it an append fails at once (default 100,000). */
  readonly maxPending?: number;
}

interface Pending {
  readonly deadline: number;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: LogUnavailable) => void;
}

interface PubAckJson {
  stream?: string;
  seq?: number;
  duplicate?: boolean;
  error?: { code?: number; err_code?: number; description?: string };
}

export function createJetStreamEventLog(
  nc: NatsConnection,
  names: Names,
  options: JetStreamEventLogOptions,
): EventLog & { close(): Promise<void> } {
  const maxPending = options.maxPending ?? 100_000;
  const inbox = connectionInbox(nc);
  const prefixLength = inbox.length + 1;
  const pending = new Map<string, Pending>();
  let nextToken = 0;
  let connected = !nc.isClosed();
  // One headers object for every append: nats.js encodes headers synchronously inside publish(), so the
  // next append may overwrite the id. Saves an object and a Map per event on the hot path.
  const hdrs = headers();
  let closed = false;

  const failAll = (reason: string): void => {
    if (pending.size === 0) return;
    const entries = [...pending.values()];
    pending.clear();
    for (const p of entries) p.reject(new LogUnavailable(reason));
  };

  const onAck = (msg: Msg): void => {
    const token = msg.subject.slice(prefixLength);
    const waiter = pending.get(token);
    if (!waiter) return; // already timed out or failed: the caller has its answer
    pending.delete(token);
    const status = msg.headers?.code ?? 0;
    if (status !== 0 && status !== 200) {
      const detail =
        status === 503
          ? 'no responders: the stream does not exist or JetStream is down'
          : (msg.headers?.description ?? '');
      waiter.reject(new LogUnavailable(`append to ${names.stream} failed: status ${status} ${detail}`.trim()));
      return;
    }
    let ack: PubAckJson;
    try {
      ack = JSON.parse(msg.string()) as PubAckJson;
    } catch (cause) {
      waiter.reject(new LogUnavailable(`append to ${names.stream}: unreadable PubAck`, { cause }));
      return;
    }
    if (ack.error || typeof ack.seq !== 'number') {
      const e = ack.error;
      waiter.reject(
        new LogUnavailable(
          `append to ${names.stream} refused: ${e?.description ?? 'no sequence in PubAck'} (code ${e?.code ?? '?'}, err_code ${e?.err_code ?? '?'})`,
        ),
      );
      return;
    }
    waiter.resolve({ seq: ack.seq, duplicate: ack.duplicate === true });
  };

  const sub: Subscription = nc.subscribe(`${inbox}.*`, {
    callback: (err, msg) => {
      if (err) failAll(`PubAck subscription failed: ${err.message}`);
      else onAck(msg);
    },
  });

  const sweepEveryMs = Math.max(10, Math.min(250, Math.floor(options.timeoutMs / 4)));
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [token, p] of pending) {
      if (p.deadline > now) break; // insertion order is deadline order
      pending.delete(token);
      p.reject(new LogUnavailable(`append to ${names.stream} not acknowledged within ${options.timeoutMs} ms`));
    }
  }, sweepEveryMs);
  sweep.unref();

  const status = nc.status();
  void (async () => {
    for await (const s of status) {
      if (s.type === 'disconnect' || s.type === 'staleConnection' || s.type === 'close') {
        connected = false;
        failAll(`connection to NATS lost (${s.type})`);
      } else if (s.type === 'reconnect') {
        connected = true;
      }
    }
  })().catch(() => undefined);
  void nc.closed().then(() => {
    connected = false;
    failAll('NATS connection closed');
  });

  return {
    append(event, messageId) {
      if (closed) return Promise.reject(new LogUnavailable('event log is closed'));
      if (!connected || nc.isClosed()) return Promise.reject(new LogUnavailable('not connected to NATS'));
      if (pending.size >= maxPending)
        return Promise.reject(new LogUnavailable(`${maxPending} appends already await their acknowledgement`));
      const payload = encodeEvent(event);
      hdrs.set('Nats-Msg-Id', messageId);
      const token = (nextToken++).toString(36);
      return new Promise<AppendResult>((resolve, reject) => {
        pending.set(token, { deadline: Date.now() + options.timeoutMs, resolve, reject });
        try {
          nc.publish(
            event.kind === EventKind.PixelRestored
              ? names.moderationSubject(event.x, event.y)
              : names.pixelSubject(event.x, event.y),
            payload,
            { headers: hdrs, reply: `${inbox}.${token}` },
          );
        } catch (cause) {
          pending.delete(token);
          reject(
            new LogUnavailable(`append to ${names.stream} could not be published: ${(cause as Error).message}`, {
              cause,
            }),
          );
        }
      });
    },

    async close() {
      if (closed) return;
      closed = true;
      clearInterval(sweep);
      // The status iterator is a QueuedIterator at runtime (it has `stop`); its declared type is only AsyncIterable.
      (status as typeof status & { stop?: () => void }).stop?.();
      failAll('event log closed');
      if (!nc.isClosed()) sub.unsubscribe();
    },
  };
}
