import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  decodeEvent,
  decodePixel,
  encodeEvent,
  EventDecodeError,
  EventKind,
  type CanvasEvent,
} from '../../proto/event-codec.ts';

const vectors = JSON.parse(readFileSync(new URL('../../proto/vectors/events.json', import.meta.url), 'utf8')) as {
  name: string;
  event: CanvasEvent;
  hex: string;
}[];

describe('event codec golden vectors (proto/vectors/events.json)', () => {
  it('covers both kinds', () => {
    expect(new Set(vectors.map((v) => v.event.kind))).toEqual(
      new Set([EventKind.PixelPlaced, EventKind.PixelRestored]),
    );
  });
  for (const v of vectors) {
    it(`${v.name}: encodes to the stored bytes and decodes back`, () => {
      const bytes = Uint8Array.from(Buffer.from(v.hex, 'hex'));
      expect(Buffer.from(encodeEvent(v.event)).toString('hex')).toBe(v.hex);
      expect(decodeEvent(bytes)).toEqual(v.event);
      expect(decodePixel(bytes)).toEqual({ x: v.event.x, y: v.event.y, color: v.event.color });
    });
  }
  it('still rejects an unknown kind in both decoders', () => {
    const bytes = Uint8Array.from(Buffer.from(vectors[0]!.hex, 'hex'));
    bytes[1] = 3;
    expect(() => decodeEvent(bytes)).toThrow(EventDecodeError);
    expect(() => decodePixel(bytes)).toThrow(EventDecodeError);
  });
});
