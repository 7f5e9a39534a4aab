/**
 * The client side of viewport subscriptions (proto/PROTOCOL.md, "Viewport subscriptions"), pure: the
 * sequence each shown tile reflects, and applying `tile` / `tilePixels` frames to a canvas buffer under
 * the resume rules per tile. Tiles outside the view are not tracked (their pixels in the buffer are stale).
 */
import { TILE_RECORD_BYTES, VIEW_TILE_SIZE, type TileFrame, type TilePixelsFrame } from '../../proto/tile-frames.ts';

/** `applied`: the tile moved on; `old`: nothing new (skipped); `gap`: events are missing (send `resume`). */
export type TileApply = 'applied' | 'old' | 'gap';

export class TileView {
  readonly width: number;
  readonly height: number;
  readonly columns: number;
  /** Sequence per tile index (`ty · columns + tx`); -1: not held. */
  readonly #seqs: Float64Array;

  constructor(width: number, height: number) {
    this.width = width;
    this.height = height;
    this.columns = Math.ceil(width / VIEW_TILE_SIZE);
    this.#seqs = new Float64Array(this.columns * Math.ceil(height / VIEW_TILE_SIZE)).fill(-1);
  }

  /** The sequence tile `tile` reflects (-1: not held). */
  seqOf(tile: number): number {
    return this.#seqs[tile] ?? -1;
  }

  /** Tiles no longer shown: forget them (a later `tile` frame brings them back). */
  keepOnly(tiles: readonly number[]): void {
    for (let t = 0; t < this.#seqs.length; t++) if (!tiles.includes(t)) this.#seqs[t] = -1;
  }

  /** The lowest sequence over the held tiles (-1 when none is held). */
  get minSeq(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const s of this.#seqs) if (s >= 0 && s < min) min = s;
    return min === Number.POSITIVE_INFINITY ? -1 : min;
  }

  /** A tile snapshot: the tile's pixels at `frame.seq` replace the buffer's. */
  applyTile(frame: TileFrame, canvas: Uint8Array | undefined): TileApply {
    const tile = this.#index(frame.tx, frame.ty);
    if (tile < 0) return 'old';
    if (canvas) {
      const x0 = frame.tx * VIEW_TILE_SIZE;
      const y0 = frame.ty * VIEW_TILE_SIZE;
      const w = Math.min(frame.width, this.width - x0);
      for (let row = 0; row < frame.height && y0 + row < this.height; row++) {
        canvas.set(frame.data.subarray(row * frame.width, row * frame.width + w), (y0 + row) * this.width + x0);
      }
    }
    this.#seqs[tile] = frame.seq;
    return 'applied';
  }

  /**
   * A tile's live frame: applied when it chains onto what the tile holds (`prevSeq ≤ held < seq`;
   * re-applying events a snapshot already holds is harmless: in order, last write wins), skipped when old
   * or the tile is not held, a gap when `prevSeq` is past what the tile holds.
   */
  applyPixels(frame: TilePixelsFrame, canvas: Uint8Array | undefined): TileApply {
    const tile = this.#index(frame.tx, frame.ty);
    const held = tile < 0 ? -1 : (this.#seqs[tile] as number);
    if (held < 0 || frame.seq <= held) return 'old';
    if (frame.prevSeq > held) return 'gap';
    if (canvas) {
      const r = frame.records;
      const x0 = frame.tx * VIEW_TILE_SIZE;
      const y0 = frame.ty * VIEW_TILE_SIZE;
      for (let o = 0; o < frame.count * TILE_RECORD_BYTES; o += TILE_RECORD_BYTES) {
        const x = x0 + (r[o] as number);
        const y = y0 + (r[o + 1] as number);
        if (x < this.width && y < this.height) canvas[y * this.width + x] = r[o + 2] as number;
      }
    }
    this.#seqs[tile] = frame.seq;
    return 'applied';
  }

  #index(tx: number, ty: number): number {
    if (tx >= this.columns || ty * this.columns + tx >= this.#seqs.length) return -1;
    return ty * this.columns + tx;
  }
}
