/**
 * The fan-out benchmarks' C client harness (bench/_fanout-epoll.c, built here with gcc) against real uWS
 * servers scripted frame by frame: it must count what it receives, find a planted sequence gap, time the
 * records, and, in reconnect mode, resume every dropped client from its last sequence on another server.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startHarnesses, summarize, type Harness } from '../../bench/_fanout-harness.ts';
import { encodeCanvasFrame, encodePixelsFrame, writePixelRecord } from '../../proto/frames.ts';
import { encodeTileFrame, encodeTilePixelsFrame } from '../../proto/tile-frames.ts';
import { loadUws } from '../../src/adapters/uws/load.ts';

const uws = loadUws();
const MOD = 4_000_000;
const harnesses: Harness[] = [];
const closers: (() => void)[] = [];
afterAll(() => {
  for (const h of harnesses) h.kill();
  for (const close of closers) close();
});

/** A pixels frame [first, last] whose records carry "now" the way the bench encodes placement times. */
function pixels(first: number, last: number): Uint8Array {
  const count = last - first + 1;
  const records = new Uint8Array(count * 5);
  const code = Date.now() % MOD;
  for (let i = 0; i < count; i++) writePixelRecord(records, i, code % 2000, Math.floor(code / 2000), 1);
  return encodePixelsFrame(first, last, records, count);
}

/** A uWS server on a free port; `onOpen(ws, since)` scripts each socket. */
function server(
  onOpen: (
    ws: import('@trufflesuite/uws-js-unofficial').WebSocket<{ since: number; view: string }>,
    since: number,
  ) => void,
): Promise<number> {
  const app = uws.App();
  app.ws<{ since: number; view: string }>('/ws', {
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      const since = Number(req.getQuery('since') ?? '-1');
      res.upgrade(
        { since, view: req.getQuery('view') ?? '' },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => onOpen(ws, ws.getUserData().since),
  });
  return new Promise((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('listen failed'));
      closers.push(() => uws.us_listen_socket_close(socket));
      resolve(uws.us_socket_local_port(socket));
    });
  });
}

