/**
 * Viewport tiles (proto/tile-frames.ts), pure: which tiles a rectangle covers, and the split of one
 * published batch into one `tilePixels` frame per touched tile.
 *
 * Invariant kept by `TileFramer`: for every tile, consecutive frames chain (`prevSeq` of one is `seq` of
 * the one before, starting at the edge's initial sequence), and `prev(t)` never exceeds the sequence the
 * edge canvas reflects; so a tile snapshot at the canvas's `seq`, followed by the tile's next frame, leaves
 * no gap (the frame may repeat events the snapshot holds: harmless, they are in order, last write wins).
 */
import { PIXEL_RECORD_BYTES, PIXELS_HEADER_BYTES } from '../../../proto/frames.ts';
import { encodeTilePixelsFrame, TILE_RECORD_BYTES, VIEW_TILE_SIZE } from '../../../proto/tile-frames.ts';

export interface TileGrid {
  readonly width: number;
  readonly height: number;
  readonly columns: number;
  readonly rows: number;
}

let lastGrid: TileGrid | null = null;

/** The grid of a canvas size; the same (frozen) object for the same size, so sessions share it. */
export function tileGrid(width: number, height: number): TileGrid {
  if (lastGrid?.width === width && lastGrid.height === height) return lastGrid;
  lastGrid = Object.freeze({
    width,
    height,
    columns: Math.ceil(width / VIEW_TILE_SIZE),
    rows: Math.ceil(height / VIEW_TILE_SIZE),
  });
  return lastGrid;
}

/**
 * Tile indices (`ty · columns + tx`, ascending) a rectangle touches, clipped to the canvas; empty when it
 * lies outside.
 */
export function tilesOf(grid: TileGrid, x: number, y: number, width: number, height: number): number[] {
  if (x >= grid.width || y >= grid.height) return [];
  const x0 = Math.floor(x / VIEW_TILE_SIZE);
  const y0 = Math.floor(y / VIEW_TILE_SIZE);
  const x1 = Math.floor((Math.min(x + width, grid.width) - 1) / VIEW_TILE_SIZE);
  const y1 = Math.floor((Math.min(y + height, grid.height) - 1) / VIEW_TILE_SIZE);
  const tiles: number[] = [];
  for (let ty = y0; ty <= y1; ty++) for (let tx = x0; tx <= x1; tx++) tiles.push(ty * grid.columns + tx);
  return tiles;
}

export interface TileFrameOut {
  readonly tile: number;
  readonly frame: Uint8Array;
}

/**
 * Splits published `pixels` frames into one `tilePixels` frame per touched tile. `add` takes each published
 * frame's records; `flush` emits, per tile that got records since the last `flush`, one frame covering
 * (`prev(t)`, `lastSeq`]. Flushing less often than frames are published (the tile window) sends a zoomed-in
 * socket fewer, larger frames: its CPU follows its sends, not its bytes.
 */
export class TileFramer {
  readonly grid: TileGrid;
  /** `seq` of the last frame per tile (the next frame's `prevSeq`). */
  readonly #prev: Float64Array;
  /** Records per tile since the last `flush`. */
  readonly #counts: Uint32Array;
  #scratch: Uint8Array[];
  #pending = 0;

  constructor(width: number, height: number, seq: number) {
    this.grid = tileGrid(width, height);
    const n = this.grid.columns * this.grid.rows;
    this.#prev = new Float64Array(n).fill(seq);
    this.#counts = new Uint32Array(n);
    this.#scratch = Array.from({ length: n }, () => new Uint8Array(0));
  }

  prev(tile: number): number {
    return this.#prev[tile] as number;
  }

  /** Records taken by `add` and not yet flushed. */
  get pending(): number {
    return this.#pending;
  }

  /** Takes the records of one published `pixels` frame (in sequence order, after the ones before it). */
  add(pixels: Uint8Array): void {
    const view = new DataView(pixels.buffer, pixels.byteOffset, pixels.byteLength);
    const count = view.getUint32(18, true);
    const columns = this.grid.columns;
    const counts = this.#counts;
    const end = PIXELS_HEADER_BYTES + count * PIXEL_RECORD_BYTES;
    for (let o = PIXELS_HEADER_BYTES; o < end; o += PIXEL_RECORD_BYTES) {
      const t =
        (((pixels[o + 2] as number) | ((pixels[o + 3] as number) << 8)) >>> 8) * columns +
        (((pixels[o] as number) | ((pixels[o + 1] as number) << 8)) >>> 8);
      const n = counts[t] as number;
      let r = this.#scratch[t] as Uint8Array;
      const w = n * TILE_RECORD_BYTES;
      if (r.length < w + TILE_RECORD_BYTES) {
        const grown = new Uint8Array(Math.max(64, r.length * 2));
        grown.set(r.subarray(0, w));
        this.#scratch[t] = r = grown;
      }
      // x mod 256 is x's low byte, y mod 256 y's.
      r[w] = pixels[o] as number;
      r[w + 1] = pixels[o + 2] as number;
      r[w + 2] = pixels[o + 4] as number;
      counts[t] = n + 1;
    }
    this.#pending += count;
  }

  /**
   * One frame per tile with records since the last flush, in tile order, ending at `lastSeq` (the sequence
   * the edge canvas reflects: every record added is at or below it). `wanted(tile)`: encode only tiles
   * someone watches; the chain advances for every touched tile anyway (nobody holds an unwatched tile live:
   * a later subscriber starts from a snapshot).
   */
  flush(lastSeq: number, wanted: (tile: number) => boolean = () => true): TileFrameOut[] {
    const counts = this.#counts;
    const columns = this.grid.columns;
    const out: TileFrameOut[] = [];
    for (let t = 0; t < counts.length; t++) {
      const n = counts[t] as number;
      if (n === 0) continue;
      counts[t] = 0;
      const prev = this.#prev[t] as number;
      this.#prev[t] = lastSeq;
      if (!wanted(t)) continue;
      const tx = t % columns;
      const frame = encodeTilePixelsFrame(tx, (t - tx) / columns, prev, lastSeq, this.#scratch[t] as Uint8Array, n);
      out.push({ tile: t, frame });
    }
    this.#pending = 0;
    return out;
  }

  /** `add` then `flush`: one published frame (ending at `lastSeq`) split into a frame per touched tile. */
  split(pixels: Uint8Array, lastSeq: number, wanted: (tile: number) => boolean = () => true): TileFrameOut[] {
    this.add(pixels);
    return this.flush(lastSeq, wanted);
  }
}
