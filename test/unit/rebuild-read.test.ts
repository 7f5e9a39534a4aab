/**
 * `rplace rebuild bitmap`'s reader settings (src/cli/rebuild-read.ts): the fast path on by default with the
 * stall limit, and a failed read that reaches the operator as one line saying the bitmap was not changed and
 * what to try, with nothing written.
 */
import { describe, expect, it } from 'vitest';
import { rebuildBitmap } from '../../src/app/project-bitmap.ts';
import {
  describeReader,
  explainReadFailures,
  REBUILD_STALL_LIMIT_MS,
  rebuildReadOptions,
} from '../../src/cli/rebuild-read.ts';
import { describeFailure, exitCodeFor } from '../../src/exit-codes.ts';
import { LogUnavailable, ServiceUnreachable } from '../../src/ports/errors.ts';
import type { EventStream, PixelBatch } from '../../src/ports/event-log.ts';

const spec = { width: 4, height: 4 };

/** A stream of 10 events whose `readPixels` yields one batch of 3, then fails with `error`. */
function failingStream(error: Error): EventStream {
  const batch: PixelBatch = {
    count: 3,
    seqs: Float64Array.from([1, 2, 3]),
    setsPixel: Uint8Array.from([1, 1, 1]),
    xs: Uint16Array.from([0, 1, 2]),
    ys: Uint16Array.from([0, 0, 0]),
    colors: Uint8Array.from([5, 6, 7]),
    resizes: [],
  };
  return {
    lastSeq: async () => 10,
    sizeAt: async () => ({ size: spec, lastResize: null }) as never,
    read: () => {
      throw new Error('unused');
    },
    async *readPixels() {
      yield batch;
      throw error;
    },
  };
}

describe("rplace rebuild bitmap's reader", () => {
  it('reads from the socket bytes by default, with the stall limit; --no-fast-delivery reads through nats.js', () => {
    expect(rebuildReadOptions(true)).toMatchObject({ fastDelivery: true, boundedStallLimitMs: REBUILD_STALL_LIMIT_MS });
    expect(rebuildReadOptions(false)).toMatchObject({
      fastDelivery: false,
      boundedStallLimitMs: REBUILD_STALL_LIMIT_MS,
    });
    expect(describeReader(true)).toMatch(/^read from the socket bytes \(fast path, the default/);
    expect(describeReader(false)).toMatch(/^read through nats\.js's parser and Msg \(--no-fast-delivery\)$/);
  });

  it('a failed read writes nothing and says so, naming --no-fast-delivery; its exit code is kept', async () => {
    const writes: number[] = [];
    const store = { replaceAll: async (_c: Uint8Array, seq: number) => void writes.push(seq) };
    const stalled = new Error('read of RPLACE_x stalled: nothing after seq 3 for 30 s, though the read runs to seq 10');
    const failure = await rebuildBitmap(
      { stream: explainReadFailures(failingStream(stalled), true), store, spec },
      {
        full: true,
      },
    ).then(
      () => null,
      (e: unknown) => e as Error,
    );
    expect(writes).toEqual([]);
    expect(failure).toBeInstanceOf(LogUnavailable);
    expect(describeFailure(failure)).toBe(
      `${stalled.message}; the Redis bitmap was not changed; rerun, or rerun with --no-fast-delivery to read through nats.js instead of the socket bytes`,
    );
    expect(exitCodeFor(failure)).toBe(1);

    const unreachable = new ServiceUnreachable('cannot reach NATS');
    const down = await rebuildBitmap(
      { stream: explainReadFailures(failingStream(unreachable), false), store, spec },
      {
        full: true,
      },
    ).catch((e: unknown) => e as Error);
    expect(describeFailure(down)).toBe(
      'cannot reach NATS; the Redis bitmap was not changed; rerun once the stream answers',
    );
    expect(exitCodeFor(down)).toBe(3); // the cause is kept: still "a service could not be reached"
    expect(writes).toEqual([]);
  });
});
