import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../proto/close-codes.ts';
import { CanvasEncoding, decodeFrame, encodeCanvasFrame, FrameType } from '../../proto/frames.ts';
import { MAX_VIEW_TILES } from '../../proto/messages.ts';
import { asAccountIdentity } from '../../src/app/auth/identity.ts';
import { EdgeSessions, parseView } from '../../src/app/edge/edge-sessions.ts';
import { VIEW_TILE_RATE } from '../../src/app/edge/edge-session.ts';
import { TileView } from '../../src/client/tile-view.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { TileFramer, tileGrid, tilesOf } from '../../src/domain/edge/view-tiles.ts';
import { perMinute } from '../../src/domain/limits.ts';
import type { EdgeMetrics } from '../../src/ports/edge-metrics.ts';
import type { SessionSocket } from '../../src/ports/session-socket.ts';

const W = 600;
const H = 300; // 3 × 2 tiles, the right column and bottom row clipped

/** A socket whose frames a client model applies at once; `topics` are its subscriptions. */
class ClientSocket implements SessionSocket {
  readonly log: string[] = [];
  readonly texts: Record<string, unknown>[] = [];
  readonly topics = new Set<string>();
  readonly view = new TileView(W, H);
  readonly canvas = new Uint8Array(W * H).fill(255);
  gaps = 0;
  ended: number | null = null;
  sendText(text: string) {
    const message = JSON.parse(text) as Record<string, unknown>;
    this.texts.push(message);
    this.log.push(`text:${String(message['type'])}`);
  }
  sendBinary(bytes: Uint8Array) {
    const frame = decodeFrame(bytes);
    this.log.push(`frame:${frame.type}`);
    this.deliver(bytes);
    return 1;
  }
  deliver(bytes: Uint8Array) {
    const frame = decodeFrame(bytes);
    if (frame.type === FrameType.Tile) this.view.applyTile(frame, this.canvas);
    else if (frame.type === FrameType.TilePixels && this.view.applyPixels(frame, this.canvas) === 'gap') this.gaps++;
  }
  end(code: number) {
    this.ended = code;
    this.log.push(`end:${code}`);
  }
  subscribe() {
    this.topics.add('live');
    this.log.push('subscribe');
  }
  unsubscribe() {
    this.topics.delete('live');
    this.log.push('unsubscribe');
  }
  subscribeTile(tile: number) {
    this.topics.add(`t${tile}`);
    this.log.push(`subscribe:${tile}`);
  }
  unsubscribeTile(tile: number) {
    this.topics.delete(`t${tile}`);
    this.log.push(`unsubscribe:${tile}`);
  }
  bufferedAmount() {
    return 0;
  }
  cork(write: () => void) {
    write();
  }
}

const metrics: EdgeMetrics = {
  refused: () => undefined,
  frameSent: () => undefined,
  frameDropped: () => undefined,
  resync: () => undefined,
  placementAnswered: () => undefined,
  connections: () => undefined,
  published: () => undefined,
  pendingResponses: () => undefined,
};
const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value)).buffer;

/** An edge over a W×H canvas at seq 0 and a hub standing in for uWS topics. */
function edge() {
  const canvas = new EdgeCanvas(W, new Uint8Array(W * H), 0);
  const framer = new TileFramer(W, H, 0);
  const sockets: ClientSocket[] = [];
  let now = 0;
  const info = { width: W, height: H, colorCount: 32, cooldownSeconds: 1, palette: [], paletteNames: [] };
  const sessions = new EdgeSessions({
    canvas,
    compressed: {
      frame: () => ({
        seq: canvas.seq,
        width: W,
        height: H,
        bytes: encodeCanvasFrame(canvas.seq, W, H, CanvasEncoding.Raw, canvas.canvas.slice()),
      }),
    },
    info,
    maxBackpressure: 1 << 20,
    largeCatchUpBytes: 1 << 20,
    metrics,
    clock: { now: () => now },
    clientLimits: {
      messages: { perSecond: 1000, burst: 1000 },
      resyncsPerSocket: perMinute(60),
      resyncsPerIp: perMinute(600),
      maxUnreadResponsesPerIp: 8,
    },
    identity: { identify: async () => ({ identity: { userId: 'g_1', isGuest: true } }) },
    cooldowns: { remainingMsMany: async (userIds) => userIds.map(() => 0) },
    placePixel: async () => ({ ok: false, code: 'internal', message: 'no' }) as never,
    onPlacementError: () => undefined,
  });
  const connect = (view: { x: number; y: number; width: number; height: number } | null = null) => {
    const socket = new ClientSocket();
    sockets.push(socket);
    const admitted = {
      account: asAccountIdentity({ userId: 'g_1', isGuest: true }),
      ip: '10.0.0.1',
      since: null,
      version: null,
      cooldownRemaining: 0,
      view,
    };
    const session = sessions.open(socket, admitted, { ip: '', since: null, version: null, holdsSlot: false }, () => {});
    return {
      socket,
      session,
      view: (x: number, y: number, width: number, height: number) =>
        session.receive(json({ type: 'view', x, y, width, height }), false),
    };
  };
  /** The tile window ends: each watched tile's frame since the last one goes to its topic. */
  const flushTiles = () => {
    const watched = (t: number) => sockets.some((s) => s.topics.has(`t${t}`));
    for (const { tile, frame: f } of framer.flush(canvas.seq, watched))
      for (const s of sockets) if (s.topics.has(`t${tile}`)) s.deliver(f);
  };
  /**
   * One flush: pixels pushed, then published (the live topic) and taken by the tile framer; `tiles`: the
   * tile window ends with it (false: the tile frames wait for a later window, as with TILE_WINDOW_MS > 0).
   */
  const flush = (pixels: readonly (readonly [number, number, number])[], tiles = true) => {
    for (const [x, y, c] of pixels) canvas.pushPixel(canvas.receivedSeq + 1, x, y, c);
    const frame = canvas.flush();
    if (frame) framer.add(frame);
    if (tiles) flushTiles();
  };
  return { canvas, connect, flush, flushTiles, tick: (ms: number) => (now += ms) };
}

