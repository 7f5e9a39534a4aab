import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, FrameDecodeError, FrameType } from '../../proto/frames.ts';
import { encodeTileFrame, encodeTilePixelsFrame, forEachTilePixel } from '../../proto/tile-frames.ts';

const vectors = JSON.parse(readFileSync(new URL('../../proto/vectors/frames.json', import.meta.url), 'utf8'));
const bytes = (hex: string) => Uint8Array.from(Buffer.from(hex, 'hex'));
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('viewport frames: golden vectors', () => {
  for (const v of vectors.tilePixels) {
    it(`tile-pixels "${v.name}" encodes to and decodes from its bytes`, () => {
      const records = Uint8Array.from(
        v.pixels.flatMap((p: { dx: number; dy: number; color: number }) => [p.dx, p.dy, p.color]),
      );
      expect(hex(encodeTilePixelsFrame(v.tx, v.ty, v.prevSeq, v.seq, records, v.pixels.length))).toBe(v.hex);
      const frame = decodeFrame(bytes(v.hex));
      if (frame.type !== FrameType.TilePixels) throw new Error('not a tile-pixels frame');
      expect([frame.tx, frame.ty, frame.prevSeq, frame.seq]).toEqual([v.tx, v.ty, v.prevSeq, v.seq]);
      const seen: { x: number; y: number; color: number }[] = [];
      forEachTilePixel(frame, (x, y, color) => seen.push({ x, y, color }));
      expect(seen).toEqual(
        v.pixels.map((p: { dx: number; dy: number; color: number }) => ({
          x: v.tx * 256 + p.dx,
          y: v.ty * 256 + p.dy,
          color: p.color,
        })),
      );
    });
  }
  for (const v of vectors.tile) {
    it(`tile "${v.name}" encodes to and decodes from its bytes`, () => {
      expect(hex(encodeTileFrame(v.tx, v.ty, v.seq, v.width, v.height, bytes(v.data)))).toBe(v.hex);
      expect(decodeFrame(bytes(v.hex))).toMatchObject({
        type: FrameType.Tile,
        tx: v.tx,
        ty: v.ty,
        seq: v.seq,
        width: v.width,
        height: v.height,
        data: bytes(v.data),
      });
    });
  }

  it('never throws anything but FrameDecodeError on random tile frames, and never reads past them', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.constantFrom(3, 4), (random, type) => {
        const input = Uint8Array.from([1, type, ...random]);
        try {
          const frame = decodeFrame(input);
          if (frame.type === FrameType.TilePixels) expect(26 + frame.count * 3).toBe(input.length);
          else if (frame.type === FrameType.Tile) expect(19 + frame.width * frame.height).toBe(input.length);
        } catch (error) {
          expect(error).toBeInstanceOf(FrameDecodeError);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
