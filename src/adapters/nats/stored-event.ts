/**
 * Turning JetStream messages into `StoredEvent`s: the ONE rule every reader of the log follows
 * (bitmap projector, history projector, edges' live tail, rebuilds, snapshot and point-in-time tails,
 * moderation plans).
 *
 * Rule: a message that `checkStoredEvent` refuses (unknown format version or kind, truncated, bad UTF-8,
 * outside the canvas, colour outside the palette, `placedAt` not a time or too far from the time the stream
 * stored it, a kind on the other kind's subjects) is SKIPPED, counted in `rplace_events_rejected_total`
 * `{reader, reason}`, and reported once per batch with a warn log (count, the sequences, the reasons).
 * Why skip rather than stop: the check reads only what the log stores (payload, subject, stored timestamp),
 * so every reader and every replay skips exactly the same messages and all projections stay equal to each
 * other and to a rebuild (the golden invariant), while one bad message cannot wedge them. Only authorised
 * identities can write the stream (docs/SECURITY.md), so a skip is an operator-visible anomaly to alert on.
 *
 * Two exceptions to the skip:
 * - a `CanvasResized` is checked against the size in force (`ReadBounds`) with the resize rule
 *   (src/domain/resize.ts); accepted, it grows the bounds every later event of the same read is checked against;
 *   refused (it would shrink), it is skipped like any invalid event (reason `resize`);
 * - an event of a kind this reader does not know (`UnknownEventKind`: a newer writer) is NOT skipped: the read
 *   throws, so the reader stops, loudly, rather than silently diverge (a skipped resize would leave its
 *   projection at the wrong size for good).
 */
