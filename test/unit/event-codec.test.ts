/**
 * The event codec against its documented layout (proto/event-codec.ts): golden vectors, a reference
 * encoder written independently from the byte table, rejection of anything it does not understand, and
 * fuzzing that decoding arbitrary bytes fails only with `EventDecodeError`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  checkEvent,
  checkStoredEvent,
  decodeEvent,
  decodePixel,
  encodeEvent,
  EventDecodeError,
  EventKind,
  eventColor,
  eventX,
  eventY,
  MAX_ID_BYTES,
  MAX_PLACED_AFTER_STORED_MS,
  MAX_PLACED_BEFORE_STORED_MS,
  RejectReason,
  type CanvasEvent,
  SubjectClass,
  UnknownEventKind,
  isPixelEvent,
  resizeOf,
  type LogEvent,
} from '../../proto/event-codec.ts';

interface Vector {
  readonly name: string;
  readonly event: LogEvent;
  readonly hex: string;
}
const vectors = JSON.parse(
  readFileSync(new URL('../../proto/vectors/events.json', import.meta.url), 'utf8'),
) as Vector[];
const bytesOf = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const hexOf = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

/** The layout table of proto/event-codec.ts, transcribed with Buffer writes (not DataView) on purpose. */
function referenceEncode(e: LogEvent): Uint8Array {
  if (e.kind === EventKind.CanvasResized) {
    const user = Buffer.from(e.userId, 'utf8');
    const request = Buffer.from(e.requestId, 'utf8');
    const out = Buffer.alloc(22 + user.length + request.length);
    out.writeUInt8(1, 0);
    out.writeUInt8(3, 1);
    out.writeUInt16LE(e.width, 2);
    out.writeUInt16LE(e.height, 4);
    out.writeDoubleLE(e.placedAt, 8);
    out.writeUInt16LE(e.originX, 16);
    out.writeUInt16LE(e.originY, 18);
    out.writeUInt8(user.length, 20);
    user.copy(out, 21);
    out.writeUInt8(request.length, 21 + user.length);
    request.copy(out, 22 + user.length);
    return new Uint8Array(out);
  }
  const user = Buffer.from(e.userId, 'utf8');
  const request = Buffer.from(e.requestId, 'utf8');
  const out = Buffer.alloc(18 + user.length + request.length);
  out.writeUInt8(1, 0);
  out.writeUInt8(e.kind, 1);
  out.writeUInt16LE(e.x, 2);
  out.writeUInt16LE(e.y, 4);
  out.writeUInt8(e.color, 6);
  out.writeUInt8(0, 7);
  out.writeDoubleLE(e.placedAt, 8);
  out.writeUInt8(user.length, 16);
  user.copy(out, 17);
  out.writeUInt8(request.length, 17 + user.length);
  request.copy(out, 18 + user.length);
  return new Uint8Array(out);
}

const utf8Length = (s: string) => Buffer.byteLength(s, 'utf8');
/** Ids of 1..64 UTF-8 bytes, including multi-byte characters. */
const idArb = fc
  .string({ unit: 'grapheme', minLength: 1, maxLength: 64 })
  .filter((s) => utf8Length(s) >= 1 && utf8Length(s) <= MAX_ID_BYTES);
const eventArb: fc.Arbitrary<CanvasEvent> = fc.record({
  kind: fc.constantFrom(EventKind.PixelPlaced, EventKind.PixelRestored),
  x: fc.integer({ min: 0, max: 0xffff }),
  y: fc.integer({ min: 0, max: 0xffff }),
  color: fc.integer({ min: 0, max: 0xff }),
  placedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  userId: idArb,
  requestId: idArb,
});

/** Random bytes behind a valid version byte and a known kind (random bytes alone rarely get past those). */
const behindValidHeader = fc.tuple(fc.constantFrom(1, 2), fc.uint8Array({ maxLength: 160 })).map(([kind, tail]) => {
  const bytes = new Uint8Array(2 + tail.length);
  bytes[0] = 1;
  bytes[1] = kind;
  bytes.set(tail, 2);
  return bytes;
});

