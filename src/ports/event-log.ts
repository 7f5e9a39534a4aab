/**
 * The event log: the durable, ordered JetStream stream every state is a replay of. Appends go through
 * `EventLog` (src/adapters/nats/event-log.ts), ordered reads through `EventStream`
 * (src/adapters/nats/event-stream.ts, pixel-tail.ts), a projection's durable delivery through `ProjectionSource`
 * (src/adapters/nats/projection-source.ts). Failures are the named errors of src/ports/errors.ts.
 */
import type { CanvasEvent, LogEvent } from '../../proto/event-codec.ts';
import type { CanvasSize, Resize } from '../domain/resize.ts';

export interface AppendResult {
  /** The stream sequence the event has (the original one when `duplicate`). */
  readonly seq: number;
  /** True when the log had already stored an event with the same message id. */
  readonly duplicate: boolean;
}

/**
 * The durable, ordered log of every event (a JetStream stream).
 * `append` resolves only once the log acknowledged the event as stored; it rejects with
 * `LogUnavailable` when it cannot say that (timeout, no responders, connection lost, limits).
 */
export interface EventLog {
  append(event: CanvasEvent, messageId: string): Promise<AppendResult>;
}

/**
 * The operator's append of a canvas resize (`rplace canvas resize`): written only if no other resize was stored
 * since the one the caller read (`afterResizeSeq`, 0: none), so two operators cannot grow it from a stale size.
 * Rejects with `SequenceConflict` when one was; `LogUnavailable` as `append`.
 */
export interface ResizeLog {
  appendResize(event: LogEvent, messageId: string, afterResizeSeq: number): Promise<AppendResult>;
}

/** An event as stored in the log: its sequence and the time the log stored it. */
export interface StoredEvent {
  readonly seq: number;
  /** ms since the epoch at which the stream stored the event (JetStream message timestamp). */
  readonly storedAt: number;
  /** A pixel event, or a `CanvasResized` that the resize rule accepted (a refused one is skipped). */
  readonly event: LogEvent;
}

/**
 * Ordered reads of the log without any server-side state (JetStream ordered consumers).
 * Used for rebuilds, for the edges' live tail and for replaying a snapshot's tail.
 */
export interface EventStream {
  /** The last sequence in the stream (0 when empty). */
  lastSeq(): Promise<number>;
  /**
   * The canvas size in force once the event at `seq` is applied (0: the initial size), under the same resize
   * rule as `read`. Also the last accepted resize at or before `seq` (null: none), whose sequence `ResizeLog`
   * takes as `afterResizeSeq`.
   */
  sizeAt(seq: number): Promise<{ readonly size: CanvasSize; readonly lastResize: (Resize & { seq: number }) | null }>;
  /**
   * Batches of events with sequence ≥ `fromSeq`, in order, without gaps in delivery order.
   * Ends after `untilSeq` when given; otherwise follows the stream live until `signal` aborts.
   */
  read(
    fromSeq: number,
    options?: { readonly untilSeq?: number; readonly signal?: AbortSignal },
  ): AsyncIterable<readonly StoredEvent[]>;
  /**
   * `read` for readers that need only each event's sequence and pixel (the edges' live tail): the same
   * events, order and skip rule, decoded into columns with no object or string per event. The batch and
   * its arrays are reused: valid only until the loop asks for the next one.
   */
  readPixels(
    fromSeq: number,
    options?: { readonly untilSeq?: number; readonly signal?: AbortSignal },
  ): AsyncIterable<PixelBatch>;
}

/**
 * Events in columns: event i has sequence `seqs[i]`, and sets pixel (`xs[i]`, `ys[i]`) to `colors[i]` when
 * `setsPixel[i]` is 1. An accepted resize is an entry that sets no pixel, listed in `resizes` by its index
 * (ascending): a reader applies it between entries `index - 1` and `index + 1`.
 */
export interface PixelBatch {
  readonly count: number;
  readonly seqs: Float64Array;
  readonly setsPixel: Uint8Array;
  readonly xs: Uint16Array;
  readonly ys: Uint16Array;
  readonly colors: Uint8Array;
  readonly resizes: readonly { readonly index: number; readonly resize: Resize }[];
}

/**
 * Durable delivery for a projection: batches from `fromSeq` on; a batch is acknowledged when `handle`
 * resolves and redelivered if it rejects or the process dies. Runs until `signal` aborts.
 */
export interface ProjectionSource {
  run(fromSeq: number, handle: (batch: readonly StoredEvent[]) => Promise<void>, signal: AbortSignal): Promise<void>;
}
