/**
 * The players benchmark's C harness (bench/_players-epoll.c, built here with gcc) against a real uWS server
 * scripted like an edge: placers place only on a welcomed guest that may place, never in their own tile, grow
 * their guests when under a tenth may place (up to the cap), count answers and refusals, time round trips;
 * viewers time each pixel from its placement's send to the `pixels` frame that holds it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startCPlacers, type CPlacers } from '../../bench/_players-placers.ts';
import { encodePixelsFrame, writePixelRecord } from '../../proto/frames.ts';
import { loadUws } from '../../src/adapters/uws/load.ts';

const uws = loadUws();
const closers: (() => void)[] = [];
const harnesses: CPlacers[] = [];
afterAll(async () => {
  for (const h of harnesses) await h.close();
  for (const close of closers) close();
});

const TILE = 64;
const COOLDOWN_MS = 1_000;
/** The server's delay from a placement's answer to its `pixels` frame. */
const FRAME_DELAY_MS = 30;

interface Placed {
  x: number;
  y: number;
  requestId: string;
}

/** An edge in miniature: welcomes, answers `place` (every 5th with `cooldown`), sends each pixel to the viewers. */
function scriptedEdge() {
  const placed: Placed[] = [];
  const guests = new Set<string>();
  const viewers = new Set<import('@trufflesuite/uws-js-unofficial').WebSocket<{ view: string }>>();
  let seq = 0;
  let messages = 0;
  const app = uws.App();
  app.ws<{ view: string }>('/ws', {
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      res.upgrade(
        { view: req.getQuery('view') ?? '' },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      ws.send(JSON.stringify({ type: 'welcome', cooldownRemaining: 0, canvasInfo: { width: 1000 } }), false);
      if (ws.getUserData().view === '') viewers.add(ws);
      else guests.add(String(guests.size));
    },
    message: (ws, data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(Buffer.from(data).toString()) as { type: string; x: number; y: number; requestId: string };
      if (m.type !== 'place') return;
      if (++messages % 5 === 0) {
        ws.send(
          JSON.stringify({
            type: 'error',
            code: 'cooldown',
            message: 'wait',
            requestId: m.requestId,
            remainingSeconds: 1,
          }),
          false,
        );
        return;
      }
      placed.push({ x: m.x, y: m.y, requestId: m.requestId });
      const s = ++seq;
      ws.send(
        JSON.stringify({ type: 'success', requestId: m.requestId, nextPlacement: Date.now() + COOLDOWN_MS, seq: s }),
        false,
      );
      setTimeout(() => {
        const records = new Uint8Array(5);
        writePixelRecord(records, 0, m.x, m.y, 1);
        const frame = encodePixelsFrame(s, s, records, 1);
        for (const v of viewers) v.send(frame, true);
      }, FRAME_DELAY_MS);
    },
    close: (ws) => {
      viewers.delete(ws);
    },
  });
  const port = new Promise<number>((resolve, reject) => {
    app.listen('127.0.0.1', 0, (socket) => {
      if (!socket) return reject(new Error('listen failed'));
      closers.push(() => uws.us_listen_socket_close(socket));
      resolve(uws.us_socket_local_port(socket));
    });
  });
  return { port, placed, guests, viewers };
}

describe('players C harness', () => {
  it('places closed-loop on ready guests, grows them under a tenth ready, counts refusals, times RTT and delivery', async () => {
    const edge = scriptedEdge();
    const port = await edge.port;
    const accepted: number[] = [];
    const h = await startCPlacers(
      {
        port,
        placers: 2,
        identities: 4,
        maxIdentities: 40,
        size: 1000,
        tile: TILE,
        view: '0,0,1,1',
        viewers: 3,
        timing: 2,
      },
      (seq) => accepted.push(seq),
    );
    harnesses.push(h);
    // Each placer uses its 4 guests at once and must grow (the 1 s cooldown): up to the cap of 40.
    await expect.poll(async () => (await h.status()).identities, { timeout: 15_000, interval: 100 }).toBe(40);
    await h.measure();
    await new Promise((r) => setTimeout(r, 1_500));
    const r = await h.report();

    expect(edge.viewers.size).toBe(3);
    expect(edge.guests.size).toBe(40);
    expect(r.identities).toBe(40);
    // 40 guests, one placement per guest per second: ~60 answered in 1.5 s, a fifth of them refused.
    expect(r.accepted).toBeGreaterThan(20);
    expect(r.refused).toBeGreaterThan(3);
    expect(r.accepted + r.refused).toBeLessThan(150);
    expect(r.waited).toBeGreaterThan(0); // every guest cooling down, none to open: the placers waited
    expect(r.rttP50Ms).toBeGreaterThan(0);
    expect(r.rttP50Ms).toBeLessThan(200);
    // Timed from send to frame: the frame delay and a little more, for every accepted pixel at both timers.
    expect(r.deliverySamples).toBeGreaterThanOrEqual(r.accepted);
    expect(r.deliveryP50Ms).toBeGreaterThanOrEqual(FRAME_DELAY_MS - 1);
    expect(r.deliveryP50Ms).toBeLessThan(FRAME_DELAY_MS + 200);
    expect(r.viewersOpen).toBe(3);
    expect(r.viewerCloses).toBe(0);
    // Every accepted sequence and its send time reached fd 3.
    await expect.poll(() => accepted.length, { timeout: 5_000 }).toBeGreaterThanOrEqual(r.accepted);
    // Never inside the placers' own tile, where their guests' views lie.
    expect(edge.placed.length).toBeGreaterThan(0);
    expect(edge.placed.every((p) => p.x >= TILE || p.y >= TILE)).toBe(true);
    expect(new Set(edge.placed.map((p) => p.requestId)).size).toBe(edge.placed.length);
  });
});
