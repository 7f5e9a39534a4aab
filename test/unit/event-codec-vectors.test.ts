import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  decodeEvent,
  decodePixel,
  encodeEvent,
  EventDecodeError,
  EventKind,
  isPixelEvent,
  UnknownEventKind,
  type LogEvent,
} from '../../proto/event-codec.ts';

const vectors = JSON.parse(readFileSync(new URL('../../proto/vectors/events.json', import.meta.url), 'utf8')) as {
  name: string;
  event: LogEvent;
  hex: string;
}[];

describe('event codec golden vectors (proto/vectors/events.json)', () => {
  it('covers every kind', () => {
    expect(new Set(vectors.map((v) => v.event.kind))).toEqual(
      new Set([EventKind.PixelPlaced, EventKind.PixelRestored, EventKind.CanvasResized]),
    );
  });
  for (const v of vectors) {
    it(`${v.name}: encodes to the stored bytes and decodes back`, () => {
      const bytes = Uint8Array.from(Buffer.from(v.hex, 'hex'));
      expect(Buffer.from(encodeEvent(v.event)).toString('hex')).toBe(v.hex);
      expect(decodeEvent(bytes)).toEqual(v.event);
      const event = v.event;
      if (isPixelEvent(event)) expect(decodePixel(bytes)).toEqual({ x: event.x, y: event.y, color: event.color });
      else expect(() => decodePixel(bytes)).toThrow(EventDecodeError); // a resize sets no pixel
    });
  }
  it('stops on an unknown kind (a newer writer) with UnknownEventKind, and decodePixel refuses it', () => {
    const bytes = Uint8Array.from(Buffer.from(vectors[0]!.hex, 'hex'));
    bytes[1] = 4;
    expect(() => decodeEvent(bytes)).toThrow(UnknownEventKind);
    expect(() => decodeEvent(bytes)).toThrow(/unknown event kind 4: .*upgrade this reader/);
    expect(() => decodePixel(bytes)).toThrow(EventDecodeError);
  });
  it('old events decode unchanged: the version-1 pixel vectors keep their bytes', () => {
    const pixelVectors = vectors.filter((v) => v.event.kind !== EventKind.CanvasResized);
    expect(pixelVectors.length).toBe(7);
    for (const v of pixelVectors) expect(Buffer.from(encodeEvent(v.event)).toString('hex')).toBe(v.hex);
  });
});