/** The pixels of `tiles` in `canvas` (row-major per tile). */
function region(canvas: Uint8Array, tiles: readonly number[]): number[] {
  const columns = tileGrid(W, H).columns;
  const out: number[] = [];
  for (const t of tiles) {
    const tx = t % columns;
    const ty = (t - tx) / columns;
    for (let y = ty * 256; y < Math.min(H, ty * 256 + 256); y++)
      for (let x = tx * 256; x < Math.min(W, tx * 256 + 256); x++) out.push(canvas[y * W + x] as number);
  }
  return out;
}

describe('viewport tiles', () => {
  it('covers a rectangle with the tiles it touches, clipped to the canvas', () => {
    const grid = tileGrid(W, H);
    expect(grid).toEqual({ width: W, height: H, columns: 3, rows: 2 });
    expect(tilesOf(grid, 0, 0, 1, 1)).toEqual([0]);
    expect(tilesOf(grid, 255, 255, 2, 2)).toEqual([0, 1, 3, 4]);
    expect(tilesOf(grid, 0, 0, 65_536, 65_536)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(tilesOf(grid, 700, 0, 10, 10)).toEqual([]);
  });

  it('splits a batch into one frame per touched tile, chained by prevSeq, also past unwatched batches', () => {
    const canvas = new EdgeCanvas(W, new Uint8Array(W * H), 5);
    const framer = new TileFramer(W, H, 5);
    canvas.pushPixel(6, 1, 2, 3);
    canvas.pushPixel(7, 599, 299, 4);
    canvas.pushPixel(8, 300, 10, 5);
    const first = framer.split(canvas.flush() as Uint8Array, canvas.seq).map((f) => [f.tile, decodeFrame(f.frame)]);
    expect(first).toEqual([
      [0, expect.objectContaining({ tx: 0, ty: 0, prevSeq: 5, seq: 8, count: 1, records: Uint8Array.of(1, 2, 3) })],
      [1, expect.objectContaining({ tx: 1, ty: 0, prevSeq: 5, seq: 8, count: 1, records: Uint8Array.of(44, 10, 5) })],
      [5, expect.objectContaining({ tx: 2, ty: 1, prevSeq: 5, seq: 8, count: 1, records: Uint8Array.of(87, 43, 4) })],
    ]);
    canvas.pushPixel(9, 2, 2, 1);
    expect(framer.split(canvas.flush() as Uint8Array, canvas.seq, () => false)).toEqual([]);
    canvas.pushPixel(10, 3, 3, 1);
    const [third] = framer.split(canvas.flush() as Uint8Array, canvas.seq);
    expect(decodeFrame((third as { frame: Uint8Array }).frame)).toMatchObject({ prevSeq: 9, seq: 10 });
  });
  it('given several published batches in one tile window, sends one frame per tile covering all of them, in order', () => {
    const canvas = new EdgeCanvas(W, new Uint8Array(W * H), 5);
    const framer = new TileFramer(W, H, 5);
    canvas.pushPixel(6, 1, 2, 3);
    framer.add(canvas.flush() as Uint8Array);
    canvas.pushPixel(7, 300, 10, 5);
    canvas.pushPixel(8, 4, 5, 6);
    framer.add(canvas.flush() as Uint8Array);
    expect(framer.pending).toBe(3);
    const frames = framer.flush(canvas.seq).map((f) => [f.tile, decodeFrame(f.frame)]);
    expect(frames).toEqual([
      [0, expect.objectContaining({ prevSeq: 5, seq: 8, count: 2, records: Uint8Array.of(1, 2, 3, 4, 5, 6) })],
      [1, expect.objectContaining({ prevSeq: 5, seq: 8, count: 1, records: Uint8Array.of(44, 10, 5) })],
    ]);
    expect(framer.pending).toBe(0);
    expect(framer.flush(canvas.seq)).toEqual([]); // nothing since: no frame, the chain stays at 8
    for (let seq = 9; seq <= 208; seq++) canvas.pushPixel(seq, seq % 256, 7, 1); // past the first buffer
    framer.add(canvas.flush() as Uint8Array);
    const [big] = framer.flush(canvas.seq).map((f) => decodeFrame(f.frame));
    expect(big).toMatchObject({ prevSeq: 8, seq: 208, count: 200 });
  });
});

describe('edge session: viewport subscriptions', () => {
  it('leaves the whole-canvas topic and sends each tile of the view before subscribing to it', () => {
    const e = edge();
    e.flush([[10, 10, 7]]);
    const { socket, view } = e.connect();
    expect(socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:2', 'subscribe']);
    socket.log.length = 0;
    view(200, 200, 100, 100); // tiles 0, 1, 3, 4
    expect(socket.log).toEqual(['unsubscribe', ...[0, 1, 3, 4].flatMap((t) => ['frame:4', `subscribe:${t}`])]);
    socket.log.length = 0;
    view(300, 0, 300, 100); // tiles 1, 2: 0, 3, 4 leave, 2 enters
    expect(socket.log).toEqual(['unsubscribe:0', 'unsubscribe:3', 'unsubscribe:4', 'frame:4', 'subscribe:2']);
  });

  it('refuses a view outside the canvas or over MAX_VIEW_TILES tiles, and stays as it was', () => {
    const e = edge();
    const { socket, view, session } = e.connect();
    view(1000, 1000, 10, 10);
    expect(socket.texts.at(-1)).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(session.view).toBeNull();
    expect(MAX_VIEW_TILES).toBeGreaterThanOrEqual(tileGrid(2000, 2000).columns ** 2);
  });

  it('starts in the view of ?view= without a canvas, and serves a canvas when that view is refused', () => {
    expect(parseView('1,2,30,40')).toEqual({ x: 1, y: 2, width: 30, height: 40 });
    for (const bad of ['', '1,2,3', '1,2,0,4', '-1,2,3,4', '1,2,3,4,5', '99999,1,1,1'])
      expect(parseView(bad), bad).toBeNull();
    const e = edge();
    const zoomed = e.connect({ x: 300, y: 0, width: 10, height: 10 });
    expect(zoomed.socket.log).toEqual(['text:welcome', 'unsubscribe', 'frame:4', 'subscribe:1']);
    const outside = e.connect({ x: 700, y: 0, width: 10, height: 10 });
    expect(outside.socket.log).toEqual(['text:welcome', 'text:error', 'unsubscribe', 'frame:2', 'subscribe']);
  });

  it('answers resume in a view with every tile of it again', () => {
    const e = edge();
    const { socket, session, view } = e.connect();
    view(0, 0, 10, 10);
    socket.log.length = 0;
    session.receive(json({ type: 'resume', since: 0 }), false);
    expect(socket.log).toEqual(['frame:4', 'subscribe:0']);
  });

  it('closes with 1013 a socket that asks for tiles faster than VIEW_TILE_RATE', () => {
    const e = edge();
    const { socket, view } = e.connect();
    for (let i = 0; i < VIEW_TILE_RATE.burst / 2 && socket.ended === null; i++) {
      view(0, 0, 10, 10);
      view(300, 260, 10, 10);
    }
    expect(socket.ended).toBeNull();
    view(0, 0, 10, 10);
    expect(socket.ended).toBe(CloseCode.TryAgainLater);
    expect(socket.texts.at(-1)).toMatchObject({ code: 'rate_limited' });
  });

  it('keeps every client equal to the canvas in its view, with no gap, through random pans, placements and tile windows', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              client: fc.nat(2),
              x: fc.nat(W - 1),
              y: fc.nat(H - 1),
              width: fc.integer({ min: 1, max: W }),
              height: fc.integer({ min: 1, max: H }),
            }),
            fc.record({
              pixels: fc.array(fc.tuple(fc.nat(W - 1), fc.nat(H - 1), fc.nat(31)), { maxLength: 30 }),
              tiles: fc.boolean(),
            }),
          ),
          { maxLength: 40 },
        ),
        (steps) => {
          const e = edge();
          const clients = [e.connect(), e.connect(), e.connect()];
          for (const c of clients) c.view(0, 0, 1, 1);
          for (const step of steps) {
            e.tick(1000);
            if ('pixels' in step) e.flush(step.pixels, step.tiles);
            else (clients[step.client] as (typeof clients)[0]).view(step.x, step.y, step.width, step.height);
          }
          e.flushTiles(); // the last tile window ends
          for (const c of clients) {
            const tiles = c.session.view as number[];
            expect(c.socket.gaps).toBe(0);
            expect(region(c.socket.canvas, tiles)).toEqual(region(e.canvas.canvas, tiles));
          }
        },
      ),
      { numRuns: 40 },
    );
  });
});
