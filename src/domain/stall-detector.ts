/**
 * The rule that says a JetStream delivery stopped while the stream holds more (why it is needed, and the timer
 * that runs it: src/adapters/nats/stall-watchdog.ts). Pure: the caller feeds one observation per check period.
 *
 * The rule: the reader's next expected sequence has not moved for `strikes` consecutive checks, the reader
 * is not busy with a batch it holds, and the stream's last sequence (asked only when nothing moved) shows an
 * event at or past the one the reader waits for, at every one of those checks.
 */
export interface DeliveryProgress {
  /** The next stream sequence the reader expects. */
  readonly next: number;
  /** The reader holds a batch (handling it), so no delivery is expected from the consumer meanwhile. */
  readonly busy: boolean;
}

/** The pure part: feed it one observation per check period; it says when the delivery counts as stalled. */
export class StallDetector {
  private lastNext = Number.NaN;
  private strikes = 0;
  private readonly strikesToStall: number;

  constructor(strikesToStall = 2) {
    this.strikesToStall = strikesToStall;
  }

  /** True when the reader moved or is busy (no need to ask the stream); resets the count. */
  moved(progress: DeliveryProgress): boolean {
    if (progress.busy || progress.next !== this.lastNext) {
      this.lastNext = progress.next;
      this.strikes = 0;
      return true;
    }
    return false;
  }

  /**
   * One observation of the stream's end while the reader stood still at `progress.next` (`undefined`: the
   * stream could not be asked, which is no evidence either way). Returns true when the delivery is stalled.
   */
  observe(progress: DeliveryProgress, streamLastSeq: number | undefined): boolean {
    if (this.moved(progress)) return false;
    if (streamLastSeq === undefined) return false;
    if (streamLastSeq < progress.next) {
      this.strikes = 0;
      return false;
    }
    this.strikes++;
    if (this.strikes < this.strikesToStall) return false;
    this.strikes = 0;
    return true;
  }
}

/**
 * When a projection's durable consumer should be deleted and created anew rather than asked again
 * (src/adapters/nats/projection-source.ts says why): after `maxFailures` failed attempts in a row to set it up,
 * or when a session stalled at the same sequence `maxStalls` times in a row.
 */
export class DurableRecovery {
  private failures = 0;
  private stalls = 0;
  private stalledAt: number | undefined;

  private readonly maxFailures: number;
  private readonly maxStalls: number;

  constructor(maxFailures = 3, maxStalls = 2) {
    this.maxFailures = maxFailures;
    this.maxStalls = maxStalls;
  }

  /** Setting up the durable or its session failed. */
  failed(): void {
    this.failures++;
  }

  /** A session ended (after its durable was set up) at `next`, on a stall or not. */
  ended(next: number, stalled: boolean): void {
    this.failures = 0;
    if (!stalled) {
      this.stalls = 0;
      this.stalledAt = undefined;
      return;
    }
    this.stalls = this.stalledAt === next ? this.stalls + 1 : 1;
    this.stalledAt = next;
  }

  /** Whether the next set-up at `next` should replace the durable instead of re-using it. */
  shouldReplace(next: number): boolean {
    return this.failures >= this.maxFailures || (this.stalls >= this.maxStalls && this.stalledAt === next);
  }
}
