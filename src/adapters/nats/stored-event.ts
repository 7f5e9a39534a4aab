/**
 * Turning JetStream messages into `StoredEvent`s: the ONE rule every reader of the log follows
 * (bitmap projector, history projector, edges' live tail, rebuilds, snapshot tails).
 *
 * Rule for a message that does not decode (unknown format version or kind, truncated, bad UTF-8):
 * it is SKIPPED, counted, and reported once per batch with a warn log (count, first and last such
 * sequence, the first reason). Why skip rather than stop: every reader applies the same rule through this
 * module, so all projections stay equal to each other and to a rebuild (the golden invariant), while one bad
 * message (published by hand, or by a newer writer) cannot wedge every projection forever. The stream only
 * accepts writes from the placement command, which always encodes with `encodeEvent`, so a skip is an
 * operator-visible anomaly, not a normal path: `skipped` counters let it be alerted on.
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { checkEvent, decodeEvent, eventColor, eventX, eventY } from '../../../proto/event-codec.ts';
import type { PixelBatch, StoredEvent } from '../../app/ports.ts';

const NS_PER_MS = 1_000_000;

/** Collects the messages of one batch that failed to decode, then reports them once. */
export class DecodeSkips {
  /** Total skipped messages since this reader started. */
  total = 0;
  private count = 0;
  private firstSeq = 0;
  private lastSeq = 0;
  private firstReason = '';

  note(seq: number, error: unknown): void {
    if (this.count === 0) {
      this.firstSeq = seq;
      this.firstReason = error instanceof Error ? error.message : String(error);
    }
    this.count++;
    this.total++;
    this.lastSeq = seq;
  }

  /** Logs one warn line for the batch's skips, if any, and resets the batch counters. */
  flush(logger: Pick<Logger, 'warn'> | undefined, source: string): void {
    if (this.count === 0) return;
    logger?.warn(
      { source, skipped: this.count, firstSeq: this.firstSeq, lastSeq: this.lastSeq, reason: this.firstReason, skippedTotal: this.total },
      'skipped events that do not decode',
    );
    this.count = 0;
  }
}

/** Decodes a message into a `StoredEvent`, or returns `null` (and notes it in `skips`) when it does not decode. */
export function toStoredEvent(msg: JsMsg, skips: DecodeSkips): StoredEvent | null {
  const info = msg.info;
  try {
    return { seq: info.streamSequence, storedAt: Math.floor(info.timestampNanos / NS_PER_MS), event: decodeEvent(msg.data) };
  } catch (error) {
    skips.note(info.streamSequence, error);
    return null;
  }
}

/**
 * A `PixelBatch` filled message by message under the same rule as `toStoredEvent` (`checkEvent` rejects
 * exactly what `decodeEvent` does), reused from batch to batch: no object or string per event.
 */
export class PixelColumns implements PixelBatch {
  count = 0;
  seqs = new Float64Array(256);
  setsPixel = new Uint8Array(256);
  xs = new Uint16Array(256);
  ys = new Uint16Array(256);
  colors = new Uint8Array(256);

  /** Appends the message's event, or notes it in `skips` when it does not decode. */
  add(msg: { readonly data: Uint8Array }, seq: number, skips: DecodeSkips): void {
    const data = msg.data;
    try {
      checkEvent(data); // both kinds so far set a pixel
    } catch (error) {
      skips.note(seq, error);
      return;
    }
    if (this.count === this.seqs.length) this.#grow();
    const i = this.count++;
    this.seqs[i] = seq;
    this.setsPixel[i] = 1;
    this.xs[i] = eventX(data);
    this.ys[i] = eventY(data);
    this.colors[i] = eventColor(data);
  }

  #grow(): void {
    const grown = <T extends Float64Array | Uint8Array | Uint16Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    this.seqs = grown(this.seqs, (n) => new Float64Array(n));
    this.setsPixel = grown(this.setsPixel, (n) => new Uint8Array(n));
    this.xs = grown(this.xs, (n) => new Uint16Array(n));
    this.ys = grown(this.ys, (n) => new Uint16Array(n));
    this.colors = grown(this.colors, (n) => new Uint8Array(n));
  }
}
