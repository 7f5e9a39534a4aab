/**
 * The edge's state, pure and synchronous: its copy of the canvas, the events consumed but not yet
 * published, and a ring buffer of recently published events for resuming clients.
 *
 * Invariant: `canvas`, the ring buffer and the last applied frame all reflect the same sequence `seq`.
 * Events are buffered by `push` and applied only in `flush`, which also encodes the one `pixels` frame
 * that carries them; so a socket opened at any moment between two flushes can be served a catch-up from
 * the ring that ends at `seq`, at or past where its next live frame begins (the live send groups may lag
 * `seq`: src/domain/edge/send-groups.ts; `frameSince` builds their frames from the ring).
 */
import { encodePixelsFrame, PIXEL_RECORD_BYTES, writePixelRecord } from '../../../proto/frames.ts';
import { encodeTileFrame, VIEW_TILE_SIZE } from '../../../proto/tile-frames.ts';
import { growCanvas, type Resize } from '../resize.ts';

/** One event as the edge needs it: its sequence, and the pixel it sets (absent for non-pixel events). */
export interface EdgeEvent {
  readonly seq: number;
  readonly pixel?: { readonly x: number; readonly y: number; readonly color: number };
}

export class SequenceGap extends Error {
  override readonly name = 'SequenceGap';
}

export type CatchUp =
  /** One `pixels` frame starting exactly at `since + 1` (possibly empty: the client is up to date). */
  | { readonly kind: 'pixels'; readonly frame: Uint8Array }
  /** The ring no longer holds the events after `since`: send a whole canvas. */
  | { readonly kind: 'canvas' }
  /** The client is ahead of this edge (another edge served it): live frames will reach it. */
  | { readonly kind: 'ahead' };

export interface EdgeCanvasOptions {
  /** Events kept for resuming clients (default 65,536 ≈ 20 s at 3,333/s; 13 bytes each). */
  readonly ringEvents?: number;
  /** Largest batch per frame; `push` callers flush when `pendingCount` reaches it (default 16,384). */
  readonly maxBatchEvents?: number;
}

export class EdgeCanvas {
  /** The size in force at `seq`; a resize replaces `canvas` and both sides (`resize`). */
  width: number;
  height: number;
  canvas: Uint8Array;
  /** The sequence the canvas, the ring and the last published frame reflect. */
  seq: number;
  readonly maxBatchEvents: number;

  // Ring: event i (0 ≤ i < ringSize) lives at slot (ringStart + i) % capacity.
  readonly #ringSeqs: Float64Array;
  readonly #ringRecords: Uint8Array;
  #ringStart = 0;
  #ringSize = 0;
  /** Every pixel event with sequence ≥ this is in the ring. */
  #ringFrom: number;

  // Pending events: received from the stream, not yet applied or published.
  #pendingFirst = 0;
  #pendingLast = 0;
  #pendingCount = 0;
  #pendingSeqs: Float64Array;
  #pendingRecords: Uint8Array;

  /**
   * The last catch-up frame built, for (since, seq). Clients dropped together (an edge crash) reflect the
   * same sequence and reconnect within the same window: one encoding serves them all, as `publish` does for
   * live frames, instead of one copy of the ring's tail per socket. The ring only changes when `seq` does.
   */
  #lastCatchUp: { since: number; seq: number; frame: Uint8Array } | null = null;
  /**
   * The last `tile` snapshot built per tile (index `ty · columns + tx`), valid while `seq` has not moved: the
   * zoomed-in clients that open (or reconnect) within one window share one encoding (up to 64 KiB) per tile
   * instead of one copy per socket. The canvas only changes when `seq` does (in `flush`).
   */
  readonly #tileFrames = new Map<number, { seq: number; frame: Uint8Array }>();

  /** Takes ownership of `canvas` (mutated in place) reflecting `seq`. */
  constructor(width: number, canvas: Uint8Array, seq: number, options: EdgeCanvasOptions = {}) {
    this.width = width;
    this.height = canvas.length / width;
    this.canvas = canvas;
    this.seq = seq;
    this.#ringFrom = seq + 1;
    const capacity = Math.max(1, options.ringEvents ?? 65_536);
    this.#ringSeqs = new Float64Array(capacity);
    this.#ringRecords = new Uint8Array(capacity * PIXEL_RECORD_BYTES);
    this.maxBatchEvents = Math.max(1, options.maxBatchEvents ?? 16_384);
    this.#pendingSeqs = new Float64Array(Math.min(this.maxBatchEvents, 1024));
    this.#pendingRecords = new Uint8Array(this.#pendingSeqs.length * PIXEL_RECORD_BYTES);
  }

