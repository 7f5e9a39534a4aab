/**
 * How `rplace rebuild bitmap` reads the stream. `npm run bench -- rebuild` builds its reader from the same
 * settings, so the benchmark's figure is the command's default.
 *
 * The socket-bytes fast path (src/adapters/nats/fast-delivery.ts) is ON here by default, while every role's
 * live tail (edges, projectors, their snapshot tails) keeps it off (`fastDelivery` in event-stream.ts,
 * docs/RELIABILITY.md "Open: both edges' live tails stopped"). Why this read is a different risk:
 * - What stalled in CI was an unbounded live tail on a long-lived connection, through a leader kill and a
 *   reconnect, with nobody watching it and no end to reach. A rebuild is a finite read (`untilSeq`, the
 *   stream's last sequence when it started) on a connection of its own, opened for the command and closed
 *   after it, run by an operator at a terminal.
 * - Every way that read can go wrong ends it with an error rather than a hang: a consumer create that fails
 *   or times out ends it at once (pixel-tail.ts); a consumer that delivers nothing while the stream holds more
 *   is replaced by the stall watchdog; and `boundedStallLimitMs` below ends a read that moves no sequence for
 *   30 s across those replacements (a leader election measured 1–10 s, docs/RELIABILITY.md) with
 *   `BoundedReadStalled`, naming the sequence and why each consumer was replaced.
 * - A failed read writes nothing: the Redis bitmap is replaced in one step after the whole canvas is replayed
 *   (rebuildBitmap), so the operator reruns, and `explainReadFailures` says so and names `--no-fast-delivery`,
 *   which reads through nats.js's parser and `Msg` (the roles' path) instead.
 * - Wrong bytes are not the risk: each delivery must follow the one before it or the consumer is replaced, every
 *   event passes the same checks as on nats.js's path, and both paths give the same canvas byte for byte
 *   (test/integration/recover-canvas.test.ts runs on both; the bench checks every run).
 * - It is most of the figure: 1.9× wall and 2.4× per CPU-second for the full replay in the same run
 *   (BENCHMARKS.md "Recovery").
 */
import type { EventStreamOptions } from '../adapters/nats/event-stream.ts';
import { LogUnavailable } from '../ports/errors.ts';
import type { EventStream } from '../ports/event-log.ts';

/** A bounded rebuild read that delivers nothing new for this long gives up (see the module comment). */
export const REBUILD_STALL_LIMIT_MS = 30_000;

/** The reader settings of `rplace rebuild bitmap`; `fastDelivery: false` is `--no-fast-delivery`. */
export function rebuildReadOptions(
  fastDelivery: boolean,
): Pick<EventStreamOptions, 'maxBatch' | 'pullMessages' | 'fastDelivery' | 'boundedStallLimitMs'> {
  return { maxBatch: 8192, pullMessages: 16_384, fastDelivery, boundedStallLimitMs: REBUILD_STALL_LIMIT_MS };
}

/** The line the command prints about the reader it used. */
export function describeReader(fastDelivery: boolean): string {
  return fastDelivery
    ? 'read from the socket bytes (fast path, the default; --no-fast-delivery reads through nats.js)'
    : "read through nats.js's parser and Msg (--no-fast-delivery)";
}

/**
 * `stream` whose `readPixels` failures say what the operator needs: what failed, that the Redis bitmap was not
 * changed (the rebuild writes only after the whole read: rebuildBitmap), and what to try. Only the read is
 * wrapped: a failure of the Redis write itself keeps its own message.
 */
export function explainReadFailures(stream: EventStream, fastDelivery: boolean): EventStream {
  const retry = fastDelivery
    ? 'rerun, or rerun with --no-fast-delivery to read through nats.js instead of the socket bytes'
    : 'rerun once the stream answers';
  return {
    ...stream,
    async *readPixels(fromSeq, options) {
      try {
        yield* stream.readPixels(fromSeq, options);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        throw new LogUnavailable(`${message}; the Redis bitmap was not changed; ${retry}`, { cause: error });
      }
    },
  };
}
