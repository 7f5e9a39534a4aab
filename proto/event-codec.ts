/**
 * Binary encoding of the events in the JetStream log. Layout (all integers little-endian):
 *
 * ```
 * offset size  field
 * 0      1     format version = 1
 * 1      1     kind: 1 = PixelPlaced, 2 = PixelRestored (3 = CanvasResized: its own layout, below)
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
 * `CanvasResized` (kind 3, written by `rplace canvas resize` as the operator) grows the canvas from its sequence
 * on. Its layout keeps the version, kind, `placedAt` and the two ids where every kind has them:
 *
 * ```
 * offset size  field
 * 0      1     format version = 1
 * 1      1     kind = 3
 * 2      2     new width (u16)
 * 4      2     new height (u16)
 * 6      2     reserved, 0
 * 8      8     placedAt (f64 holding an integer)
 * 16     2     originX (u16): where the old canvas's (0, 0) lands in the new one
 * 18     2     originY (u16)
 * 20     1     userId length U (1..64): the operator
 * 21     U     userId, UTF-8
 * 21+U   1     requestId length R (1..64): the resize id
 * 22+U   R     requestId, UTF-8
 * ```
 * Whether a resize is accepted (it only grows, the old area fits) is decided by every reader with the same
 * rule on the same log (src/domain/resize.ts), so this codec only checks its layout.
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
  /** The canvas grows from this sequence on (operator only; src/domain/resize.ts). */
  CanvasResized: 3,
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

/** The events that set one pixel. */
export type CanvasEvent = PixelPlaced | PixelRestored;

/** `userId` = the operator, `requestId` = the resize id; the old canvas lands at (`originX`, `originY`). */
export interface CanvasResized {
  readonly kind: typeof EventKind.CanvasResized;
  readonly width: number;
  readonly height: number;
  readonly originX: number;
  readonly originY: number;
  readonly userId: string;
  readonly requestId: string;
  readonly placedAt: number;
}

/** Every event the log holds. */
export type LogEvent = CanvasEvent | CanvasResized;

function isKnownKind(kind: number | undefined): kind is EventKind {
  return kind === EventKind.PixelPlaced || kind === EventKind.PixelRestored || kind === EventKind.CanvasResized;
}

/** Narrows a decoded event to the kinds that set one pixel. */
export function isPixelEvent(event: LogEvent): event is CanvasEvent {
  return event.kind !== EventKind.CanvasResized;
}

