/**
 * Notices a JetStream delivery that stopped while the stream holds more, so the reader can start a new
 * consumer instead of waiting on nats.js.
 *
 * Why nats.js is not enough: a consumer lives on one cluster node (an ordered consumer is R1). When that
 * node is killed, nats.js's recovery asks the dead consumer for its info, gets timeouts (not "consumer not
 * found"), and keeps asking; measured in the fault suite (kill -9 of the stream leader), an edge's live tail
 * then sat still for 8–15 s or until the test ended. After a whole-cluster pause a durable's pull can be lost
 * the same way with no status event at all.
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

export interface StallWatchdogOptions {
  readonly periodMs: number;
  readonly strikes?: number;
  progress(): DeliveryProgress;
  streamLastSeq(): Promise<number>;
  onStall(progress: DeliveryProgress, streamLastSeq: number): void;
}

/** Runs a `StallDetector` on a timer; `stop()` ends it. One stream-info request per idle period at most. */
export function startStallWatchdog(options: StallWatchdogOptions): { stop(): void } {
  const detector = new StallDetector(options.strikes);
  let asking = false;
  let stopped = false;
  const timer = setInterval(() => {
    if (asking || detector.moved(options.progress())) return;
    asking = true;
    options
      .streamLastSeq()
      .then(
        (last) => last,
        () => undefined,
      )
      .then((last) => {
        asking = false;
        if (stopped) return;
        const progress = options.progress();
        if (detector.observe(progress, last)) options.onStall(progress, last!);
      });
  }, options.periodMs);
  timer.unref?.();
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