describe('golden vectors (proto/vectors/events.json)', () => {
  it('has vectors for both kinds, the id-length limits and multi-byte UTF-8', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(6);
    expect(vectors.some((v) => utf8Length(v.event.userId) === MAX_ID_BYTES)).toBe(true);
    expect(vectors.some((v) => utf8Length(v.event.userId) === 1)).toBe(true);
    expect(vectors.some((v) => utf8Length(v.event.userId) > v.event.userId.length)).toBe(true);
  });

  for (const v of vectors) {
    it(`${v.name}: exact bytes both ways, and the reference encoder agrees`, () => {
      expect(hexOf(encodeEvent(v.event))).toBe(v.hex);
      expect(hexOf(referenceEncode(v.event))).toBe(v.hex);
      expect(decodeEvent(bytesOf(v.hex))).toEqual(v.event);
      const e = v.event;
      if (isPixelEvent(e)) expect(decodePixel(bytesOf(v.hex))).toEqual({ x: e.x, y: e.y, color: e.color });
      else
        expect(resizeOf(bytesOf(v.hex))).toEqual({
          width: e.width,
          height: e.height,
          originX: e.originX,
          originY: e.originY,
        });
    });
  }

  it('a typical placement is 46 bytes or less, as the layout comment promises', () => {
    const event: CanvasEvent = {
      kind: EventKind.PixelPlaced,
      x: 1,
      y: 2,
      color: 3,
      placedAt: Date.now(),
      userId: 'u_0123456789',
      requestId: '0123456789abcdef',
    };
    expect(encodeEvent(event).length).toBe(46);
  });

  it('decodes from a subarray that does not start at offset 0 of its buffer (as NATS payloads do)', () => {
    const v = vectors[0]!;
    const inner = bytesOf(v.hex);
    const outer = new Uint8Array(inner.length + 7);
    outer.set(inner, 3);
    expect(decodeEvent(outer.subarray(3, 3 + inner.length))).toEqual(v.event);
  });
});

describe('rejection', () => {
  const good = bytesOf(vectors[0]!.hex);
  const expectRejected = (bytes: Uint8Array, message: RegExp) => {
    expect(() => decodeEvent(bytes)).toThrow(EventDecodeError);
    expect(() => decodeEvent(bytes)).toThrow(message);
  };

  it('unknown format versions', () => {
    for (const version of [0, 2, 255]) {
      const bytes = good.slice();
      bytes[0] = version;
      expectRejected(bytes, /unknown event format version/);
      expect(() => decodePixel(bytes)).toThrow(EventDecodeError);
    }
  });

  it('unknown kinds: UnknownEventKind (a reader must stop, not skip), and decodePixel refuses them', () => {
    for (const kind of [0, 4, 255]) {
      const bytes = good.slice();
      bytes[1] = kind;
      expect(() => decodeEvent(bytes)).toThrow(UnknownEventKind);
      expect(() => checkEvent(bytes)).toThrow(UnknownEventKind);
      expect(() => decodePixel(bytes)).toThrow(EventDecodeError);
    }
  });

  it('a resize: its own layout, round trip, and its reserved bytes must be 0', () => {
    const resize = {
      kind: EventKind.CanvasResized,
      width: 2000,
      height: 1000,
      originX: 0,
      originY: 0,
      placedAt: 1649001600000,
      userId: 'operator',
      requestId: 'resize-1',
    } as const;
    const bytes = encodeEvent(resize);
    expect(bytes.length).toBe(20 + 1 + 8 + 1 + 8);
    expect(Buffer.from(bytes.subarray(16, 20)).toString('hex')).toBe('00000000');
    expect(decodeEvent(bytes)).toEqual(resize);
    expect(checkEvent(bytes)).toBe(EventKind.CanvasResized);
    const reserved = bytes.slice();
    reserved[6] = 1;
    expectRejected(reserved, /reserved/);
  });

  it('every truncation of a valid event, and the empty input', () => {
    for (let length = 0; length < good.length; length++) {
      expect(() => decodeEvent(good.subarray(0, length)), `length ${length}`).toThrow(EventDecodeError);
    }
    expect(() => decodePixel(new Uint8Array(0))).toThrow(EventDecodeError);
  });

  it('trailing garbage after a valid event', () => {
    const longer = new Uint8Array(good.length + 1);
    longer.set(good);
    expectRejected(longer, /lengths do not match/);
  });

  it('zero-length ids', () => {
    const bytes = bytesOf('0101000000000000000000000000000000' + '0162');
    expectRejected(bytes, /lengths do not match/);
  });

  it('ids that are not valid UTF-8', () => {
    const bytes = bytesOf(vectors.find((v) => v.event.userId === 'a')!.hex);
    bytes[17] = 0xff; // the single userId byte
    expectRejected(bytes, /not valid UTF-8/);
  });

  it('encoding refuses ids outside 1..64 UTF-8 bytes instead of writing a corrupt length byte', () => {
    const base = { kind: EventKind.PixelPlaced, x: 0, y: 0, color: 0, placedAt: 0 } as const;
    expect(() => encodeEvent({ ...base, userId: '', requestId: 'r' })).toThrow(RangeError);
    expect(() => encodeEvent({ ...base, userId: 'u', requestId: 'x'.repeat(65) })).toThrow(RangeError);
    expect(() => encodeEvent({ ...base, userId: 'é'.repeat(33), requestId: 'r' })).toThrow(RangeError); // 66 bytes
  });
});