/** True for the kinds that set one pixel (`eventX`, `eventY`, `eventColor` apply). */
export function isPixelKind(kind: EventKind): boolean {
  return kind !== EventKind.CanvasResized;
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
  /** A `CanvasResized` the resize rule refuses (it would shrink, or the old area does not fit). */
  Resize: 'resize',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

/**
 * A well-formed event of a kind this reader does not know: the log was written by a newer version. Readers
 * must stop on it rather than skip it (a skipped resize would leave a projection at the wrong size for good):
 * upgrade the reader. Not an `EventDecodeError`, so no reader's skip rule catches it by accident.
 */
export class UnknownEventKind extends Error {
  override readonly name = 'UnknownEventKind';
  readonly kind: number;
  constructor(kind: number) {
    super(
      `unknown event kind ${kind}: the stream was written by a newer rplace; upgrade this reader (it stops rather than skip it)`,
    );
    this.kind = kind;
  }
}

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
/** `CanvasResized` adds the origin (2 × u16) before the ids. */
const RESIZE_HEADER_BYTES = 20;
const headerOf = (kind: number): number => (kind === EventKind.CanvasResized ? RESIZE_HEADER_BYTES : HEADER_BYTES);
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
const scratch = new Uint8Array(RESIZE_HEADER_BYTES + 2 + 2 * MAX_ID_BYTES);
const scratchView = new DataView(scratch.buffer);

export function encodeEvent(event: LogEvent): Uint8Array {
  // One allocation per event (was three: the two ids' encodings and the output).
  const header = headerOf(event.kind);
  const userAt = header + 1;
  const userBytes = encodeIdInto('userId', event.userId, scratch, userAt);
  const requestAt = userAt + userBytes;
  const requestBytes = encodeIdInto('requestId', event.requestId, scratch, requestAt + 1);
  scratchView.setUint8(0, EVENT_FORMAT_VERSION);
  scratchView.setUint8(1, event.kind);
  if (event.kind === EventKind.CanvasResized) {
    scratchView.setUint16(2, event.width, true);
    scratchView.setUint16(4, event.height, true);
    scratchView.setUint16(6, 0, true);
    scratchView.setUint16(16, event.originX, true);
    scratchView.setUint16(18, event.originY, true);
  } else {
    scratchView.setUint16(2, event.x, true);
    scratchView.setUint16(4, event.y, true);
    scratchView.setUint8(6, event.color);
    scratchView.setUint8(7, 0);
  }
  scratchView.setFloat64(8, event.placedAt, true);
  scratch[header] = userBytes;
  scratch[requestAt] = requestBytes;
  return scratch.slice(0, requestAt + 1 + requestBytes);
}

/**
 * The checks every reader of an encoded event makes before its ids (size, version, kind, id lengths): throws
 * `EventDecodeError` (`UnknownEventKind` for a well-formed header of a kind it does not know), else returns the
 * offset of the request id's length byte. The kind is then `bytes[1]`.
 */
function checkLayout(bytes: Uint8Array): number {
  if (bytes.length < HEADER_BYTES + 2)
    throw new EventDecodeError(`event too short: ${bytes.length} bytes`, RejectReason.Layout);
  const version = bytes[0] as number;
  if (version !== EVENT_FORMAT_VERSION)
    throw new EventDecodeError(`unknown event format version ${version}`, RejectReason.Version);
  const kind = bytes[1];
  if (!isKnownKind(kind)) throw new UnknownEventKind(kind as number);
  const header = headerOf(kind);
  if (bytes.length < header + 2)
    throw new EventDecodeError(`event too short: ${bytes.length} bytes`, RejectReason.Layout);
  if (kind === EventKind.CanvasResized && (bytes[6] !== 0 || bytes[7] !== 0))
    throw new EventDecodeError('resize event has non-zero reserved bytes', RejectReason.Layout);
  const userLength = bytes[header] ?? 0;
  const requestAt = header + 1 + userLength;
  const requestLength = bytes[requestAt] ?? 0;
  if (userLength < 1 || requestLength < 1 || requestAt + 1 + requestLength !== bytes.length) {
    throw new EventDecodeError('event id lengths do not match its size', RejectReason.Layout);
  }
  const placedAt = eventPlacedAt(bytes);
  if (!Number.isSafeInteger(placedAt) || placedAt < 0)
    throw new EventDecodeError(`placedAt ${placedAt} is not a time`, RejectReason.Time);
  return requestAt;
}

export function decodeEvent(bytes: Uint8Array): LogEvent {
  const requestAt = checkLayout(bytes);
  const kind = bytes[1] as EventKind;
  const requestLength = bytes[requestAt] as number;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (kind === EventKind.CanvasResized) {
      return {
        kind,
        width: view.getUint16(2, true),
        height: view.getUint16(4, true),
        originX: view.getUint16(16, true),
        originY: view.getUint16(18, true),
        placedAt: view.getFloat64(8, true),
        userId: utf8Decoder.decode(bytes.subarray(RESIZE_HEADER_BYTES + 1, requestAt)),
        requestId: utf8Decoder.decode(bytes.subarray(requestAt + 1, requestAt + 1 + requestLength)),
      };
    }
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
  const header = headerOf(kind);
  if (!isAscii(bytes, header + 1, requestAt) || !isAscii(bytes, requestAt + 1, bytes.length)) {
    try {
      utf8Decoder.decode(bytes.subarray(header + 1, requestAt));
      utf8Decoder.decode(bytes.subarray(requestAt + 1));
    } catch (cause) {
      throw new EventDecodeError('event ids are not valid UTF-8', RejectReason.Encoding, { cause });
    }
  }
  return kind;
}

/** Which family of subjects a stored message was found under (src/domain/names.ts `subjectClass`). */
export const SubjectClass = { Placement: 0, Moderation: 1, Resize: 2 } as const;
export type SubjectClass = (typeof SubjectClass)[keyof typeof SubjectClass];

const KIND_OF_SUBJECT: Readonly<Record<SubjectClass, EventKind>> = {
  [SubjectClass.Placement]: EventKind.PixelPlaced,
  [SubjectClass.Moderation]: EventKind.PixelRestored,
  [SubjectClass.Resize]: EventKind.CanvasResized,
};
const SUBJECT_LABEL = ['placement', 'moderation', 'resize'] as const;

/**
 * THE check every reader of the stream makes before it applies an event (stored-event.ts calls it for the
 * projectors, the edges' tail, rebuilds, point-in-time tails and moderation plans): `checkEvent`, then the
 * event against the canvas in force at its sequence (coordinates inside it, colour inside the palette), its
 * `placedAt` against the time the stream stored it, and its kind against the subject it was stored under
 * (`rplace.<canvas>.px.…`, `.mod.…` or `.ops.resize`: only the identity allowed to publish there wrote it).
 * Everything it reads is stored in the log, so every reader and every replay rejects exactly the same events.
 * A resize's own rule (it grows, the old area fits) is the caller's next step (src/domain/resize.ts).
 * Throws `EventDecodeError` (with its `reason`) or `UnknownEventKind`, else returns the kind.
 */
export function checkStoredEvent(
  bytes: Uint8Array,
  bounds: EventBounds,
  storedAtMs: number,
  subject: SubjectClass,
): EventKind {
  const kind = checkEvent(bytes);
  if (KIND_OF_SUBJECT[subject] !== kind) {
    throw new EventDecodeError(
      `event kind ${kind} stored under a ${SUBJECT_LABEL[subject]} subject`,
      RejectReason.Subject,
    );
  }
  const placedAt = eventPlacedAt(bytes);
  if (placedAt < storedAtMs - MAX_PLACED_BEFORE_STORED_MS || placedAt > storedAtMs + MAX_PLACED_AFTER_STORED_MS) {
    throw new EventDecodeError(`placedAt ${placedAt} is too far from the stored time ${storedAtMs}`, RejectReason.Time);
  }
  if (kind === EventKind.CanvasResized) return kind;
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

/** The resize's fields of an encoded `CanvasResized` that `checkEvent` accepted (no checks here). */
export function resizeOf(bytes: Uint8Array): { width: number; height: number; originX: number; originY: number } {
  const u16 = (at: number) => (bytes[at] as number) | ((bytes[at + 1] as number) << 8);
  return { width: u16(2), height: u16(4), originX: u16(16), originY: u16(18) };
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
  if (
    bytes.length < HEADER_BYTES + 2 ||
    bytes[0] !== EVENT_FORMAT_VERSION ||
    !isKnownKind(bytes[1]) ||
    !isPixelKind(bytes[1])
  ) {
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
