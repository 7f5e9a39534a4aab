/**
 * Viewport frames (`proto/PROTOCOL.md`, "Viewport subscriptions"): what a socket that sent `view` receives
 * instead of the whole-canvas `pixels` frames. The canvas is cut into tiles of `VIEW_TILE_SIZE` pixels
 * (tile (tx, ty) covers x in [tx·256, tx·256 + 256), y likewise, clipped to the canvas).
 *
 * TILE_PIXELS (type 3): every event touching tile (tx, ty) with sequence in (prevSeq, seq], in order.
 * ```
 * 0   1  protocol version (1)
 * 1   1  frame type = 3
 * 2   2  tx (u16)
 * 4   2  ty (u16)
 * 6   8  prevSeq (f64): the `seq` of the previous frame for this tile
 * 14  8  seq (f64)
 * 22  4  count N (u32)
 * 26  3N N × { dx u8, dy u8, color u8 } (x = tx·256 + dx, y = ty·256 + dy)
 * ```
 * TILE (type 4): the tile's pixels at sequence `seq` (sent when a tile enters the view, and on `resume`).
 * ```
 * 0   1  protocol version (1)
 * 1   1  frame type = 4
 * 2   2  tx (u16)
 * 4   2  ty (u16)
 * 6   8  seq (f64)
 * 14  2  width (u16, ≤ 256: clipped at the canvas edge)
 * 16  2  height (u16)
 * 18  1  encoding: 0 = raw (the only one defined)
 * 19  …  width × height palette indices, row-major
 * ```
 * Golden vectors: `proto/vectors/frames.json` (`tilePixels`, `tile`).
 */
import { FrameDecodeError } from './frame-error.ts';
import { PROTOCOL_VERSION } from './version.ts';

/** Side of a viewport tile (pixels). Fixed by the protocol: records carry offsets of one byte. */
export const VIEW_TILE_SIZE = 256;
/** Most tiles one `view` may cover (8×8: the whole default 2000×2000 canvas). */
export const MAX_VIEW_TILES = 64;
export const TILE_PIXELS_HEADER_BYTES = 26;
export const TILE_RECORD_BYTES = 3;
export const TILE_HEADER_BYTES = 19;
const TILE_PIXELS = 3;
const TILE = 4;

export interface TilePixelsFrame {
  readonly type: typeof TILE_PIXELS;
  readonly tx: number;
  readonly ty: number;
  readonly prevSeq: number;
  readonly seq: number;
  readonly count: number;
  /** Packed `{dx, dy, color}` records. */
  readonly records: Uint8Array;
}

export interface TileFrame {
  readonly type: typeof TILE;
  readonly tx: number;
  readonly ty: number;
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  readonly encoding: 0;
  readonly data: Uint8Array;
}

/** Encodes a tile-pixels frame from packed `{dx, dy, color}` records. */
export function encodeTilePixelsFrame(
  tx: number,
  ty: number,
  prevSeq: number,
  seq: number,
  records: Uint8Array,
  count: number,
): Uint8Array {
  if (records.length < count * TILE_RECORD_BYTES) throw new RangeError('records shorter than count');
  const out = new Uint8Array(TILE_PIXELS_HEADER_BYTES + count * TILE_RECORD_BYTES);
  const view = new DataView(out.buffer);
  out[0] = PROTOCOL_VERSION;
  out[1] = TILE_PIXELS;
  view.setUint16(2, tx, true);
  view.setUint16(4, ty, true);
  view.setFloat64(6, prevSeq, true);
  view.setFloat64(14, seq, true);
  view.setUint32(22, count, true);
  out.set(records.subarray(0, count * TILE_RECORD_BYTES), TILE_PIXELS_HEADER_BYTES);
  return out;
}

export function encodeTileFrame(
  tx: number,
  ty: number,
  seq: number,
  width: number,
  height: number,
  data: Uint8Array,
): Uint8Array {
  if (data.length !== width * height) throw new RangeError('tile data is not width × height');
  const out = new Uint8Array(TILE_HEADER_BYTES + data.length);
  const view = new DataView(out.buffer);
  out[0] = PROTOCOL_VERSION;
  out[1] = TILE;
  view.setUint16(2, tx, true);
  view.setUint16(4, ty, true);
  view.setFloat64(6, seq, true);
  view.setUint16(14, width, true);
  view.setUint16(16, height, true);
  out[18] = 0;
  out.set(data, TILE_HEADER_BYTES);
  return out;
}

