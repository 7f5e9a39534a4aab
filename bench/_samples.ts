/**
 * Latencies (or any non-negative samples) in ms for the benches, kept in a growable Float64Array so that a
 * long run holds millions of samples without one object each.
 */
export class Samples {
  private data = new Float64Array(1 << 16);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  /** Nearest-rank percentile `p` (0..100); NaN when empty. */
  percentile(p: number): number {
    if (this.length === 0) return Number.NaN;
    const sorted = this.data.slice(0, this.length).sort();
    return sorted[Math.min(this.length - 1, Math.floor((p / 100) * this.length))]!;
  }
  max(): number {
    let m = 0;
    for (let i = 0; i < this.length; i++) m = Math.max(m, this.data[i]!);
    return m;
  }
}
