/**
 * Binary encoding of the events in the JetStream log. Layout (all integers little-endian):
 *
 * ```
 * offset size  field
 * 0      1     format version = 1
 * 1      1     kind: 1 = PixelPlaced, 2 = PixelRestored
 * 2      2     x (u16)
 * 4      2     y (u16)
 * 6      1     color (palette index)
 * 7      1     reserved, 0
 * 8      8     placedAt: ms since the Unix epoch (f64 holding an integer)
 * 16     1     userId length U (1..64)
 * 17     U     userId, UTF-8
 * 17+U   1     requestId length R (1..64)
 * 18+U   R     requestId, UTF-8
 * ```
 *
 * Both kinds share this layout. `PixelRestored` is a moderation event (a compensating event written by
 * `rplace mod rollback` / `restore`): it sets the pixel like a placement does, but `userId` is the
 * moderator, `requestId` is the rollback id, and no cooldown ever applies to it. Projections that only
 * need the pixel treat both kinds alike (`decodePixel`); history keeps the kind to show who moderated.
 *
 * A typical event (12-byte user id, 16-byte request id) is 46 bytes against ~150 as JSON.
 * Readers must reject versions and kinds they do not know rather than guess (`EventDecodeError`).
 * Golden vectors: `proto/vectors/events.json`.
 */

export const EVENT_FORMAT_VERSION = 1;

export const EventKind = {
  PixelPlaced: 1,
  /** A moderator's compensating event: restores a pixel; `userId` is the moderator, `requestId` the rollback id. */
  PixelRestored: 2,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

export const MAX_ID_BYTES = 64;

/** The fields every pixel event carries (one byte layout for every kind). */
interface PixelEventFields {
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly userId: string;
  readonly requestId: string;
  /** Milliseconds since the Unix epoch, assigned by the command handler just before the append. */
  readonly placedAt: number;
}

export interface PixelPlaced extends PixelEventFields {
  readonly kind: typeof EventKind.PixelPlaced;
}

/** `userId` = the moderator, `requestId` = the rollback id, `placedAt` = when it was written. */
export interface PixelRestored extends PixelEventFields {
  readonly kind: typeof EventKind.PixelRestored;
}

export type CanvasEvent = PixelPlaced | PixelRestored;

function isKnownKind(kind: number | undefined): kind is EventKind {
  return kind === EventKind.PixelPlaced || kind === EventKind.PixelRestored;
}

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
}

const HEADER_BYTES = 16;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function encodeId(label: string, value: string): Uint8Array {
  const bytes = utf8Encoder.encode(value);
  if (bytes.length < 1 || bytes.length > MAX_ID_BYTES) {
    throw new RangeError(`${label} must be 1-${MAX_ID_BYTES} UTF-8 bytes, got ${bytes.length}`);
  }
  return bytes;
}

export function encodeEvent(event: CanvasEvent): Uint8Array {
  const user = encodeId('userId', event.userId);
  const request = encodeId('requestId', event.requestId);
  const out = new Uint8Array(HEADER_BYTES + 1 + user.length + 1 + request.length);
  const view = new DataView(out.buffer);
  view.setUint8(0, EVENT_FORMAT_VERSION);
  view.setUint8(1, event.kind);
  view.setUint16(2, event.x, true);
  view.setUint16(4, event.y, true);
  view.setUint8(6, event.color);
  view.setUint8(7, 0);
  view.setFloat64(8, event.placedAt, true);
  out[HEADER_BYTES] = user.length;
  out.set(user, HEADER_BYTES + 1);
  const requestAt = HEADER_BYTES + 1 + user.length;
  out[requestAt] = request.length;
  out.set(request, requestAt + 1);
  return out;
}

/**
 * The checks every reader of an encoded event makes before its ids (size, version, kind, id lengths): throws
 * `EventDecodeError`, else returns the offset of the request id's length byte. The kind is then `bytes[1]`.
 */
function checkLayout(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES + 2) throw new EventDecodeError(`event too short: ${bytes.length} bytes`);
  const version = bytes[0] as number;
  if (version !== EVENT_FORMAT_VERSION) throw new EventDecodeError(`unknown event format version ${version}`);
  const kind = bytes[1];
  if (!isKnownKind(kind)) throw new EventDecodeError(`unknown event kind ${kind}`);
  const userLength = bytes[HEADER_BYTES] ?? 0;
  const requestAt = HEADER_BYTES + 1 + userLength;
  const requestLength = bytes[requestAt] ?? 0;
  if (userLength < 1 || requestLength < 1 || requestAt + 1 + requestLength !== bytes.length) {
    throw new EventDecodeError('event id lengths do not match its size');
  }
  return requestAt;
}

export function decodeEvent(bytes: Uint8Array): CanvasEvent {
  const requestAt = checkLayout(bytes);
  const kind = bytes[1] as EventKind;
  const requestLength = bytes[requestAt] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return {
      kind,
      x: view.getUint16(2, true),
      y: view.getUint16(4, true),
      color: view.getUint8(6),
      placedAt: view.getFloat64(8, true),
      userId: utf8Decoder.decode(bytes.subarray(HEADER_BYTES + 1, requestAt)),
      requestId: utf8Decoder.decode(bytes.subarray(requestAt + 1, requestAt + 1 + requestLength)),
    };
  } catch (cause) {
    throw new EventDecodeError('event ids are not valid UTF-8', { cause });
  }
}

/**
 * Checks an encoded event exactly as `decodeEvent` does (it throws `EventDecodeError` in the same cases)
 * and returns its kind, without building the event: no object, no strings for ASCII ids. For readers
 * that then take only the pixel (`eventX`, `eventY`, `eventColor`), so they skip exactly the events every
 * other reader skips (stored-event.ts).
 */
export function checkEvent(bytes: Uint8Array): EventKind {
  const requestAt = checkLayout(bytes);
  const kind = bytes[1] as EventKind;
  if (!isAscii(bytes, HEADER_BYTES + 1, requestAt) || !isAscii(bytes, requestAt + 1, bytes.length)) {
    try {
      utf8Decoder.decode(bytes.subarray(HEADER_BYTES + 1, requestAt));
      utf8Decoder.decode(bytes.subarray(requestAt + 1));
    } catch (cause) {
      throw new EventDecodeError('event ids are not valid UTF-8', { cause });
    }
  }
  return kind;
}

function isAscii(bytes: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if ((bytes[i] as number) >= 0x80) return false;
  return true;
}

/** The pixel's fields of an encoded event that `checkEvent` accepted (layout above; no checks here). */
export function eventX(bytes: Uint8Array): number {
  return (bytes[2] as number) | ((bytes[3] as number) << 8);
}
export function eventY(bytes: Uint8Array): number {
  return (bytes[4] as number) | ((bytes[5] as number) << 8);
}
export function eventColor(bytes: Uint8Array): number {
  return bytes[6] as number;
}

/**
 * Reads only the pixel of an encoded event (either kind), without allocating strings: the hot path of
 * every projection that only needs (x, y, color). Throws like `decodeEvent` on unknown versions or kinds.
 */
export function decodePixel(bytes: Uint8Array): { x: number; y: number; color: number } {
  if (bytes.length < HEADER_BYTES + 2 || bytes[0] !== EVENT_FORMAT_VERSION || !isKnownKind(bytes[1])) {
    throw new EventDecodeError(`not a version ${EVENT_FORMAT_VERSION} PixelPlaced or PixelRestored event`);
  }
  return {
    x: (bytes[2] as number) | ((bytes[3] as number) << 8),
    y: (bytes[4] as number) | ((bytes[5] as number) << 8),
    color: bytes[6] as number,
  };
}
