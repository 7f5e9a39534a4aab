/**
 * A small PNG / APNG encoder for palette images, on node:zlib (no dependency: a palette PNG is a handful of
 * chunks, and our pixels already ARE palette indices, so a frame is the canvas bytes with a 0 filter byte
 * per row, deflated).
 *
 * Layout: signature, IHDR (colour type 3 = indexed, depth 8), [acTL], PLTE, then per frame:
 * PNG: IDAT. APNG: fcTL + IDAT for frame 0, fcTL + fdAT for the others (one sequence counter shared by
 * fcTL and fdAT, from 0), then IEND. Every chunk is length (u32 BE), type, data, CRC-32 of type+data.
 */
import { promisify } from 'node:util';
import { crc32, deflate } from 'node:zlib';
import type { PaletteColor } from '../../domain/palette.ts';
import { paletteRgba } from '../../domain/palette.ts';

const deflateAsync = promisify(deflate);
const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function ihdr(width: number, height: number): Uint8Array {
  const data = new Uint8Array(13);
  const view = new DataView(data.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  data[8] = 8; // bit depth
  data[9] = 3; // indexed colour
  return chunk('IHDR', data);
}

function plte(palette: readonly PaletteColor[]): Uint8Array {
  const rgba = paletteRgba(palette);
  const data = new Uint8Array(palette.length * 3);
  for (let i = 0; i < palette.length; i++) {
    data[i * 3] = rgba[i * 4] as number;
    data[i * 3 + 1] = rgba[i * 4 + 1] as number;
    data[i * 3 + 2] = rgba[i * 4 + 2] as number;
  }
  return chunk('PLTE', data);
}

/** Rows prefixed with filter type 0, deflated. */
async function imageData(indices: Uint8Array, width: number, height: number, level: number): Promise<Uint8Array> {
  const raw = new Uint8Array(height * (width + 1));
  for (let y = 0; y < height; y++) raw.set(indices.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return deflateAsync(raw, { level });
}

function checkSize(indices: Uint8Array, width: number, height: number): void {
  if (width < 1 || height < 1 || indices.length !== width * height) {
    throw new RangeError(`image is ${indices.length} bytes, not ${width}×${height}`);
  }
}

/** A still palette PNG. */
export async function encodePng(
  indices: Uint8Array,
  width: number,
  height: number,
  palette: readonly PaletteColor[],
  level = 6,
): Promise<Uint8Array> {
  checkSize(indices, width, height);
  return concat([
    SIGNATURE,
    ihdr(width, height),
    plte(palette),
    chunk('IDAT', await imageData(indices, width, height, level)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

export interface ApngWriter {
  /** Signature, IHDR, acTL and PLTE: send first. */
  header(): Uint8Array;
  /** One frame's chunks; call exactly `frames` times. */
  frame(indices: Uint8Array): Promise<Uint8Array>;
  /** IEND. */
  end(): Uint8Array;
}

/** An animated PNG streamed frame by frame: every frame covers the whole image, shown for 1/fps s, looping. */
export function createApngWriter(
  width: number,
  height: number,
  frames: number,
  fps: number,
  palette: readonly PaletteColor[],
  level = 6,
): ApngWriter {
  let sequence = 0;
  let written = 0;
  return {
    header() {
      const actl = new Uint8Array(8);
      new DataView(actl.buffer).setUint32(0, frames); // num_plays 0 = loop forever
      return concat([SIGNATURE, ihdr(width, height), chunk('acTL', actl), plte(palette)]);
    },
    async frame(indices) {
      checkSize(indices, width, height);
      if (written >= frames) throw new RangeError(`APNG declared ${frames} frames`);
      const data = await imageData(indices, width, height, level);
      const fctl = new Uint8Array(26);
      const view = new DataView(fctl.buffer);
      view.setUint32(0, sequence++);
      view.setUint32(4, width);
      view.setUint32(8, height);
      view.setUint16(20, 1); // delay = 1/fps s
      view.setUint16(22, fps);
      // dispose_op 0 (none), blend_op 0 (source): each frame replaces the image.
      const parts = [chunk('fcTL', fctl)];
      if (written === 0) {
        parts.push(chunk('IDAT', data));
      } else {
        const fdat = new Uint8Array(4 + data.length);
        new DataView(fdat.buffer).setUint32(0, sequence++);
        fdat.set(data, 4);
        parts.push(chunk('fdAT', fdat));
      }
      written++;
      return concat(parts);
    },
    end() {
      if (written !== frames) throw new RangeError(`APNG declared ${frames} frames, wrote ${written}`);
      return chunk('IEND', new Uint8Array(0));
    },
  };
}
