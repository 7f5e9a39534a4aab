/**
 * A strict PNG/APNG decoder for tests (and an RGBA encoder): checks the signature and every CRC, supports indexed colour with all
 * five row filters, and returns each frame's palette indices plus the palette, so a test can assert pixels.
 */
import { crc32, deflateSync, inflateSync } from 'node:zlib';

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  readonly palette: readonly [number, number, number][];
  /** Declared frame count (acTL), or 1 for a still PNG. */
  readonly declaredFrames: number;
  readonly frames: readonly Uint8Array[];
  readonly delays: readonly number[];
}

export function decodePng(bytes: Uint8Array): DecodedPng {
  const sig = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  sig.forEach((b, i) => {
    if (bytes[i] !== b) throw new Error('bad PNG signature');
  });
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 8;
  let width = 0,
    height = 0,
    declaredFrames = 1;
  const palette: [number, number, number][] = [];
  const frameData: Uint8Array[][] = [];
  const delays: number[] = [];
  let current: Uint8Array[] | null = null;
  let ended = false;
  while (at < bytes.length) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    const data = bytes.subarray(at + 8, at + 8 + length);
    if (crc32(bytes.subarray(at + 4, at + 8 + length)) !== view.getUint32(at + 8 + length))
      throw new Error(`bad CRC in ${type}`);
    at += 12 + length;
    const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (type === 'IHDR') {
      width = dv.getUint32(0);
      height = dv.getUint32(4);
      if (data[8] !== 8 || data[9] !== 3) throw new Error('only 8-bit indexed PNGs are supported');
    } else if (type === 'PLTE') {
      for (let i = 0; i < length; i += 3)
        palette.push([data[i] as number, data[i + 1] as number, data[i + 2] as number]);
    } else if (type === 'acTL') {
      declaredFrames = dv.getUint32(0);
    } else if (type === 'fcTL') {
      if (dv.getUint32(4) !== width || dv.getUint32(8) !== height) throw new Error('partial frames not supported');
      delays.push(dv.getUint16(20) / (dv.getUint16(22) || 100));
      current = [];
      frameData.push(current);
    } else if (type === 'IDAT') {
      if (!current) {
        current = [];
        frameData.push(current);
      }
      current.push(data);
    } else if (type === 'fdAT') {
      if (!current) throw new Error('fdAT before fcTL');
      current.push(data.subarray(4));
    } else if (type === 'IEND') {
      ended = true;
    }
  }
  if (!ended) throw new Error('missing IEND');
  const frames = frameData.map((parts) => unfilter(inflateSync(Buffer.concat(parts)), width, height));
  return { width, height, palette, declaredFrames, frames, delays };
}

function unfilter(raw: Uint8Array, width: number, height: number): Uint8Array {
  if (raw.length !== height * (width + 1))
    throw new Error(`image data is ${raw.length} bytes, expected ${height * (width + 1)}`);
  const out = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (width + 1)];
    for (let x = 0; x < width; x++) {
      const v = raw[y * (width + 1) + 1 + x] as number;
      const a = x > 0 ? (out[y * width + x - 1] as number) : 0;
      const b = y > 0 ? (out[(y - 1) * width + x] as number) : 0;
      const c = x > 0 && y > 0 ? (out[(y - 1) * width + x - 1] as number) : 0;
      let p: number;
      if (filter === 0) p = 0;
      else if (filter === 1) p = a;
      else if (filter === 2) p = b;
      else if (filter === 3) p = (a + b) >> 1;
      else if (filter === 4) {
        const pa = Math.abs(b - c),
          pb = Math.abs(a - c),
          pc = Math.abs(a + b - 2 * c);
        p = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`bad filter ${filter}`);
      out[y * width + x] = (v + p) & 0xff;
    }
  }
  return out;
}

/** An 8-bit RGBA PNG (colour type 6), for template images with transparency and colours off the palette. */
export function encodeRgbaPng(rgba: Uint8Array, width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  const raw = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