import type { JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import {
  checkStoredEvent,
  decodeEvent,
  EventDecodeError,
  EventKind,
  eventColor,
  eventX,
  eventY,
  RejectReason,
  resizeOf,
  UnknownEventKind,
  type EventBounds,
  type SubjectClass,
} from '../../../proto/event-codec.ts';
import type { PixelBatch, StoredEvent } from '../../ports/event-log.ts';
import type { Names } from '../../domain/names.ts';
import { checkResize, type CanvasSize, type Resize } from '../../domain/resize.ts';
import { metrics } from '../metrics.ts';

const NS_PER_MS = 1_000_000;
/** Sequences listed in one batch's warn line (the count says how many more). */
const LOGGED_SEQS = 20;

/** What a reader checks events against: its palette, and which subjects hold which kinds. */
export interface EventCheck {
  /** Palette size; `width`/`height` here are the INITIAL size (before any resize in the log). */
  readonly bounds: EventBounds;
  readonly names: Names;
  /** `reader` label of the rejection counter: the projection or use that reads. */
  readonly reader: string;
}

/**
 * The bounds one read checks events against: the size in force before its first event (`sizeAt(fromSeq - 1)`),
 * grown in place by every resize the read accepts, so each event is checked against the size at its sequence.
 */
export class ReadBounds implements EventBounds {
  width: number;
  height: number;
  readonly colors: number;
  constructor(size: CanvasSize, colors: number) {
    this.width = size.width;
    this.height = size.height;
    this.colors = colors;
  }

  /** Applies the resize rule to an encoded `CanvasResized`: grows and returns it, or throws `EventDecodeError`. */
  accept(bytes: Uint8Array): Resize {
    const resize = resizeOf(bytes);
    const verdict = checkResize(this, resize);
    if (!verdict.ok) throw new EventDecodeError(`${verdict.code}: ${verdict.message}`, RejectReason.Resize);
    this.width = resize.width;
    this.height = resize.height;
    return resize;
  }
}

/** Collects the messages of one batch that were rejected, counts each, then reports them once. */
export class DecodeSkips {
  /** Total skipped messages since this reader started. */
  total = 0;
  private seqs: number[] = [];
  private count = 0;
  private reasons: Partial<Record<RejectReason, number>> = {};
  private firstMessage = '';

  private readonly reader: string;
  constructor(reader: string) {
    this.reader = reader;
  }

  note(seq: number, error: unknown): void {
    if (error instanceof UnknownEventKind) throw error; // never skipped (header)
    const reason = error instanceof EventDecodeError ? error.reason : RejectReason.Layout;
    if (this.count === 0) this.firstMessage = error instanceof Error ? error.message : String(error);
    if (this.seqs.length < LOGGED_SEQS) this.seqs.push(seq);
    this.count++;
    this.total++;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    metrics.eventsRejected.inc({ reader: this.reader, reason });
  }

  /** Logs one warn line for the batch's skips, if any, and resets the batch counters. */
  flush(logger: Pick<Logger, 'warn'> | undefined, source: string): void {
    if (this.count === 0) return;
    logger?.warn(
      {
        source,
        reader: this.reader,
        skipped: this.count,
        seqs: this.seqs,
        reasons: this.reasons,
        first: this.firstMessage,
        skippedTotal: this.total,
      },
      'skipped events that fail validation',
    );
    this.count = 0;
    this.seqs = [];
    this.reasons = {};
  }
}

/**
 * Decodes a message into a `StoredEvent`, or returns `null` (and notes it in `skips`) when it is rejected;
 * an accepted resize grows `bounds`. Throws `UnknownEventKind`.
 */
export function toStoredEvent(
  msg: JsMsg,
  check: EventCheck,
  skips: DecodeSkips,
  bounds: ReadBounds,
): StoredEvent | null {
  const info = msg.info;
  const storedAt = Math.floor(info.timestampNanos / NS_PER_MS);
  try {
    const kind = checkStoredEvent(msg.data, bounds, storedAt, check.names.subjectClass(msg.subject));
    const event = decodeEvent(msg.data);
    if (kind === EventKind.CanvasResized) bounds.accept(msg.data);
    return { seq: info.streamSequence, storedAt, event };
  } catch (error) {
    skips.note(info.streamSequence, error);
    return null;
  }
}

/**
 * A `PixelBatch` filled message by message under the same rule as `toStoredEvent` (the same
 * `checkStoredEvent`), reused from batch to batch: no object or string per event.
 */
export class PixelColumns implements PixelBatch {
  count = 0;
  seqs = new Float64Array(256);
  setsPixel = new Uint8Array(256);
  xs = new Uint16Array(256);
  ys = new Uint16Array(256);
  colors = new Uint8Array(256);
  /** The accepted resizes of this batch, by entry index (entries that set no pixel); usually empty. */
  resizes: { readonly index: number; readonly resize: Resize }[] = [];

  /** Empties the batch for reuse. */
  reset(): void {
    this.count = 0;
    if (this.resizes.length > 0) this.resizes = [];
  }

  /**
   * Appends the message's event. A rejected one is noted in `skips` and kept as an entry that sets no pixel
   * (`setsPixel` 0): a reader that labels its state with a sequence (the edge) still advances past it
   * rather than seeing a gap. An accepted resize is an entry that sets no pixel, listed in `resizes`, and grows
   * `bounds`. Throws `UnknownEventKind` (nothing appended).
   */
  add(
    msg: { readonly data: Uint8Array; readonly subject: string },
    seq: number,
    storedAtMs: number,
    check: EventCheck,
    skips: DecodeSkips,
    bounds: ReadBounds,
  ): void {
    this.addEvent(msg.data, check.names.subjectClass(msg.subject), seq, storedAtMs, skips, bounds);
  }

  /** `add` of an event whose subject is already classified (`Names.subjectClassOfBytes`: no subject string). */
  addEvent(
    data: Uint8Array,
    subjectClass: SubjectClass,
    seq: number,
    storedAtMs: number,
    skips: DecodeSkips,
    bounds: ReadBounds,
  ): void {
    let valid = true;
    let resize: Resize | null = null;
    try {
      const kind = checkStoredEvent(data, bounds, storedAtMs, subjectClass);
      if (kind === EventKind.CanvasResized) resize = bounds.accept(data);
    } catch (error) {
      skips.note(seq, error);
      valid = false;
    }
    if (this.count === this.seqs.length) this.#grow();
    const i = this.count++;
    this.seqs[i] = seq;
    this.setsPixel[i] = valid && resize === null ? 1 : 0;
    if (resize !== null) this.resizes.push({ index: i, resize });
    if (!valid || resize !== null) return;
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
