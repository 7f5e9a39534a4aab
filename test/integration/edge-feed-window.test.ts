import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { startEdgeFeed } from '../../src/app/edge/edge-feed.ts';
import { decodeFrame, FrameType } from '../../proto/frames.ts';
import { applyStreams } from '../../streams/apply.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { deleteStream, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('feedwin');
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-edge-feed-window');
  await applyStreams(nc, names);
});
afterAll(async () => {
  await deleteStream(nc, names);
  await nc.drain();
});

/** Burns `ms` of CPU, as publishing a frame to many thousands of sockets does. */
function busy(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

describe('edge feed: adaptive flush window (real JetStream stream)', () => {
  it('given flushes that cost 40 ms, the window grows past its 50 ms minimum, stays within the budget, and frames stay contiguous', async () => {
    const state = new EdgeCanvas(64, new Uint8Array(64 * 64), 0);
    const frames: { firstSeq: number; lastSeq: number }[] = [];
    const windows: number[] = [];
    let costMs = 0;
    const feed = startEdgeFeed({
      stream: createNatsEventStream(nc, names, { canvas: { width: 64, height: 64, colors: 32 } }),
      state,
      windowMs: 50,
      maxWindowMs: 200,
      publish: (frame) => {
        const f = decodeFrame(frame);
        if (f.type === FrameType.Pixels) frames.push({ firstSeq: f.firstSeq, lastSeq: f.lastSeq });
        busy(costMs);
        windows.push(feed.windowMs);
      },
    });
    try {
      // Quiet: cheap flushes keep the minimum.
      for (let round = 0; round < 5; round++) {
        await appendPixels(nc, names, randomPixels(20, 64, 64, 32, round + 1));
        await sleep(60);
      }
      expect(feed.windowMs).toBe(50);
      // Loaded: each flush costs 40 ms.
      costMs = 40;
      for (let round = 0; round < 30; round++) {
        await appendPixels(nc, names, randomPixels(20, 64, 64, 32, 100 + round));
        await sleep(20);
      }
      await sleep(500);
      expect(Math.max(...windows)).toBeGreaterThan(60);
      expect(Math.max(...windows)).toBeLessThanOrEqual(200);
      // Quiet again: back to the minimum.
      costMs = 0;
      for (let round = 0; round < 30 && feed.windowMs > 50; round++) {
        await appendPixels(nc, names, randomPixels(5, 64, 64, 32, 200 + round));
        await sleep(60);
      }
      expect(feed.windowMs).toBe(50);
    } finally {
      await feed.stop();
    }
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.firstSeq).toBe(frames[i - 1]!.lastSeq + 1);
    expect(frames.at(-1)!.lastSeq).toBe(state.seq);
  }, 60_000);
});
