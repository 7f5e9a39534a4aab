/**
 * Per-user placement cooldowns. Implemented by src/adapters/redis/cooldown-store.ts (`SET cooldown:{user} … NX EX`).
 * A store that cannot answer rejects with `StoreUnavailable` (src/ports/errors.ts), having changed nothing.
 */

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
  tryAcquire(
    userId: string,
    requestId: string,
    placedAt: number,
    seconds: number,
    pixel: PixelRef,
  ): Promise<CooldownResult>;
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
  /** `remainingMs` of each user, in order, in one store call (the edge reads a loop turn's upgrades at once). */
  remainingMsMany(userIds: readonly string[]): Promise<number[]>;
}
