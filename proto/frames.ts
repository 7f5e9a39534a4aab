/**
 * Binary server → client frames. All integers little-endian; sequences are f64 holding integers
 * (exact to 2^53, readable with one DataView call in every browser).
 *
 * PIXELS (type 1): every event with stream sequence in [firstSeq, lastSeq], in order.
 * ```
 * 0   1  protocol version (1)
 * 1   1  frame type = 1
 * 2   8  firstSeq (f64)
 * 10  8  lastSeq (f64)
 * 18  4  count N (u32)
 * 22  5N N × { x u16, y u16, color u8 }
 * ```
 * A client whose last applied sequence is L applies a frame only when firstSeq == L + 1; a frame with
 * lastSeq ≤ L is old and skipped; firstSeq > L + 1 is a gap (send `resume`).
 *
 * CANVAS (type 2): the whole canvas at sequence `seq`.
 * ```
 * 0   1  protocol version (1)
 * 1   1  frame type = 2
 * 2   8  seq (f64)
 * 10  2  width (u16)
 * 12  2  height (u16)
 * 14  1  encoding: 0 = raw bytes, 1 = deflate (RFC 1951, raw)
 * 15  …  width × height palette indices, row-major, encoded as stated
 * ```
 * Golden vectors: `proto/vectors/frames.json`.
 */
import { PROTOCOL_VERSION } from './version.ts';
import { decodeTileFrame, type TileFrame, type TilePixelsFrame } from './tile-frames.ts';
import { FrameDecodeError } from './frame-error.ts';

export { FrameDecodeError };

export const FrameType = { Pixels: 1, Canvas: 2, TilePixels: 3, Tile: 4 } as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const CanvasEncoding = { Raw: 0, Deflate: 1 } as const;
export type CanvasEncoding = (typeof CanvasEncoding)[keyof typeof CanvasEncoding];

export const PIXELS_HEADER_BYTES = 22;
export const PIXEL_RECORD_BYTES = 5;
export const CANVAS_HEADER_BYTES = 15;

export interface PixelRecord {
  x: number;
  y: number;
  color: number;
}

export interface PixelsFrame {
  readonly type: typeof FrameType.Pixels;
  readonly firstSeq: number;
  readonly lastSeq: number;
  /** Packed records; read with `pixelAt` or `forEachPixel` to avoid allocating per pixel. */
  readonly records: Uint8Array;
  readonly count: number;
}

export interface CanvasFrame {
  readonly type: typeof FrameType.Canvas;
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  readonly encoding: CanvasEncoding;
  readonly data: Uint8Array;
}

/** Encodes pixels given as parallel packed records (already `x u16, y u16, color u8` × count). */
export function encodePixelsFrame(firstSeq: number, lastSeq: number, records: Uint8Array, count: number): Uint8Array {
  if (records.length < count * PIXEL_RECORD_BYTES) throw new RangeError('records shorter than count');
  const out = new Uint8Array(PIXELS_HEADER_BYTES + count * PIXEL_RECORD_BYTES);
  const view = new DataView(out.buffer);
  out[0] = PROTOCOL_VERSION;
  out[1] = FrameType.Pixels;
  view.setFloat64(2, firstSeq, true);
  view.setFloat64(10, lastSeq, true);
  view.setUint32(18, count, true);
  out.set(records.subarray(0, count * PIXEL_RECORD_BYTES), PIXELS_HEADER_BYTES);
  return out;
}

/** Writes one pixel record at index `i` of a packed records buffer. */
export function writePixelRecord(records: Uint8Array, i: number, x: number, y: number, color: number): void {
  const o = i * PIXEL_RECORD_BYTES;
  records[o] = x & 0xff;
  records[o + 1] = x >>> 8;
  records[o + 2] = y & 0xff;
  records[o + 3] = y >>> 8;
  records[o + 4] = color;
}

export function forEachPixel(frame: PixelsFrame, visit: (x: number, y: number, color: number) => void): void {
  const r = frame.records;
  for (let o = 0; o < frame.count * PIXEL_RECORD_BYTES; o += PIXEL_RECORD_BYTES) {
    visit(
      (r[o] as number) | ((r[o + 1] as number) << 8),
      (r[o + 2] as number) | ((r[o + 3] as number) << 8),
      r[o + 4] as number,
    );
  }
}

export function encodeCanvasFrame(
  seq: number,
  width: number,
  height: number,
  encoding: CanvasEncoding,
  data: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(CANVAS_HEADER_BYTES + data.length);
  const view = new DataView(out.buffer);
  out[0] = PROTOCOL_VERSION;
  out[1] = FrameType.Canvas;
  view.setFloat64(2, seq, true);
  view.setUint16(10, width, true);
  view.setUint16(12, height, true);
  out[14] = encoding;
  out.set(data, CANVAS_HEADER_BYTES);
  return out;
}

export type Frame = PixelsFrame | CanvasFrame | TilePixelsFrame | TileFrame;

/** Decodes a binary frame; throws `FrameDecodeError` on anything malformed (never reads out of bounds). */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length < 2) throw new FrameDecodeError('frame shorter than 2 bytes');
  if (bytes[0] !== PROTOCOL_VERSION) throw new FrameDecodeError(`unsupported protocol version ${bytes[0]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[1] === FrameType.Pixels) {
    if (bytes.length < PIXELS_HEADER_BYTES) throw new FrameDecodeError('pixels frame header truncated');
    const count = view.getUint32(18, true);
    if (bytes.length !== PIXELS_HEADER_BYTES + count * PIXEL_RECORD_BYTES) {
      throw new FrameDecodeError(`pixels frame of ${bytes.length} bytes cannot hold ${count} records`);
    }
    const firstSeq = view.getFloat64(2, true);
    const lastSeq = view.getFloat64(10, true);
    if (!Number.isSafeInteger(firstSeq) || !Number.isSafeInteger(lastSeq) || lastSeq < firstSeq - 1) {
      throw new FrameDecodeError('pixels frame has an invalid sequence range');
    }
    return { type: FrameType.Pixels, firstSeq, lastSeq, count, records: bytes.subarray(PIXELS_HEADER_BYTES) };
  }
  if (bytes[1] === FrameType.Canvas) {
    if (bytes.length < CANVAS_HEADER_BYTES) throw new FrameDecodeError('canvas frame header truncated');
    const encoding = bytes[14];
    if (encoding !== CanvasEncoding.Raw && encoding !== CanvasEncoding.Deflate) {
      throw new FrameDecodeError(`unknown canvas encoding ${encoding}`);
    }
    const seq = view.getFloat64(2, true);
    if (!Number.isSafeInteger(seq) || seq < 0) throw new FrameDecodeError('canvas frame has an invalid sequence');
    return {
      type: FrameType.Canvas,
      seq,
      width: view.getUint16(10, true),
      height: view.getUint16(12, true),
      encoding,
      data: bytes.subarray(CANVAS_HEADER_BYTES),
    };
  }
  if (bytes[1] === FrameType.TilePixels || bytes[1] === FrameType.Tile) return decodeTileFrame(bytes, view);
  throw new FrameDecodeError(`unknown frame type ${bytes[1]}`);
}
