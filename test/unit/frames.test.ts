import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CanvasEncoding,
  decodeFrame,
  encodeCanvasFrame,
  encodePixelsFrame,
  FrameDecodeError,
  FrameType,
  forEachPixel,
  writePixelRecord,
} from '../../proto/frames.ts';

interface Vectors {
  pixels: {
    name: string;
    firstSeq: number;
    lastSeq: number;
    pixels: { x: number; y: number; color: number }[];
    hex: string;
  }[];
  canvas: { name: string; seq: number; width: number; height: number; encoding: number; data: string; hex: string }[];
  invalid: { name: string; hex: string }[];
}
const vectors = JSON.parse(
  readFileSync(new URL('../../proto/vectors/frames.json', import.meta.url), 'utf8'),
) as Vectors;
const bytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('pixels frames: golden vectors', () => {
  for (const v of vectors.pixels) {
    it(`encodes and decodes "${v.name}"`, () => {
      const records = new Uint8Array(v.pixels.length * 5);
      v.pixels.forEach((p, i) => writePixelRecord(records, i, p.x, p.y, p.color));
      expect(hexOf(encodePixelsFrame(v.firstSeq, v.lastSeq, records, v.pixels.length))).toBe(v.hex);
      const frame = decodeFrame(bytes(v.hex));
      if (frame.type !== FrameType.Pixels) throw new Error('expected pixels');
      expect([frame.firstSeq, frame.lastSeq, frame.count]).toEqual([v.firstSeq, v.lastSeq, v.pixels.length]);
      const seen: { x: number; y: number; color: number }[] = [];
      forEachPixel(frame, (x, y, color) => seen.push({ x, y, color }));
      expect(seen).toEqual(v.pixels);
    });
  }
});

describe('canvas frames: golden vectors', () => {
  for (const v of vectors.canvas) {
    it(`encodes and decodes "${v.name}"`, () => {
      expect(hexOf(encodeCanvasFrame(v.seq, v.width, v.height, v.encoding as CanvasEncoding, bytes(v.data)))).toBe(
        v.hex,
      );
      const frame = decodeFrame(bytes(v.hex));
      if (frame.type !== FrameType.Canvas) throw new Error('expected canvas');
      expect([frame.seq, frame.width, frame.height, frame.encoding, hexOf(frame.data)]).toEqual([
        v.seq,
        v.width,
        v.height,
        v.encoding,
        v.data,
      ]);
    });
  }
});

describe('malformed frames', () => {
  for (const v of vectors.invalid) {
    it(`rejects "${v.name}" with FrameDecodeError`, () => {
      expect(() => decodeFrame(bytes(v.hex))).toThrow(FrameDecodeError);
    });
  }

  it('never throws anything but FrameDecodeError on random bytes, and never reads past the input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (random, plausibleHeader) => {
        const input = random.slice();
        if (plausibleHeader && input.length >= 2) {
          input[0] = 1;
          input[1] = (input[1] as number) % 3;
        }
        try {
          const frame = decodeFrame(input);
          if (frame.type === FrameType.Pixels) {
            expect(22 + frame.count * 5).toBe(input.length);
            forEachPixel(frame, () => undefined);
          } else if (frame.type === FrameType.Canvas) {
            expect(frame.data.length).toBe(input.length - 15);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(FrameDecodeError);
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('rejects an oversized count without allocating for it', () => {
    const frame = encodePixelsFrame(1, 1, new Uint8Array(5), 1);
    new DataView(frame.buffer).setUint32(18, 0xffffffff, true);
    expect(() => decodeFrame(frame)).toThrow(FrameDecodeError);
  });

  it('round-trips any valid pixels frame', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 50 }),
        fc.array(
          fc.record({
            x: fc.integer({ min: 0, max: 65535 }),
            y: fc.integer({ min: 0, max: 65535 }),
            color: fc.integer({ min: 0, max: 255 }),
          }),
          { maxLength: 50 },
        ),
        (first, pixels) => {
          const records = new Uint8Array(pixels.length * 5);
          pixels.forEach((p, i) => writePixelRecord(records, i, p.x, p.y, p.color));
          const frame = decodeFrame(encodePixelsFrame(first, first + pixels.length - 1, records, pixels.length));
          if (frame.type !== FrameType.Pixels) throw new Error('expected pixels');
          const seen: typeof pixels = [];
          forEachPixel(frame, (x, y, color) => seen.push({ x, y, color }));
          expect(seen).toEqual(pixels);
        },
      ),
    );
  });
});
