/**
 * The interfaces the application layer runs against. Adapters in `src/adapters/*` implement them;
 * nothing in `src/app` imports a client library.
 */
import type { CanvasEvent } from '../../proto/event-codec.ts';

export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

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

/** The pixel a placement sets: stored with its cooldown, so a retry of the same request can be told from a different one. */
export interface PixelRef {
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

export type CooldownResult =
  /**
   * `remainingMs` is the cooldown's time to live as the store reported it once taken. The TTL starts in the
   * store, after the caller read its clock: the caller computes when the next placement may come from the
   * moment the answer arrived plus this, never from its own earlier timestamp (issue 13).
   */
  | { readonly acquired: true; readonly remainingMs: number }
  /**
   * `holderRequestId` is the request that holds the cooldown: equal to ours means this is a retry. `holderPixel` is
   * what it placed (null when unknown), `holderSeq` its stream sequence once its append was acknowledged
   * and recorded (null while in flight, or if the edge died before recording it).
   */
  | {
      readonly acquired: false;
      readonly remainingMs: number;
      readonly holderRequestId: string;
      readonly holderPlacedAt: number;
      readonly holderPixel: PixelRef | null;
      readonly holderSeq: number | null;
    };

/** Per-user placement cooldowns (Redis `SET cooldown:{user} … NX EX`). */
export interface CooldownStore {
  /** Atomically takes the user's cooldown for `seconds` unless someone holds it, recording the request and its pixel. */
  tryAcquire(userId: string, requestId: string, placedAt: number, seconds: number, pixel: PixelRef): Promise<CooldownResult>;
  /**
   * Records the stream sequence the holding request's event got, if `requestId` still holds the cooldown:
   * a later retry of that request is answered from it and never appended again. Best effort, nobody waits:
   * without the record a retry falls back to the log's deduplication inside the retry window.
   */
  recordOutcome(userId: string, requestId: string, seq: number): void;
  /** Gives the cooldown back, only if `requestId` still holds it (a refund after a failed append). */
  release(userId: string, requestId: string): Promise<void>;
  /** Remaining cooldown in ms (0 when none). */
  remainingMs(userId: string): Promise<number>;
}

/** A pixel change labelled with its stream sequence. */
export interface SequencedPixel {
  readonly seq: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

/** An event as stored in the log: its sequence and the time the log stored it. */
export interface StoredEvent {
  readonly seq: number;
  /** ms since the epoch at which the stream stored the event (JetStream message timestamp). */
  readonly storedAt: number;
  readonly event: CanvasEvent;
}

/**
 * Ordered reads of the log without any server-side state (JetStream ordered consumers).
 * Used for rebuilds, for the edges' live tail and for replaying a snapshot's tail.
 */
export interface EventStream {
  /** The last sequence in the stream (0 when empty). */
  lastSeq(): Promise<number>;
  /**
   * Batches of events with sequence ≥ `fromSeq`, in order, without gaps in delivery order.
   * Ends after `untilSeq` when given; otherwise follows the stream live until `signal` aborts.
   */
  read(fromSeq: number, options?: { readonly untilSeq?: number; readonly signal?: AbortSignal }): AsyncIterable<readonly StoredEvent[]>;
  /**
   * `read` for readers that need only each event's sequence and pixel (the edges' live tail): the same
   * events, order and skip rule, decoded into columns with no object or string per event. The batch and
   * its arrays are reused: valid only until the loop asks for the next one.
   */
  readPixels(fromSeq: number, options?: { readonly untilSeq?: number; readonly signal?: AbortSignal }): AsyncIterable<PixelBatch>;
}

/** Events in columns: event i has sequence `seqs[i]`, and sets pixel (`xs[i]`, `ys[i]`) to `colors[i]` when `setsPixel[i]` is 1. */
export interface PixelBatch {
  readonly count: number;
  readonly seqs: Float64Array;
  readonly setsPixel: Uint8Array;
  readonly xs: Uint16Array;
  readonly ys: Uint16Array;
  readonly colors: Uint8Array;
}

/**
 * Durable delivery for a projection: batches from `fromSeq` on; a batch is acknowledged when `handle`
 * resolves and redelivered if it rejects or the process dies. Runs until `signal` aborts.
 */
export interface ProjectionSource {
  run(fromSeq: number, handle: (batch: readonly StoredEvent[]) => Promise<void>, signal: AbortSignal): Promise<void>;
}

/** The live canvas in Redis (`canvas:current`) and the stream sequence it reflects, stored atomically together. */
export interface BitmapStore {
  /** The canvas and its sequence, read atomically; `null` when the store holds no projection (never built or wiped). */
  load(): Promise<{ readonly canvas: Uint8Array; readonly seq: number } | null>;
  /** The stored sequence alone (`null` when none). */
  seq(): Promise<number | null>;
}

/** Who a request or connection acts as. */
export interface Identity {
  readonly userId: string;
  readonly isGuest: boolean;
}

/**
 * Identifies the caller from request headers (cookies), for WebSocket upgrades and HTTP routes. The guest
 * implementation mints a signed guest cookie; accounts replace it without touching the protocol.
 * `setCookie`, when present, must be sent back (`Set-Cookie`) so the identity survives a reload.
 * Resolves `null` when the request carries no acceptable identity and none may be minted.
 */
export interface IdentityProvider {
  identify(headers: Readonly<Record<string, string>>): Promise<{ readonly identity: Identity; readonly setCookie?: string } | null>;
}

/**
 * The bitmap projector's side of the live canvas. Every write moves the canvas bytes and the stored sequence
 * together, atomically, so the stored sequence always says exactly which events the bytes reflect.
 */
export interface BitmapWriter extends BitmapStore {
  /**
   * Applies `pixels` (ascending `seq`) and sets the stored sequence to the last applied one, atomically.
   * Pixels with `seq` ≤ the stored sequence are skipped, so a redelivery never applies twice.
   * `expectedSeq` is the sequence the caller believes is stored (`null`: it knows of none, and an empty store
   * is initialised). Rejects with `SequenceConflict`, writing nothing, when the store holds no projection
   * while one was expected, holds an older sequence than expected, or holds a canvas of the wrong size:
   * the store was wiped (Redis restarted empty) or rolled back. `found` is `null` when nothing usable is left
   * (rebuild), or the older sequence the store still holds consistently (replay the gap after it).
   * Resolves to the stored sequence after the call.
   */
  apply(pixels: readonly SequencedPixel[], expectedSeq: number | null): Promise<number>;
  /** Replaces the canvas and the stored sequence together (a rebuild). */
  replaceAll(canvas: Uint8Array, seq: number): Promise<void>;
}
