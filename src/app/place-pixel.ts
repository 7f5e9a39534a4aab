/**
 * The placement command: validate → take the cooldown (atomic `SET NX EX`, recording the request and its
 * pixel) → append to the log with the request id as the message id → record the event's sequence in the
 * cooldown → answer. If the append fails the cooldown is refunded, so nothing half-done remains.
 *
 * A retry of the request that holds the cooldown (same request id) never takes a second placement:
 * - once its sequence is recorded, it is answered from the cooldown (`duplicate: true`), with no append;
 * - while it is unknown (the first attempt is in flight, or its edge died before recording), it is
 *   re-appended with its original time and message id ONLY for the same pixel and only within
 *   `retryWindowMs` of the first attempt, where the log's duplicate window is sure to drop the copy;
 * - otherwise (another pixel under the same id, or too late to be sure) it is a `cooldown` refusal.
 * So the cooldown holds independently of the stream's duplicate window: a cooldown longer than the window
 * no longer lets a re-sent request id append a second event (issue 11, item 10).
 */
import { checkPlacement } from '../domain/placement.ts';
import type { CanvasSpec } from '../domain/canvas.ts';
import { EventKind, MAX_ID_BYTES } from '../../proto/event-codec.ts';
import { ErrorCode } from '../../proto/error-codes.ts';
import { LogUnavailable, StoreUnavailable } from '../ports/errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { CooldownResult, CooldownStore } from '../ports/cooldown.ts';
import type { EventLog } from '../ports/event-log.ts';

