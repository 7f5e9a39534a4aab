/**
 * A small LRU of loaded snapshots, keyed by sequence. A snapshot at sequence S is the canvas after S: a
 * function of the (immutable) stream, so an entry never goes stale while the stream lives. The time slider
 * scrubs through nearby instants, which mostly share a snapshot: a hit replaces the Postgres read of the
 * canvas (and, for rows from before migration 0004, an inflate) with a 4 MB copy. Bounded by `maxEntries` canvases (each width × height bytes).
 */
export class SnapshotCache {
  private readonly entries = new Map<number, Uint8Array>();
  private readonly maxEntries: number;
  hits = 0;
  misses = 0;

  constructor(maxEntries = 8) {
    if (!Number.isInteger(maxEntries) || maxEntries < 0)
      throw new RangeError(`maxEntries must be a non-negative integer, got ${maxEntries}`);
    this.maxEntries = maxEntries;
  }

  /** A fresh copy of the cached canvas (the caller may mutate it), or undefined. */
  take(seq: number): Uint8Array | undefined {
    const canvas = this.entries.get(seq);
    if (!canvas) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(seq);
    this.entries.set(seq, canvas);
    return canvas.slice();
  }

  /** Keeps a private copy of `canvas` as the snapshot at `seq`. */
  put(seq: number, canvas: Uint8Array): void {
    if (this.maxEntries === 0) return;
    this.entries.delete(seq);
    this.entries.set(seq, canvas.slice());
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
