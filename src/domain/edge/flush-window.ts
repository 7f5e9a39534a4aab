/**
 * The adaptive flush window of the edge's live feed. Publishing a frame costs the edge time in proportion to
 * its subscribers (uWS copies it into every socket), so at a fixed window a busy edge spends ever more of
 * each window sending and falls behind. This window follows that cost: it is the smoothed cost of one
 * flush divided by the share of the edge's time flushing may take (`targetBusy`), clamped to
 * [`minMs`, `maxMs`]. Quiet: the cost is small and the window stays at `minMs` (an idle edge still
 * publishes a lone placement at once, see `flushDelay`). Loaded: fewer, larger frames per client, each
 * event waiting at most `maxMs` — the latency budget (default 250 ms: half of the reference design's
 * 500 ms from placement to screen, the rest for the command path and the network).
 *
 * Pure: no clock; the caller measures each flush and passes its duration.
 */
export interface FlushWindowOptions {
  /** The window when quiet (ms). */
  readonly minMs: number;
  /** The latency budget: the window never grows past it (ms). */
  readonly maxMs: number;
  /** Share of the edge's time that flushing may take before the window grows (default 0.5). */
  readonly targetBusy?: number;
  /** Weight of the newest flush in the smoothed cost (default 0.2: about the last 5 flushes). */
  readonly smoothing?: number;
}

export class FlushWindow {
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #targetBusy: number;
  readonly #smoothing: number;
  #costMs = 0;
  #windowMs: number;

  constructor(options: FlushWindowOptions) {
    if (!(options.minMs > 0) || !(options.maxMs >= options.minMs)) throw new RangeError('need 0 < minMs ≤ maxMs');
    this.#minMs = options.minMs;
    this.#maxMs = options.maxMs;
    this.#targetBusy = options.targetBusy ?? 0.5;
    this.#smoothing = options.smoothing ?? 0.2;
    this.#windowMs = options.minMs;
  }

  /** The window to wait before the next flush (ms). */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** Records how long one flush took (ms, encoding + publishing to every socket); returns the next window. */
  observe(flushMs: number): number {
    const cost = Number.isFinite(flushMs) && flushMs > 0 ? flushMs : 0;
    this.#costMs += this.#smoothing * (cost - this.#costMs);
    this.#windowMs = Math.min(this.#maxMs, Math.max(this.#minMs, this.#costMs / this.#targetBusy));
    return this.#windowMs;
  }
}