export interface PlaceRequest {
  readonly userId: string;
  readonly requestId: string;
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

export type PlaceOutcome =
  | { readonly ok: true; readonly seq: number; readonly nextPlacement: number; readonly duplicate: boolean }
  | {
      readonly ok: false;
      readonly code: ErrorCode;
      readonly message: string;
      readonly remainingSeconds?: number;
    };

export interface PlacePixelDeps {
  readonly spec: CanvasSpec;
  readonly cooldownSeconds: number;
  readonly cooldowns: CooldownStore;
  readonly log: EventLog;
  readonly clock: Clock;
  /**
   * How long after a first attempt whose outcome is unknown a retry may still be re-appended: shorter than
   * the log's duplicate window by the append timeout and the edges' clock skew. Default: `retryWindowFor(DUPLICATE_WINDOW_MS)`.
   */
  readonly retryWindowMs?: number;
}

/**
 * The contract with the log: it drops a message id it stored this recently (JetStream `duplicate_window`,
 * set from this constant in streams/definitions.ts).
 */
export const DUPLICATE_WINDOW_MS = 5 * 60_000;

/** Allowance for clocks of different edges and for an append that was still in flight (ms). */
export const RETRY_MARGIN_MS = 60_000;

/**
 * The retry window for a log with this duplicate window; a RangeError when the window leaves no room for
 * a retry after the margin (the stream definition and this command disagree).
 */
export function retryWindowFor(duplicateWindowMs: number, marginMs = RETRY_MARGIN_MS): number {
  const window = duplicateWindowMs - marginMs;
  if (!(window > 0))
    throw new RangeError(
      `the log's duplicate window (${duplicateWindowMs} ms) must exceed the retry margin (${marginMs} ms)`,
    );
  return window;
}

export type PlacePixel = (request: PlaceRequest) => Promise<PlaceOutcome>;

const utf8 = new TextEncoder();

/** NATS or Redis could not take the placement; the cooldown was refunded (or never taken). */
const UNAVAILABLE: PlaceOutcome = {
  ok: false,
  code: ErrorCode.unavailable,
  message: 'the canvas is not accepting placements right now; try again in a moment',
};

/** Ids travel in the event as 1-64 UTF-8 bytes; anything else is refused before any state changes. */
function badId(label: string, value: unknown): string | null {
  if (typeof value !== 'string') return `${label} must be a string`;
  // A UTF-16 unit is at most 3 UTF-8 bytes: short ids (the usual case) need no encoding pass.
  if (value.length >= 1 && value.length * 3 <= MAX_ID_BYTES) return null;
  const bytes = utf8.encode(value).length;
  if (bytes < 1 || bytes > MAX_ID_BYTES) return `${label} must be 1-${MAX_ID_BYTES} UTF-8 bytes, got ${bytes}`;
  return null;
}

/**
 * The command in two steps, for a caller that takes the cooldown itself (the placement guard's one-call
 * admission, issue 13): `validate` (null when the request may take a cooldown) and `afterAcquire`, what the
 * command does with the cooldown's answer for a request read at `placedAt`. `createPlacePixel` is the two
 * with the store's `tryAcquire` between them.
 */
export interface PlacePixelSteps {
  validate(request: PlaceRequest): PlaceOutcome | null;
  afterAcquire(request: PlaceRequest, placedAt: number, cooldown: CooldownResult): Promise<PlaceOutcome>;
}

export function createPlacePixelSteps(deps: PlacePixelDeps): PlacePixelSteps {
  const retryWindowMs = deps.retryWindowMs ?? retryWindowFor(DUPLICATE_WINDOW_MS);
  if (!(retryWindowMs >= 0)) throw new RangeError(`retryWindowMs must be ≥ 0, got ${retryWindowMs}`);
  const validate = (request: PlaceRequest): PlaceOutcome | null => {
    // The edge validates the wire message with zod; this guards the command itself, so a caller that
    // skipped that cannot take a cooldown for an event that could never be encoded.
    const idProblem = badId('userId', request.userId) ?? badId('requestId', request.requestId);
    if (idProblem) return { ok: false, code: ErrorCode.bad_request, message: idProblem };
    const check = checkPlacement(deps.spec, request.x, request.y, request.color);
    if (!check.ok) return { ok: false, code: check.code, message: check.message };
    return null;
  };
  const afterAcquire = async (
    request: PlaceRequest,
    placedAt: number,
    cooldown: CooldownResult,
  ): Promise<PlaceOutcome> => {
    const pixel = { x: request.x, y: request.y, color: request.color };
    // When the next placement may come: from the cooldown's TTL as the store reported it, counted from when
    // its answer arrived, never from `placedAt`. The TTL starts in Redis after the batching and the round
    // trip; counted from `placedAt` the answer was that much early, and a client placing exactly at it got
    // `cooldown` (issue 13). +1: Redis keeps a key until its clock is PAST the expiry millisecond.
    const nextPlacement = deps.clock.now() + cooldown.remainingMs + 1;
    if (!cooldown.acquired) {
      const refusal = (): PlaceOutcome => {
        const remainingSeconds = Math.max(1, Math.ceil(cooldown.remainingMs / 1000));
        return {
          ok: false,
          code: ErrorCode.cooldown,
          message: `you can place again in ${remainingSeconds} s`,
          remainingSeconds,
        };
      };
      const held = cooldown.holderPixel;
      const sameRequest =
        cooldown.holderRequestId === request.requestId &&
        held !== null &&
        held.x === pixel.x &&
        held.y === pixel.y &&
        held.color === pixel.color;
      if (!sameRequest) return refusal();
      // The first attempt's answer, from the cooldown: nothing is appended again.
      if (cooldown.holderSeq !== null) return { ok: true, seq: cooldown.holderSeq, nextPlacement, duplicate: true };
      // Outcome unknown: re-append with the original time, only while the log is sure to deduplicate it.
      if (placedAt - cooldown.holderPlacedAt > retryWindowMs) return refusal();
    }
    const eventTime = cooldown.acquired ? placedAt : cooldown.holderPlacedAt;
    try {
      const appended = await deps.log.append(
        {
          kind: EventKind.PixelPlaced,
          x: request.x,
          y: request.y,
          color: request.color,
          userId: request.userId,
          requestId: request.requestId,
          placedAt: eventTime,
        },
        // Scoped by user: two users may pick the same request id.
        `${request.userId}/${request.requestId}`,
      );
      // The answer does not wait for it: until it lands, a retry is deduplicated by the log.
      deps.cooldowns.recordOutcome(request.userId, request.requestId, appended.seq);
      return { ok: true, seq: appended.seq, nextPlacement, duplicate: appended.duplicate };
    } catch (error) {
      // Refund only a cooldown this attempt took: a retry's original attempt may already be in the log.
      // Refund on any failure, so even a bug below leaves no cooldown without its event. If Redis fails
      // the refund too, the cooldown simply runs out: the user waits, but nothing is inconsistent.
      if (cooldown.acquired) {
        await deps.cooldowns.release(request.userId, request.requestId).catch((refundError: unknown) => {
          if (!(refundError instanceof StoreUnavailable)) throw refundError;
        });
      }
      if (!(error instanceof LogUnavailable)) throw error;
      return UNAVAILABLE;
    }
  };
  return { validate, afterAcquire };
}

export function createPlacePixel(deps: PlacePixelDeps): PlacePixel {
  const steps = createPlacePixelSteps(deps);
  return async (request) => {
    const invalid = steps.validate(request);
    if (invalid) return invalid;
    const placedAt = deps.clock.now();
    let cooldown: CooldownResult;
    try {
      cooldown = await deps.cooldowns.tryAcquire(request.userId, request.requestId, placedAt, deps.cooldownSeconds, {
        x: request.x,
        y: request.y,
        color: request.color,
      });
    } catch (error) {
      if (error instanceof StoreUnavailable) return UNAVAILABLE;
      throw error;
    }
    return steps.afterAcquire(request, placedAt, cooldown);
  };
}