  /** The sequence of the last event received (published or pending). */
  get receivedSeq(): number {
    return this.#pendingLast > 0 ? this.#pendingLast : this.seq;
  }

  get pendingCount(): number {
    return this.#pendingCount;
  }

  get hasPending(): boolean {
    return this.#pendingLast > 0;
  }

  /**
   * Buffers one event. Events at or below `receivedSeq` are ignored (a redelivery); anything but
   * `receivedSeq + 1` throws `SequenceGap` (the feed must restart from `receivedSeq + 1`).
   */
  push(event: EdgeEvent): void {
    if (event.pixel) this.pushPixel(event.seq, event.pixel.x, event.pixel.y, event.pixel.color);
    else this.pushOther(event.seq);
  }

  /** `push` of a pixel event, from its fields (the live tail's path: no object per event). */
  pushPixel(seq: number, x: number, y: number, color: number): void {
    if (!this.#accept(seq)) return;
    if (this.#pendingCount === this.#pendingSeqs.length) this.#growPending();
    this.#pendingSeqs[this.#pendingCount] = seq;
    writePixelRecord(this.#pendingRecords, this.#pendingCount, x, y, color);
    this.#pendingCount += 1;
  }

  /** `push` of an event that sets no pixel: it only advances the sequence. */
  pushOther(seq: number): void {
    this.#accept(seq);
  }

  /** Advances the pending range to `seq`; false for a redelivery (ignored), `SequenceGap` for a gap. */
  #accept(seq: number): boolean {
    const expected = this.receivedSeq + 1;
    if (seq < expected) return false;
    if (seq !== expected) throw new SequenceGap(`expected event ${expected}, got ${seq}`);
    if (this.#pendingLast === 0) this.#pendingFirst = seq;
    this.#pendingLast = seq;
    return true;
  }

  /**
   * Applies the pending events to the canvas, appends them to the ring and returns the one `pixels`
   * frame carrying them (`null` when nothing is pending). After it, `seq` is the frame's `lastSeq`.
   */
  flush(): Uint8Array | null {
    if (this.#pendingLast === 0) return null;
    const count = this.#pendingCount;
    const records = this.#pendingRecords;
    const canvas = this.canvas;
    const width = this.width;
    for (let o = 0; o < count * PIXEL_RECORD_BYTES; o += PIXEL_RECORD_BYTES) {
      canvas[
        ((records[o + 2] as number) | ((records[o + 3] as number) << 8)) * width +
          ((records[o] as number) | ((records[o + 1] as number) << 8))
      ] = records[o + 4] as number;
    }
    const frame = encodePixelsFrame(this.#pendingFirst, this.#pendingLast, records, count);
    for (let i = 0; i < count; i++) this.#ringPush(this.#pendingSeqs[i] as number, records, i);
    this.seq = this.#pendingLast;
    this.#pendingFirst = 0;
    this.#pendingLast = 0;
    this.#pendingCount = 0;
    return frame;
  }

  /**
   * Applies the resize stored at `seq` (src/domain/resize.ts `growCanvas`); nothing may be pending (the feed
   * flushes first), and `seq` must be the next sequence (`SequenceGap` otherwise; an older one is ignored and
   * returns false). The ring is emptied: its records are in the old coordinates, so a client that reflects an
   * earlier sequence is sent a whole canvas of the new size.
   */
  resize(seq: number, resize: Resize): boolean {
    if (this.#pendingLast !== 0) throw new Error('resize with events pending: flush first');
    if (seq <= this.seq) return false;
    if (seq !== this.seq + 1) throw new SequenceGap(`expected event ${this.seq + 1}, got ${seq}`);
    this.canvas = growCanvas(this.canvas, this, resize);
    this.width = resize.width;
    this.height = resize.height;
    this.seq = seq;
    this.#ringStart = 0;
    this.#ringSize = 0;
    this.#ringFrom = seq + 1;
    this.#lastCatchUp = null;
    this.#tileFrames.clear(); // keyed by the old tile grid
    return true;
  }

  /** What a client that reflects `since` needs to reach `seq` (see `CatchUp`). */
  catchUp(since: number): CatchUp {
    if (since > this.seq) return { kind: 'ahead' };
    if (since + 1 < this.#ringFrom) return { kind: 'canvas' };
    const last = this.#lastCatchUp;
    if (last !== null && last.since === since && last.seq === this.seq) return { kind: 'pixels', frame: last.frame };
    const frame = this.#encodeSince(since);
    this.#lastCatchUp = { since, seq: this.seq, frame };
    return { kind: 'pixels', frame };
  }

  /**
   * One `pixels` frame of every event after `since` up to `seq`, from the ring, not cached (the live send groups'
   * frames, src/domain/edge/send-groups.ts); null when the ring no longer reaches back to `since + 1` or when
   * `since` is not below `seq`.
   */
  frameSince(since: number): Uint8Array | null {
    if (since >= this.seq || since + 1 < this.#ringFrom) return null;
    return this.#encodeSince(since);
  }

  /** Events the ring holds at most (what a send group may lag behind `seq`). */
  get ringCapacity(): number {
    return this.#ringSeqs.length;
  }

  #encodeSince(since: number): Uint8Array {
    const capacity = this.#ringSeqs.length;
    // First ring index with seq > since (seqs ascend along the ring).
    let lo = 0;
    let hi = this.#ringSize;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.#ringSeqs[(this.#ringStart + mid) % capacity] as number) <= since) lo = mid + 1;
      else hi = mid;
    }
    const count = this.#ringSize - lo;
    const records = new Uint8Array(count * PIXEL_RECORD_BYTES);
    const first = (this.#ringStart + lo) % capacity;
    const tail = Math.min(count, capacity - first);
    records.set(this.#ringRecords.subarray(first * PIXEL_RECORD_BYTES, (first + tail) * PIXEL_RECORD_BYTES), 0);
    if (tail < count)
      records.set(this.#ringRecords.subarray(0, (count - tail) * PIXEL_RECORD_BYTES), tail * PIXEL_RECORD_BYTES);
    return encodePixelsFrame(since + 1, this.seq, records, count);
  }

  /** A `tile` frame (proto/tile-frames.ts): tile (tx, ty) of the canvas at `seq`, clipped to the canvas. */
  tileFrame(tx: number, ty: number): Uint8Array {
    const key = ty * Math.ceil(this.width / VIEW_TILE_SIZE) + tx;
    const cached = this.#tileFrames.get(key);
    if (cached && cached.seq === this.seq) return cached.frame;
    const height = this.height;
    const x0 = tx * VIEW_TILE_SIZE;
    const y0 = ty * VIEW_TILE_SIZE;
    const w = Math.max(0, Math.min(VIEW_TILE_SIZE, this.width - x0));
    const h = Math.max(0, Math.min(VIEW_TILE_SIZE, height - y0));
    const data = new Uint8Array(w * h);
    for (let row = 0; row < h; row++) {
      const from = (y0 + row) * this.width + x0;
      data.set(this.canvas.subarray(from, from + w), row * w);
    }
    const frame = encodeTileFrame(tx, ty, this.seq, w, h, data);
    this.#tileFrames.set(key, { seq: this.seq, frame });
    return frame;
  }

  #ringPush(seq: number, records: Uint8Array, index: number): void {
    const capacity = this.#ringSeqs.length;
    let slot: number;
    if (this.#ringSize === capacity) {
      slot = this.#ringStart;
      this.#ringFrom = (this.#ringSeqs[slot] as number) + 1;
      this.#ringStart = (this.#ringStart + 1) % capacity;
    } else {
      slot = (this.#ringStart + this.#ringSize) % capacity;
      this.#ringSize += 1;
    }
    this.#ringSeqs[slot] = seq;
    const o = index * PIXEL_RECORD_BYTES;
    this.#ringRecords.set(records.subarray(o, o + PIXEL_RECORD_BYTES), slot * PIXEL_RECORD_BYTES);
  }

  #growPending(): void {
    const seqs = new Float64Array(this.#pendingSeqs.length * 2);
    seqs.set(this.#pendingSeqs);
    const records = new Uint8Array(seqs.length * PIXEL_RECORD_BYTES);
    records.set(this.#pendingRecords);
    this.#pendingSeqs = seqs;
    this.#pendingRecords = records;
  }
}

/**
 * When to flush next, given when the last flush happened: adaptive, so an idle edge publishes a lone
 * placement at once (0 ms) while a busy one publishes at most one frame per window.
 */
export function flushDelay(
  now: number,
  lastFlushAt: number,
  windowMs: number,
  pendingCount: number,
  maxBatchEvents: number,
): number {
  if (pendingCount >= maxBatchEvents) return 0;
  return Math.max(0, lastFlushAt + windowMs - now);
}
