/**
 * The placement command: validate → take the cooldown (atomic `SET NX EX`) → append to the log with the
 * request id as the message id → answer. If the append fails the cooldown is refunded, so nothing
 * half-done remains; a retry with the same request id is appended once (log deduplication) and answered
 * the same way as the first attempt.
 */
import { checkPlacement } from '../domain/placement.ts';
import type { CanvasSpec } from '../domain/canvas.ts';
import { EventKind, MAX_ID_BYTES } from '../../proto/event-codec.ts';
import { ErrorCode } from '../../proto/error-codes.ts';
import { LogUnavailable, StoreUnavailable } from './errors.ts';
import type { Clock, CooldownResult, CooldownStore, EventLog } from './ports.ts';

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

export function createPlacePixel(deps: PlacePixelDeps): PlacePixel {
  const cooldownMs = deps.cooldownSeconds * 1000;
  return async (request) => {
    // The edge validates the wire message with zod; this guards the command itself, so a caller that
    // skipped that cannot take a cooldown for an event that could never be encoded.
    const idProblem = badId('userId', request.userId) ?? badId('requestId', request.requestId);
    if (idProblem) return { ok: false, code: ErrorCode.bad_request, message: idProblem };
    const check = checkPlacement(deps.spec, request.x, request.y, request.color);
    if (!check.ok) return { ok: false, code: check.code, message: check.message };

    const placedAt = deps.clock.now();
    let cooldown: CooldownResult;
    try {
      cooldown = await deps.cooldowns.tryAcquire(request.userId, request.requestId, placedAt, deps.cooldownSeconds);
    } catch (error) {
      if (error instanceof StoreUnavailable) return UNAVAILABLE;
      throw error;
    }
    // A retry of the request that holds the cooldown is re-appended with its original time: the log
    // deduplicates it by message id, and the client gets the answer the first attempt should have had.
    const isRetry = !cooldown.acquired && cooldown.holderRequestId === request.requestId;
    if (!cooldown.acquired && !isRetry) {
      const remainingSeconds = Math.max(1, Math.ceil(cooldown.remainingMs / 1000));
      return { ok: false, code: ErrorCode.cooldown, message: `you can place again in ${remainingSeconds} s`, remainingSeconds };
    }
    const eventTime = cooldown.acquired ? placedAt : cooldown.holderPlacedAt;
    try {
      const appended = await deps.log.append(
        { kind: EventKind.PixelPlaced, x: request.x, y: request.y, color: request.color, userId: request.userId, requestId: request.requestId, placedAt: eventTime },
        // Scoped by user: two users may pick the same request id.
        `${request.userId}/${request.requestId}`,
      );
      return { ok: true, seq: appended.seq, nextPlacement: eventTime + cooldownMs, duplicate: appended.duplicate };
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
}
