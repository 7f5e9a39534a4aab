/**
 * The edge feed's send groups against a scripted stream (the `EventStream` port, no server): when each batch
 * arrives is up to the test, so an event can be made to land in the middle of a flush cycle.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrame, FrameType } from '../../proto/frames.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { startEdgeFeed } from '../../src/app/edge/edge-feed.ts';
import type { EventStream, PixelBatch } from '../../src/ports/event-log.ts';

/** A stream whose `readPixels` yields the batches given to `push`, when they are given. */
function scriptedStream() {
  const queue: PixelBatch[] = [];
  let wake: (() => void) | undefined;
  const stream: EventStream = {
    lastSeq: async () => 0,
    sizeAt: async () => ({ size: { width: 8, height: 8 }, lastResize: null }),
    read: () => {
      throw new Error('not used');
    },
    async *readPixels(_from, options) {
      while (!options?.signal?.aborted) {
        const batch = queue.shift();
        if (batch) yield batch;
        else
          await new Promise<void>((resolve) => {
            wake = resolve;
            options?.signal?.addEventListener('abort', () => resolve(), { once: true });
          });
      }
    },
  };
  const push = (seqs: number[]) => {
    const n = seqs.length;
    queue.push({
      count: n,
      seqs: Float64Array.from(seqs),
      setsPixel: new Uint8Array(n).fill(1),
      xs: Uint16Array.from(seqs.map((s) => s % 8)),
      ys: new Uint16Array(n),
      colors: Uint8Array.from(seqs.map((s) => 1 + (s % 31))),
      resizes: [],
    });
    wake?.();
  };
  return { stream, push };
}

describe('edge feed with send groups (scripted stream)', () => {
  it('given an event that arrives in the middle of a cycle and nothing after it, every group still gets it within the next window', async () => {
    const { stream, push } = scriptedStream();
    const state = new EdgeCanvas(8, new Uint8Array(64), 0);
    const last = [0, 0, 0];
    const feed = startEdgeFeed({
      stream,
      state,
      windowMs: 20,
      sendGroups: 3,
      publish: () => undefined,
      send: (group, frame) => {
        const f = decodeFrame(frame);
        if (f.type !== FrameType.Pixels) throw new Error('expected pixels');
        expect(f.firstSeq).toBe((last[group] as number) + 1);
        last[group] = f.lastSeq;
      },
    });
    try {
      push([1]);
      await expect.poll(() => last[0], { interval: 1 }).toBe(1); // group 0's turn: the cycle started
      push([2]); // applied in a later turn of this cycle: group 0 only gets it in the next one
      await expect.poll(() => last, { timeout: 1_000, interval: 5 }).toEqual([2, 2, 2]);
      expect(state.seq).toBe(2);
    } finally {
      await feed.stop();
    }
  });

  it('given one group, a lone event goes out at once and frames chain', async () => {
    const { stream, push } = scriptedStream();
    const state = new EdgeCanvas(8, new Uint8Array(64), 0);
    const frames: [number, number][] = [];
    const feed = startEdgeFeed({
      stream,
      state,
      windowMs: 1_000,
      publish: () => undefined,
      send: (group, frame) => {
        const f = decodeFrame(frame);
        if (f.type === FrameType.Pixels) frames.push([group, f.lastSeq]);
      },
    });
    try {
      push([1, 2]);
      await expect.poll(() => frames, { timeout: 500, interval: 1 }).toEqual([[0, 2]]);
    } finally {
      await feed.stop();
    }
  });
});