describe('properties', () => {
  it('decode(encode(e)) equals e, and encode matches the reference layout', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const bytes = encodeEvent(event);
        expect(hexOf(bytes)).toBe(hexOf(referenceEncode(event)));
        expect(decodeEvent(bytes)).toEqual(event);
        expect(decodePixel(bytes)).toEqual({ x: event.x, y: event.y, color: event.color });
      }),
      { numRuns: 2_000 },
    );
  });

  it('decoding random bytes never throws anything but EventDecodeError', () => {
    const check = (bytes: Uint8Array) => {
      for (const decode of [decodeEvent, decodePixel]) {
        try {
          decode(bytes);
        } catch (error) {
          expect(error instanceof EventDecodeError || error instanceof UnknownEventKind).toBe(true);
        }
      }
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), check), { numRuns: 5_000 });
    // Random bytes almost never get past the version byte; also fuzz behind a valid header.
    fc.assert(fc.property(behindValidHeader, check), { numRuns: 5_000 });
  });

  it('flipping any single byte of a valid event either still decodes or throws EventDecodeError (UnknownEventKind for the kind byte)', () => {
    fc.assert(
      fc.property(eventArb, fc.nat(), fc.integer({ min: 1, max: 255 }), (event, at, delta) => {
        const bytes = encodeEvent(event);
        const i = at % bytes.length;
        bytes[i] = (bytes[i]! + delta) & 0xff;
        try {
          decodeEvent(bytes);
        } catch (error) {
          if (i === 1 && error instanceof UnknownEventKind) return;
          expect(error).toBeInstanceOf(EventDecodeError);
        }
      }),
      { numRuns: 2_000 },
    );
  });
});

/** `checkEvent` + the field readers must accept and reject exactly what `decodeEvent` does (the one skip rule). */
describe('checkEvent agrees with decodeEvent', () => {
  const outcome = (decode: () => unknown) => {
    try {
      return { ok: decode() };
    } catch (error) {
      expect(error instanceof EventDecodeError || error instanceof UnknownEventKind).toBe(true);
      return { error: (error as Error).message };
    }
  };
  const agree = (bytes: Uint8Array) => {
    const full = outcome(() => {
      const event = decodeEvent(bytes);
      return isPixelEvent(event)
        ? { kind: event.kind, x: event.x, y: event.y, color: event.color }
        : { kind: event.kind, ...resizeOf(bytes) };
    });
    const checked = outcome(() => {
      const kind = checkEvent(bytes);
      if (kind === EventKind.CanvasResized) return { kind, ...resizeOf(bytes) };
      return { kind, x: eventX(bytes), y: eventY(bytes), color: eventColor(bytes) };
    });
    expect(checked).toEqual(full);
  };

  it('on every golden vector and every rejection case above', () => {
    for (const v of vectors) agree(bytesOf(v.hex));
    const good = bytesOf(vectors[0]!.hex);
    for (let length = 0; length <= good.length; length++) agree(good.subarray(0, length));
    const badUser = bytesOf(vectors.find((v) => v.event.userId === 'a')!.hex);
    badUser[17] = 0xff;
    agree(badUser);
    const badRequest = bytesOf(vectors.find((v) => v.event.userId === 'a')!.hex);
    badRequest[19] = 0xc3; // a lone lead byte in the requestId
    agree(badRequest);
    expect(() => checkEvent(badRequest)).toThrow(/not valid UTF-8/);
  });

  it('on random events, single-byte flips and random tails behind a valid header', () => {
    fc.assert(
      fc.property(eventArb, fc.nat(), fc.integer({ min: 0, max: 255 }), (event, at, delta) => {
        const bytes = encodeEvent(event);
        agree(bytes);
        const i = at % bytes.length;
        bytes[i] = (bytes[i]! + delta) & 0xff;
        agree(bytes);
      }),
      { numRuns: 3_000 },
    );
    fc.assert(fc.property(behindValidHeader, agree), { numRuns: 3_000 });
  });
});