/** Calls `visit` with absolute coordinates for each record of a tile-pixels frame. */
export function forEachTilePixel(frame: TilePixelsFrame, visit: (x: number, y: number, color: number) => void): void {
  const r = frame.records;
  const x0 = frame.tx * VIEW_TILE_SIZE;
  const y0 = frame.ty * VIEW_TILE_SIZE;
  for (let o = 0; o < frame.count * TILE_RECORD_BYTES; o += TILE_RECORD_BYTES) {
    visit(x0 + (r[o] as number), y0 + (r[o + 1] as number), r[o + 2] as number);
  }
}

/** The records of a tile-pixels frame as `pixels` records (`x u16, y u16, color u8`), for code that draws those. */
export function toPixelRecords(frame: TilePixelsFrame): Uint8Array {
  const out = new Uint8Array(frame.count * 5);
  const r = frame.records;
  const x0 = frame.tx * VIEW_TILE_SIZE;
  const y0 = frame.ty * VIEW_TILE_SIZE;
  for (let i = 0; i < frame.count; i++) {
    const x = x0 + (r[i * 3] as number);
    const y = y0 + (r[i * 3 + 1] as number);
    out[i * 5] = x & 0xff;
    out[i * 5 + 1] = x >>> 8;
    out[i * 5 + 2] = y & 0xff;
    out[i * 5 + 3] = y >>> 8;
    out[i * 5 + 4] = r[i * 3 + 2] as number;
  }
  return out;
}

/** Types 3 and 4, called by `decodeFrame` once version and type are checked. */
export function decodeTileFrame(bytes: Uint8Array, view: DataView): TilePixelsFrame | TileFrame {
  if (bytes[1] === TILE_PIXELS) {
    if (bytes.length < TILE_PIXELS_HEADER_BYTES) throw new FrameDecodeError('tile-pixels frame header truncated');
    const count = view.getUint32(22, true);
    if (bytes.length !== TILE_PIXELS_HEADER_BYTES + count * TILE_RECORD_BYTES) {
      throw new FrameDecodeError(`tile-pixels frame of ${bytes.length} bytes cannot hold ${count} records`);
    }
    const prevSeq = view.getFloat64(6, true);
    const seq = view.getFloat64(14, true);
    if (!Number.isSafeInteger(prevSeq) || !Number.isSafeInteger(seq) || prevSeq < 0 || seq <= prevSeq) {
      throw new FrameDecodeError('tile-pixels frame has an invalid sequence range');
    }
    return {
      type: TILE_PIXELS,
      tx: view.getUint16(2, true),
      ty: view.getUint16(4, true),
      prevSeq,
      seq,
      count,
      records: bytes.subarray(TILE_PIXELS_HEADER_BYTES),
    };
  }
  if (bytes.length < TILE_HEADER_BYTES) throw new FrameDecodeError('tile frame header truncated');
  const width = view.getUint16(14, true);
  const height = view.getUint16(16, true);
  if (width > VIEW_TILE_SIZE || height > VIEW_TILE_SIZE) throw new FrameDecodeError('tile larger than 256×256');
  if (bytes[18] !== 0) throw new FrameDecodeError(`unknown tile encoding ${bytes[18]}`);
  if (bytes.length !== TILE_HEADER_BYTES + width * height) {
    throw new FrameDecodeError(`tile frame of ${bytes.length} bytes is not ${width}×${height}`);
  }
  const seq = view.getFloat64(6, true);
  if (!Number.isSafeInteger(seq) || seq < 0) throw new FrameDecodeError('tile frame has an invalid sequence');
  return {
    type: TILE,
    tx: view.getUint16(2, true),
    ty: view.getUint16(4, true),
    seq,
    width,
    height,
    encoding: 0,
    data: bytes.subarray(TILE_HEADER_BYTES),
  };
}
