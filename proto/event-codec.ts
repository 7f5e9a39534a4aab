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
 *
 * Subjects: a `PixelPlaced` is stored under `rplace.<canvas>.px.<tx>.<ty>` (the edges may publish there), a
 * `PixelRestored` under `rplace.<canvas>.mod.<tx>.<ty>` (only the operator identity may), so NATS permissions
 * decide who can write which kind; `checkStoredEvent` rejects a kind found on the other kind's subjects.
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

/**
 * Why a reader refused a stored event: the `reason` label of `rplace_events_rejected_total`.
 * `layout` covers truncated or oversized payloads and bad id lengths; `time` a `placedAt` that is not an
 * integer, or is implausibly far from the time the stream stored the event.
 */
export const RejectReason = {
  Layout: 'layout',
  Version: 'version',
  Kind: 'kind',
  Encoding: 'encoding',
  Bounds: 'bounds',
  Color: 'color',
  Time: 'time',
  Subject: 'subject',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

export class EventDecodeError extends Error {
  override readonly name = 'EventDecodeError';
  readonly reason: RejectReason;
  constructor(message: string, reason: RejectReason, options?: ErrorOptions) {
    super(message, options);
    this.reason = reason;
  }
}

/** What a stored event is checked against: the canvas it claims to change. */
export interface EventBounds {
  readonly width: number;
  readonly height: number;
  /** Palette size: colour indices are 0..colors-1. */
  readonly colors: number;
}

/**
 * How far `placedAt` may lie from the JetStream timestamp of the message (the server's clock when it
 * stored it). Judged against the stored timestamp, never the reader's clock, so every replay decides the
 * same. Earlier: a retry inside the cooldown re-sends the holder's `placedAt` (up to COOLDOWN_SECONDS, at
 * most a day) plus clock skew; later: clock skew between an edge and the NATS servers.
 */
export const MAX_PLACED_BEFORE_STORED_MS = 2 * 86_400_000;
export const MAX_PLACED_AFTER_STORED_MS = 5 * 60_000;

const HEADER_BYTES = 16;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** Writes `value` as UTF-8 at `at` (room: `MAX_ID_BYTES`), after checking its length; returns the bytes written. */
function encodeIdInto(label: string, value: string, out: Uint8Array, at: number): number {
  // At most 3 bytes per UTF-16 unit: a value longer than this cannot fit, whatever it holds.
  if (value.length < 1 || value.length > MAX_ID_BYTES * 3)
    return idLengthError(label, utf8Encoder.encode(value).length);
  const { read, written } = utf8Encoder.encodeInto(value, out.subarray(at, at + MAX_ID_BYTES));
  if (read < value.length) return idLengthError(label, utf8Encoder.encode(value).length);
  return written;
}

function idLengthError(label: string, bytes: number): never {
  throw new RangeError(`${label} must be 1-${MAX_ID_BYTES} UTF-8 bytes, got ${bytes}`);
}

/** Output room for the largest event; the event is encoded into it, then copied out at its exact length. */
const scratch = new Uint8Array(HEADER_BYTES + 2 + 2 * MAX_ID_BYTES);
const scratchView = new DataView(scratch.buffer);

export function encodeEvent(event: CanvasEvent): Uint8Array {
  // One allocation per event (was three: the two ids' encodings and the output).
  const userAt = HEADER_BYTES + 1;
  const userBytes = encodeIdInto('userId', event.userId, scratch, userAt);
  const requestAt = userAt + userBytes;
  const requestBytes = encodeIdInto('requestId', event.requestId, scratch, requestAt + 1);
  scratchView.setUint8(0, EVENT_FORMAT_VERSION);
  scratchView.setUint8(1, event.kind);
  scratchView.setUint16(2, event.x, true);
  scratchView.setUint16(4, event.y, true);
  scratchView.setUint8(6, event.color);
  scratchView.setUint8(7, 0);
  scratchView.setFloat64(8, event.placedAt, true);
  scratch[HEADER_BYTES] = userBytes;
  scratch[requestAt] = requestBytes;
  return scratch.slice(0, requestAt + 1 + requestBytes);
}

/**
 * The checks every reader of an encoded event makes before its ids (size, version, kind, id lengths): throws
 * `EventDecodeError`, else returns the offset of the request id's length byte. The kind is then `bytes[1]`.
 */
function checkLayout(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES + 2)
    throw new EventDecodeError(`event too short: ${bytes.length} bytes`, RejectReason.Layout);
  const version = bytes[0] as number;
  if (version !== EVENT_FORMAT_VERSION)
    throw new EventDecodeError(`unknown event format version ${version}`, RejectReason.Version);
  const kind = bytes[1];
  if (!isKnownKind(kind)) throw new EventDecodeError(`unknown event kind ${kind}`, RejectReason.Kind);
  const userLength = bytes[HEADER_BYTES] ?? 0;
  const requestAt = HEADER_BYTES + 1 + userLength;
  const requestLength = bytes[requestAt] ?? 0;
  if (userLength < 1 || requestLength < 1 || requestAt + 1 + requestLength !== bytes.length) {
    throw new EventDecodeError('event id lengths do not match its size', RejectReason.Layout);
  }
  const placedAt = eventPlacedAt(bytes);
  if (!Number.isSafeInteger(placedAt) || placedAt < 0)
    throw new EventDecodeError(`placedAt ${placedAt} is not a time`, RejectReason.Time);
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
    throw new EventDecodeError('event ids are not valid UTF-8', RejectReason.Encoding, { cause });
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
      throw new EventDecodeError('event ids are not valid UTF-8', RejectReason.Encoding, { cause });
    }
  }
  return kind;
}