describe('fan-out C harness', () => {
  it('counts frames, finds a planted gap on every client, takes canvases and times every record', async () => {
    const port = await server((ws) => {
      ws.send('{"type":"welcome"}', false);
      ws.send(pixels(1, 2), true);
      ws.send(pixels(3, 3), true);
      ws.send(pixels(6, 7), true); // gap: 4 and 5 missing
      ws.ping();
      ws.send(encodeCanvasFrame(10, 2, 2, 0, new Uint8Array(4)), true);
      ws.send(pixels(11, 11), true); // continues the canvas: no gap
    });
    const [h] = await startHarnesses('c', 3);
    harnesses.push(h!);
    expect(await h!.connect(port, 3, 0, 0, 1)).toEqual({ open: 3, failed: 0 });
    await expect.poll(async () => (await h!.report()).frames, { timeout: 15_000, interval: 50 }).toBe(15);
    const s = summarize([await h!.report()]);
    expect(s).toMatchObject({
      frames: 15,
      checkedFrames: 12,
      gaps: 3,
      canvases: 3,
      samples: 18,
      sampledFrames: 12,
      open: 3,
      closed: 0,
    });
    expect(s.p99).toBeLessThan(5_000);
    await h!.disconnect();
  });

  it('zoomed-in clients send ?view= in the canvas and check every tile chain: gaps, strays, stale frames', async () => {
    const views: string[] = [];
    const tilePixels = (tx: number, prev: number, seq: number) =>
      encodeTilePixelsFrame(tx, 1, prev, seq, new Uint8Array([1, 2, 3]), 1);
    const port = await server((ws) => {
      views.push(ws.getUserData().view);
      ws.send('{"type":"welcome"}', false);
      ws.send(encodeTileFrame(0, 1, 5, 2, 2, new Uint8Array(4)), true); // tile (0, 1) at 5
      ws.send(tilePixels(0, 5, 7), true);
      ws.send(tilePixels(0, 7, 9), true);
      ws.send(tilePixels(0, 3, 4), true); // covered by what the client holds: stale, skipped
      ws.send(tilePixels(0, 12, 13), true); // gap: (9, 12] missing
      ws.send(tilePixels(1, 0, 13), true); // a tile never snapshotted: stray
    });
    const [h] = await startHarnesses('c', 4);
    harnesses.push(h!);
    expect(await h!.connect(port, 4, -1, 0, 1, { width: 300, height: 200, side: 1000 })).toEqual({
      open: 4,
      failed: 0,
    });
    await expect.poll(async () => (await h!.report()).frames, { timeout: 15_000, interval: 50 }).toBe(24);
    const s = summarize([await h!.report()]);
    expect(s).toMatchObject({
      tileSnapshots: 4,
      tileFrames: 20,
      checkedFrames: 20,
      gaps: 4,
      strayTiles: 4,
      staleTiles: 4,
      samples: 0,
      canvases: 0,
    });
    for (const v of views) {
      const [x, y, w, hgt] = v.split(',').map(Number) as [number, number, number, number];
      expect([w, hgt]).toEqual([300, 200]);
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThanOrEqual(700);
      expect(y).toBeLessThanOrEqual(800);
    }
    await h!.disconnect();
  });

  it('with the color clock, times pixels and tilePixels records by their color (50 ms slots)', async () => {
    const slot = (msAgo: number) => 1 + (Math.floor((Date.now() - msAgo) / 50) % 31);
    const port = await server((ws) => {
      const records = new Uint8Array(5);
      writePixelRecord(records, 0, 7, 9, slot(0));
      ws.send(encodePixelsFrame(1, 1, records, 1), true);
      ws.send(encodeTileFrame(0, 0, 1, 1, 1, new Uint8Array(1)), true);
      ws.send(encodeTilePixelsFrame(0, 0, 1, 2, Uint8Array.of(3, 4, slot(500)), 1), true);
    });
    const [h] = await startHarnesses('c', 1);
    harnesses.push(h!);
    await h!.colorClock();
    await h!.connect(port, 1, 0, 0, 1, { width: 10, height: 10, side: 100 });
    await expect.poll(async () => (await h!.report()).samples, { timeout: 15_000, interval: 50 }).toBe(2);
    const s = summarize([await h!.report()]);
    expect(s.p50).toBeLessThanOrEqual(125); // the pixels record: this slot or the next (+ half a slot)
    expect(s.max).toBeGreaterThanOrEqual(475); // the tile record, placed 500 ms before
    expect(s.max).toBeLessThanOrEqual(625);
    await h!.disconnect();
  });

  it('in reconnect mode, resumes every dropped client on the other server from its last sequence', async () => {
    const resumedFrom: number[] = [];
    const second = await server((ws, since) => {
      resumedFrom.push(since);
      ws.send(pixels(since + 1, since + 1), true);
    });
    const first = await server((ws) => {
      ws.send(pixels(1, 4), true);
      setTimeout(() => ws.close(), 100); // dropped without a close frame
    });
    const [h] = await startHarnesses('c', 5);
    harnesses.push(h!);
    await h!.reconnectTo(second);
    expect((await h!.connect(first, 5, 0, 0, 1)).open).toBeGreaterThan(0);
    await expect.poll(async () => (await h!.report()).resumed, { timeout: 15_000, interval: 50 }).toBe(5);
    const s = summarize([await h!.report()]);
    expect(resumedFrom).toEqual([4, 4, 4, 4, 4]);
    expect(s).toMatchObject({ resumed: 5, notResumed: 0, resumeGaps: 0, gaps: 0, closed: 5, closeCodes: { 0: 5 } });
    expect(s.resumeMax).toBeGreaterThanOrEqual(1_000); // the first retry waits 1 s + up to 1 s of jitter
    expect(s.resumeMax).toBeLessThan(3_000);
    await h!.disconnect();
  }, 30_000);
});
