/**
 * The live topic split into send groups, flushed one after another: pure bookkeeping of where each group is.
 *
 * Why: writing a frame to N sockets blocks the edge for S ≈ N × (one socket write). With one topic, an event
 * that arrives just after a frame was cut waits for that frame's S, then for its own frame's S: about 2·S
 * before the last socket has it (the p99 at 10,000 clients, BENCHMARKS.md "fanout"). With the sockets in
 * `count` groups, each group's frame is cut right before that group is written (one group per event-loop
 * turn, the stream's tail read in between), so an event waits at most one cycle (≈ S) plus its own group's
 * S / count. Each socket still gets one frame per cycle, and each frame is encoded once and shared by every
 * socket of its group (uWS topic fan-out): the same sends per client as one topic.
 *
 * Sequence contract: a group's frames chain (each starts at the group's `lastSeq` + 1) and no group is ever
 * ahead of the edge canvas. A socket joins a group after its catch-up to the canvas's `seq`, so the group's
 * next frame may repeat events it already has (allowed: proto/PROTOCOL.md, "The resume rules"), never skip one.
 */
export class SendGroups {
  readonly count: number;
  readonly #lastSeq: Float64Array;
  #next = 0;

  /** `count` groups (≥ 1), all at `seq`. */
  constructor(count: number, seq: number) {
    if (!(Number.isInteger(count) && count >= 1)) throw new RangeError('need an integer count ≥ 1');
    this.count = count;
    this.#lastSeq = new Float64Array(count).fill(seq);
  }

  /** The group whose turn it is. */
  get next(): number {
    return this.#next;
  }

  /** True when the next turn starts a new cycle (group 0). */
  get atCycleStart(): boolean {
    return this.#next === 0;
  }

  /** The sequence the group's last frame ended at (its next frame starts after it). */
  lastSeq(group: number): number {
    return this.#lastSeq[group] as number;
  }

  /** The sequence the group furthest behind is at. */
  get oldestSeq(): number {
    let oldest = Number.POSITIVE_INFINITY;
    for (const seq of this.#lastSeq) if (seq < oldest) oldest = seq;
    return oldest;
  }

  /** The group of this turn now holds everything up to `seq`; the turn passes to the next group. */
  sent(seq: number): void {
    const group = this.#next;
    if (seq > (this.#lastSeq[group] as number)) this.#lastSeq[group] = seq;
    this.#next = (group + 1) % this.count;
  }

  /** Every group holds everything up to `seq` (all flushed at once, or the canvas resized); a new cycle starts. */
  allAt(seq: number): void {
    for (let g = 0; g < this.count; g++) if (seq > (this.#lastSeq[g] as number)) this.#lastSeq[g] = seq;
    this.#next = 0;
  }
}