describe('checkStoredEvent: the one check every reader of the stream makes (given a stored event, when checked, then the reason)', () => {
  const bounds = { width: 2000, height: 2000, colors: 32 };
  const storedAt = 1_764_580_000_000;
  const placed = (over: Partial<CanvasEvent> = {}): CanvasEvent =>
    ({
      kind: EventKind.PixelPlaced,
      x: 1999,
      y: 1999,
      color: 31,
      userId: 'u1',
      requestId: 'r1',
      placedAt: storedAt - 5,
      ...over,
    }) as CanvasEvent;
  const reasonOf = (bytes: Uint8Array, moderation = false): string | null => {
    try {
      checkStoredEvent(bytes, bounds, storedAt, moderation ? SubjectClass.Moderation : SubjectClass.Placement);
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(EventDecodeError);
      return (error as EventDecodeError).reason;
    }
  };

  it('checks each kind against its own subject: a resize only under the resize subject', () => {
    const resize = encodeEvent({
      kind: EventKind.CanvasResized,
      width: 4000,
      height: 4000,
      originX: 0,
      originY: 0,
      placedAt: storedAt,
      userId: 'operator',
      requestId: 'rs',
    });
    expect(checkStoredEvent(resize, bounds, storedAt, SubjectClass.Resize)).toBe(EventKind.CanvasResized);
    expect(reasonOf(resize)).toBe(RejectReason.Subject);
    expect(reasonOf(resize, true)).toBe(RejectReason.Subject);
    expect(() => checkStoredEvent(encodeEvent(placed()), bounds, storedAt, SubjectClass.Resize)).toThrow(
      /resize subject/,
    );
  });

  it('accepts an event on the last pixel, last colour, at the edges of the time window', () => {
    expect(reasonOf(encodeEvent(placed()))).toBeNull();
    expect(reasonOf(encodeEvent(placed({ placedAt: storedAt - MAX_PLACED_BEFORE_STORED_MS })))).toBeNull();
    expect(reasonOf(encodeEvent(placed({ placedAt: storedAt + MAX_PLACED_AFTER_STORED_MS })))).toBeNull();
    expect(reasonOf(encodeEvent(placed({ kind: EventKind.PixelRestored })), true)).toBeNull();
  });

  it('rejects each forged kind with its reason', () => {
    expect(reasonOf(encodeEvent(placed({ x: 65535 })))).toBe(RejectReason.Bounds);
    expect(reasonOf(encodeEvent(placed({ x: 2500 })))).toBe(RejectReason.Bounds);
    expect(reasonOf(encodeEvent(placed({ y: 2000 })))).toBe(RejectReason.Bounds);
    expect(reasonOf(encodeEvent(placed({ color: 200 })))).toBe(RejectReason.Color);
    expect(reasonOf(encodeEvent(placed({ color: 32 })))).toBe(RejectReason.Color);
    expect(reasonOf(encodeEvent(placed({ placedAt: Number.NaN })))).toBe(RejectReason.Time);
    expect(reasonOf(encodeEvent(placed({ placedAt: Number.POSITIVE_INFINITY })))).toBe(RejectReason.Time);
    expect(reasonOf(encodeEvent(placed({ placedAt: storedAt + 0.5 })))).toBe(RejectReason.Time);
    expect(reasonOf(encodeEvent(placed({ placedAt: -1 })))).toBe(RejectReason.Time);
    expect(reasonOf(encodeEvent(placed({ placedAt: storedAt + MAX_PLACED_AFTER_STORED_MS + 1 })))).toBe(
      RejectReason.Time,
    );
    expect(reasonOf(encodeEvent(placed({ placedAt: storedAt - MAX_PLACED_BEFORE_STORED_MS - 1 })))).toBe(
      RejectReason.Time,
    );
    expect(reasonOf(encodeEvent(placed({ placedAt: 8.64e15 })))).toBe(RejectReason.Time);
    const unknownKind = encodeEvent(placed());
    unknownKind[1] = 9;
    expect(() => checkStoredEvent(unknownKind, bounds, storedAt, SubjectClass.Placement)).toThrow(UnknownEventKind);
    const unknownVersion = encodeEvent(placed());
    unknownVersion[0] = 2;
    expect(reasonOf(unknownVersion)).toBe(RejectReason.Version);
    expect(reasonOf(encodeEvent(placed()).subarray(0, 20))).toBe(RejectReason.Layout);
    expect(reasonOf(new Uint8Array(0))).toBe(RejectReason.Layout);
  });

  it('rejects a moderation event on a placement subject and a placement on a moderation subject', () => {
    expect(reasonOf(encodeEvent(placed({ kind: EventKind.PixelRestored })), false)).toBe(RejectReason.Subject);
    expect(reasonOf(encodeEvent(placed()), true)).toBe(RejectReason.Subject);
  });
});