/**
 * THE check every reader of the stream makes before it applies an event (stored-event.ts calls it for the
 * projectors, the edges' tail, rebuilds, point-in-time tails and moderation plans): `checkEvent`, then the
 * event against the canvas (coordinates inside it, colour inside the palette), its `placedAt` against the
 * time the stream stored it, and its kind against the subject it was stored under (`moderation`: a
 * `rplace.<canvas>.mod.…` subject). Everything it reads is stored in the log, so every reader and every
 * replay rejects exactly the same events. Throws `EventDecodeError` (with its `reason`), else returns the kind.
 */
export function checkStoredEvent(
  bytes: Uint8Array,
  bounds: EventBounds,
  storedAtMs: number,
  moderation: boolean,
): EventKind {
  const kind = checkEvent(bytes);
  if (moderation !== (kind === EventKind.PixelRestored)) {
    throw new EventDecodeError(
      `event kind ${kind} stored under a ${moderation ? 'moderation' : 'placement'} subject`,
      RejectReason.Subject,
    );
  }
  const x = eventX(bytes);
  const y = eventY(bytes);
  if (x >= bounds.width || y >= bounds.height) {
    throw new EventDecodeError(
      `pixel (${x}, ${y}) is outside the ${bounds.width}×${bounds.height} canvas`,
      RejectReason.Bounds,
    );
  }
  const color = eventColor(bytes);
  if (color >= bounds.colors)
    throw new EventDecodeError(`colour ${color} is not in the ${bounds.colors}-colour palette`, RejectReason.Color);
  const placedAt = eventPlacedAt(bytes);
  if (placedAt < storedAtMs - MAX_PLACED_BEFORE_STORED_MS || placedAt > storedAtMs + MAX_PLACED_AFTER_STORED_MS) {
    throw new EventDecodeError(`placedAt ${placedAt} is too far from the stored time ${storedAtMs}`, RejectReason.Time);
  }
  return kind;
}

// Reads the little-endian f64 without a DataView per event (the tail's hot path).
const f64 = new Float64Array(1);
const f64Bytes = new Uint8Array(f64.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** `placedAt` of an encoded event at least 16 bytes long (no checks). */
export function eventPlacedAt(bytes: Uint8Array): number {
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? i : 7 - i] = bytes[8 + i] as number;
  return f64[0] as number;
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
    throw new EventDecodeError(
      `not a version ${EVENT_FORMAT_VERSION} PixelPlaced or PixelRestored event`,
      RejectReason.Layout,
    );
  }
  return {
    x: (bytes[2] as number) | ((bytes[3] as number) << 8),
    y: (bytes[4] as number) | ((bytes[5] as number) << 8),
    color: bytes[6] as number,
  };
}
