import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { startEdgeFeed } from '../../src/app/edge/edge-feed.ts';
import { decodeFrame, forEachPixel, FrameType } from '../../proto/frames.ts';
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

  it("given 3 send groups, each group gets every event once, in order, and all of them end at the canvas's seq", async () => {
    const state = new EdgeCanvas(64, new Uint8Array(64 * 64), 0);
    const applied: { firstSeq: number; lastSeq: number }[] = [];
    const sent: { firstSeq: number; lastSeq: number }[][] = [[], [], []];
    const replicas = [0, 1, 2].map(() => new Uint8Array(64 * 64));
    const feed = startEdgeFeed({
      stream: createNatsEventStream(nc, names, { canvas: { width: 64, height: 64, colors: 32 } }),
      state,
      windowMs: 20,
      sendGroups: 3,
      publish: (_frame, firstSeq, lastSeq) => applied.push({ firstSeq, lastSeq }),
      send: (group, frame) => {
        const f = decodeFrame(frame);
        if (f.type !== FrameType.Pixels) throw new Error('expected pixels');
        sent[group]!.push({ firstSeq: f.firstSeq, lastSeq: f.lastSeq });
        forEachPixel(f, (x, y, c) => {
          replicas[group]![y * 64 + x] = c;
        });
      },
    });
    try {
      for (let round = 0; round < 20; round++) {
        await appendPixels(nc, names, randomPixels(15, 64, 64, 32, 300 + round));
        await sleep(7);
      }
      // Every group catches up with the stream's last event without waiting for another one (the bound is for a
      // loaded machine: beside other suites the tail itself can take a second or more).
      const last = await createNatsEventStream(nc, names, { canvas: { width: 64, height: 64, colors: 32 } }).lastSeq();
      await expect
        .poll(() => sent.map((frames) => frames.at(-1)?.lastSeq), { timeout: 10_000 })
        .toEqual([last, last, last]);
    } finally {
      await feed.stop();
    }
    const stream = createNatsEventStream(nc, names, { canvas: { width: 64, height: 64, colors: 32 } });
    expect(state.seq).toBe(await stream.lastSeq());
    for (let i = 1; i < applied.length; i++) expect(applied[i]!.firstSeq).toBe(applied[i - 1]!.lastSeq + 1);
    for (const frames of sent) {
      expect(frames[0]!.firstSeq).toBe(1);
      for (let i = 1; i < frames.length; i++) expect(frames[i]!.firstSeq).toBe(frames[i - 1]!.lastSeq + 1);
      expect(frames.at(-1)!.lastSeq).toBe(state.seq);
    }
    for (const replica of replicas) expect(replica).toEqual(state.canvas);
  }, 60_000);
});
