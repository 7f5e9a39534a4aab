import { describe, expect, it } from 'vitest';
import { createApngWriter, encodePng } from '../../src/adapters/image/png.ts';
import { parseTime } from '../../src/domain/time.ts';
import { frameTimes } from '../../src/app/history/timelapse.ts';
import { PALETTE_16, paletteRgba } from '../../src/domain/palette.ts';
import { decodePng } from '../helpers/png.ts';

describe('palette PNG encoder', () => {
  it('given indices, when encoded as PNG, then a strict decoder returns the same indices and palette', async () => {
    const pixels = Uint8Array.from({ length: 7 * 5 }, (_, i) => (i * 7) % 16);
    const decoded = decodePng(await encodePng(pixels, 7, 5, PALETTE_16));
    expect([decoded.width, decoded.height, decoded.declaredFrames]).toEqual([7, 5, 1]);
    expect(Buffer.from(decoded.frames[0]!)).toEqual(Buffer.from(pixels));
    const rgba = paletteRgba(PALETTE_16);
    expect(decoded.palette[5]).toEqual([rgba[20], rgba[21], rgba[22]]);
  });

  it('given three frames, when written as APNG, then each frame decodes with its delay', async () => {
    const writer = createApngWriter(4, 3, 3, 5, PALETTE_16);
    const frames = [0, 1, 2].map((f) => Uint8Array.from({ length: 12 }, (_, i) => (i + f) % 16));
    const parts = [writer.header()];
    for (const f of frames) parts.push(await writer.frame(f));
    parts.push(writer.end());
    const decoded = decodePng(Buffer.concat(parts));
    expect(decoded.declaredFrames).toBe(3);
    expect(decoded.frames.map((f) => Buffer.from(f))).toEqual(frames.map((f) => Buffer.from(f)));
    expect(decoded.delays).toEqual([0.2, 0.2, 0.2]);
  });

  it('refuses a frame of the wrong size and a short animation', async () => {
    const writer = createApngWriter(2, 2, 2, 1, PALETTE_16);
    writer.header();
    await expect(writer.frame(new Uint8Array(3))).rejects.toThrow(RangeError);
    await writer.frame(new Uint8Array(4));
    expect(() => writer.end()).toThrow(/declared 2 frames/);
  });
});

describe('history time parsing and frame times', () => {
  it('accepts ISO with a zone and epoch ms, refuses the rest', () => {
    expect(parseTime('2026-04-01T12:00:00Z')).toBe(Date.UTC(2026, 3, 1, 12));
    expect(parseTime('2026-04-01T14:00:00.5+02:00')).toBe(Date.UTC(2026, 3, 1, 12, 0, 0, 500));
    expect(parseTime('1700000000000')).toBe(1_700_000_000_000);
    for (const bad of ['2026-04-01', '2026-04-01T12:00:00', 'yesterday', '', '-5', '2026-13-01T00:00:00Z'])
      expect(parseTime(bad), bad).toBeNull();
  });

  it('spaces frames evenly from the first instant to the last', () => {
    expect(frameTimes(0, 100, 5)).toEqual([0, 25, 50, 75, 100]);
    expect(frameTimes(0, 100, 1)).toEqual([100]);
  });
});
