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
 * The rule (src/domain/stall-detector.ts): the reader's next expected sequence has not moved for `strikes` checks, the reader
 * is not busy with a batch it holds, and the stream's last sequence (asked only when nothing moved) shows an
 * event at or past the one the reader waits for, at every one of those checks.
 */
import { StallDetector, type DeliveryProgress } from '../../domain/stall-detector.ts';

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
