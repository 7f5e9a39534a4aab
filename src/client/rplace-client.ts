/**
 * The rplace WebSocket client, shared by the browser client, the tests and the benchmarks. Runs in
 * browsers and in Node: it takes a WebSocket constructor (the browser's, or a wrapper around `ws`) and,
 * optionally, a `fetch`. Protocol: `proto/PROTOCOL.md`.
 *
 * What it guarantees: its canvas (or, with `trackCanvas: false`, its sequence) only ever advances through
 * contiguous stream sequences. A `pixels` frame starting after `seq + 1` is a gap: the client drops it and
 * sends `resume {since: seq}`; a reconnect asks `/ws?since=seq`. The edge answers either with exactly the
 * missing events or with a fresh `canvas`. It never silently diverges.
 *
 * A dropped connection is retried at once (within 250 ms), then backs off 1 s, 2 s, 4 s … 30 s plus up to 1 s
 * of jitter, reset after a successful sync; `nextRetryAt` and `retryNow()` let a page show and skip the wait.
 * A `place` still unanswered when the connection drops is re-sent with the same `requestId` after the
 * reconnect: the edge deduplicates it, so it is placed at most once and still gets its answer.
 *
 * Every server control message is validated against its schema (./server-messages.ts); one that fails is
 * reported through `onProtocolError` and dropped, never trusted and never thrown. Entry point: ./index.ts.
 */
import { inflateSync } from 'fflate';
import { CanvasEncoding, decodeFrame, FrameDecodeError, FrameType, type PixelsFrame } from '../../proto/frames.ts';
import type { TileFrame, TilePixelsFrame } from '../../proto/tile-frames.ts';
import { tileGrid, tilesOf } from '../domain/edge/view-tiles.ts';
import { TileView } from './tile-view.ts';
import type { ErrorMessage, ResizedMessage, SuccessMessage, WelcomeMessage } from '../../proto/messages.ts';
import { growCanvas } from '../domain/resize.ts';
import { PROTOCOL_VERSION } from '../../proto/version.ts';
import { CloseCode } from '../../proto/close-codes.ts';
import { reconnectDelay, type Backoff } from './backoff.ts';
import { parseServerMessage, type ServerMessageError } from './server-messages.ts';
import type { FetchLike, WebSocketConstructor, WebSocketLike } from './transport.ts';

export type ClientStatus = 'connecting' | 'syncing' | 'synced' | 'reconnecting' | 'closed' | 'incompatible';

export type PlaceResult = SuccessMessage | ErrorMessage;

/** The part of the canvas a client shows (canvas pixels), for viewport subscriptions. */
export interface ViewRect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** The reference client sends at most one `view` per this many ms (the last one wins). */
export const VIEW_INTERVAL_MS = 250;

export interface ClientOptions {
  /** Base URL of the edge (`http://host:3000`, or `location.origin`); the socket goes to `<base>/ws`. */
  readonly url: string;
  readonly WebSocket: WebSocketConstructor;
  /** When given: mints the guest cookie (`/api/v1/auth/me`) and loads the first canvas over HTTP (CDN-cacheable). */
  readonly fetch?: FetchLike;
  /** Keep a copy of the canvas (default true). `false` tracks only the sequence (benchmarks, tests). */
  readonly trackCanvas?: boolean;
  /** The caller already reflects this sequence: the first connect asks only for what follows it. */
  readonly since?: number;
  /** `arraybuffer` (default; what browsers need). Node's `ws` also takes `nodebuffer`, which saves a copy per message. */
  readonly binaryType?: string;
  /** Reconnect back-off (ms), see `reconnectDelay`. Defaults: first retry within 250, then 1000 doubling up to 30000, plus 0–1000 of jitter. */
  readonly backoff?: Backoff;
  /** How long a `place` waits for its answer across reconnects before resolving `unavailable` (default 15 s). */
  readonly placeTimeoutMs?: number;
  onWelcome?(welcome: WelcomeMessage): void;
  /** A whole new canvas (first load or resync). `canvas` is the client's own buffer (absent without `trackCanvas`). */
  onCanvas?(seq: number, width: number, height: number, canvas: Uint8Array | undefined): void;
  /** A batch just applied; the client's `seq` is now `frame.lastSeq`. */
  onPixels?(frame: PixelsFrame): void;
  /**
   * The canvas grew at `resized.seq` (an operator's resize; proto/PROTOCOL.md "Canvas resizes"): the client's
   * canvas, `width`, `height` and `welcome.canvasInfo` are already the new ones. `onCanvas` is called too.
   */
  onResized?(resized: ResizedMessage): void;
  /**
   * Show only this part of the canvas (see `setView`); absent: the whole canvas. Outside the view the
   * client's canvas is stale.
   */
  readonly view?: ViewRect;
  /** A viewport tile arrived whole (it entered the view, or after a gap); its pixels are in `canvas`. */
  onTile?(frame: TileFrame): void;
  /** A viewport tile's batch just applied to `canvas`. */
  onTilePixels?(frame: TilePixelsFrame): void;
  onStatus?(status: ClientStatus, detail?: string): void;
  /** An `error` message not tied to a request (bad input, rate limits, …). */
  onServerError?(error: ErrorMessage): void;
  /** A control message from the server that failed validation (dropped; the connection carries on). */
  onProtocolError?(error: ServerMessageError): void;
}

interface PendingPlace {
  readonly message: string;
  /** The socket it was last sent on: re-sent after a reconnect only. */
  sentOn: WebSocketLike | undefined;
  readonly resolve: (result: PlaceResult) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

let requestCounter = 0;
function newRequestId(): string {
  requestCounter = (requestCounter + 1) % 1_000_000;
  return `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}${requestCounter.toString(36)}`;
}

export class RplaceClient {
  /** Last stream sequence this client reflects (-1 before the first canvas). */
  seq: number;
  canvas: Uint8Array | undefined;
  width = 0;
  height = 0;
  welcome: WelcomeMessage | undefined;
  status: ClientStatus = 'closed';
  /** When the next reconnect attempt starts (ms since the epoch), while one is scheduled; else null. */
  nextRetryAt: number | null = null;

  readonly #options: ClientOptions;
  readonly #base: string;
  readonly #track: boolean;
  #socket: WebSocketLike | undefined;
  #stopped = true;
  #attempt = 0;
  #resumePending = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #pending = new Map<string, PendingPlace>();
  readonly #pings: ((rttMs: number) => void)[] = [];
  #pingSentAt: number[] = [];
  #syncWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  /** The view asked for (null: whole canvas), the per-tile sequences once sent, and the `view` throttle. */
  #view: ViewRect | null;
  #tiles: TileView | null = null;
  #viewSentAt = Number.NEGATIVE_INFINITY;
  #viewTimer: ReturnType<typeof setTimeout> | undefined;
  /** The view the current connection's URL asked for (`?view=`): the edge starts there, nothing to send. */
  #viewInUrl: ViewRect | null = null;
  /** Closed with 4006 (the canvas grew under a viewport): reconnect whole-canvas first. */
  #resizedAway = false;

  constructor(options: ClientOptions) {
    this.#options = options;
    this.#base = options.url.replace(/\/+$/, '');
    this.#track = options.trackCanvas ?? true;
    this.seq = options.since ?? -1;
    this.#view = options.view ?? null;
  }

  /**
   * Shows only `rect` from now on (viewport subscriptions, proto/PROTOCOL.md): the edge sends the tiles
   * it touches and their updates only. Sent at most every `VIEW_INTERVAL_MS` (the latest rect wins).
   */
  setView(rect: ViewRect): void {
    this.#view = rect;
    if (this.#viewTimer || !this.welcome || !this.#socket) return;
    const wait = this.#viewSentAt + VIEW_INTERVAL_MS - Date.now();
    if (wait <= 0) this.#sendView();
    else
      this.#viewTimer = setTimeout(() => {
        this.#viewTimer = undefined;
        this.#sendView();
      }, wait);
  }

  /** The tiles in view (indices `ty · columns + tx`), or null for the whole canvas. */
  get viewTiles(): number[] | null {
    const view = this.#view;
    if (!view || !this.welcome) return null;
    const { width, height } = this.welcome.canvasInfo;
    return tilesOf(tileGrid(width, height), view.x, view.y, view.width, view.height);
  }

  #sendView(): void {
    const view = this.#view;
    const tiles = this.viewTiles;
    if (!view || !tiles || !this.welcome || !this.#socket) return;
    this.#tiles?.keepOnly(tiles);
    this.#viewSentAt = Date.now();
    this.#socket.send(JSON.stringify({ type: 'view', ...view }));
  }

  /**
   * The first tile frame of a connection switches the client to viewport mode (an edge that does not
   * know `view` never sends one, and the client stays a whole-canvas client).
   */
  #onTileFrame(frame: TileFrame | TilePixelsFrame): void {
    const view = this.viewTiles;
    if (!view || !this.welcome) return;
    if (!this.#tiles) {
      this.#tiles = new TileView(this.welcome.canvasInfo.width, this.welcome.canvasInfo.height);
      this.#tiles.keepOnly(view);
    }
    const tiles = this.#tiles;
    if (this.#track && !this.canvas) {
      this.width = tiles.width;
      this.height = tiles.height;
      this.canvas = new Uint8Array(tiles.width * tiles.height);
    }
    if (frame.type === FrameType.Tile) {
      tiles.applyTile(frame, this.canvas);
      this.seq = Math.max(this.seq, frame.seq);
      this.#resumePending = false;
      this.#options.onTile?.(frame);
      this.#markSynced();
      return;
    }
    const result = tiles.applyPixels(frame, this.canvas);
    if (result === 'gap') {
      if (!this.#resumePending) {
        this.#resumePending = true;
        this.#setStatus('syncing', `gap in tile ${frame.tx},${frame.ty}`);
        this.#socket?.send(JSON.stringify({ type: 'resume', since: Math.max(0, this.seq) }));
      }
      return;
    }
    if (result === 'applied') {
      this.seq = Math.max(this.seq, frame.seq);
      this.#options.onTilePixels?.(frame);
    }
  }

  /** Connects (reconnecting as needed until `close()`); resolves once the client is first in sync. */
  connect(): Promise<void> {
    if (this.#stopped) {
      this.#stopped = false;
      void this.#open();
    }
    return this.synced();
  }

  /** Resolves the next time the client is in sync (immediately when it is). */
  synced(): Promise<void> {
    if (this.status === 'synced') return Promise.resolve();
    return new Promise((resolve, reject) => this.#syncWaiters.push({ resolve, reject }));
  }

  /** Places a pixel. Resolves with the edge's `success` or `error` (never rejects). */
  place(x: number, y: number, color: number, requestId = newRequestId()): Promise<PlaceResult> {
    return new Promise((resolve) => {
      const message = JSON.stringify({ type: 'place', x, y, color, requestId });
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        resolve({ type: 'error', code: 'unavailable', message: 'no answer from the edge in time', requestId });
      }, this.#options.placeTimeoutMs ?? 15_000);
      const pending: PendingPlace = { message, resolve, timer, sentOn: undefined };
      this.#pending.set(requestId, pending);
      if (this.welcome && this.#socket && (this.status === 'syncing' || this.status === 'synced')) {
        this.#socket.send(message);
        pending.sentOn = this.#socket;
      }
    });
  }

  /** Round trip time of an application-level ping, in ms. */
  ping(): Promise<number> {
    return new Promise((resolve) => {
      this.#pings.push(resolve);
      this.#pingSentAt.push(Date.now());
      this.#socket?.send('{"type":"ping"}');
    });
  }

  /** Closes for good: no reconnect; unanswered places resolve `unavailable`. */
  close(): void {
    this.#stopped = true;
    if (this.#viewTimer) clearTimeout(this.#viewTimer);
    this.#viewTimer = undefined;
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.nextRetryAt = null;
    this.#socket?.close(1000, 'client closed');
    this.#socket = undefined;
    for (const [requestId, pending] of this.#pending) {
      clearTimeout(pending.timer);
      pending.resolve({ type: 'error', code: 'unavailable', message: 'client closed', requestId });
    }
    this.#pending.clear();
    this.#setStatus('closed');
    for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(new Error('client closed'));
  }

  async #open(): Promise<void> {
    this.#setStatus(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    const fetchFn = this.#options.fetch;
    if (fetchFn && this.#attempt === 0 && this.seq < 0) {
      // The canvas downloads (and paints) while the guest cookie is minted; the socket waits for both, so
      // its identity is the cookie's and it resumes from the HTTP canvas's sequence.
      const cookie = fetchFn(`${this.#base}/api/v1/auth/me`, { credentials: 'include' }).catch(() => undefined);
      const canvas = this.#track ? this.#loadCanvasOverHttp(fetchFn).catch(() => undefined) : undefined;
      await cookie;
      await canvas;
    }
    if (this.#stopped) return;
    const wsBase = this.#base.replace(/^http/, 'ws');
    // After a resize (4006) the first connect is a whole-canvas one: its `canvas` frame brings the new size
    // (and `onCanvas`); the view follows the welcome, on the new tile grid.
    const v = this.#resizedAway ? null : this.#view;
    this.#resizedAway = false;
    const view = v ? `&view=${v.x},${v.y},${v.width},${v.height}` : '';
    const url = `${wsBase}/ws?v=${PROTOCOL_VERSION}${this.seq >= 0 ? `&since=${this.seq}` : ''}${view}`;
    this.#viewInUrl = v;
    let socket: WebSocketLike;
    try {
      socket = new this.#options.WebSocket(url);
    } catch (error) {
      this.#scheduleReconnect(`cannot open ${url}: ${(error as Error).message}`);
      return;
    }
    this.#socket = socket;
    this.#resumePending = false;
    socket.binaryType = this.#options.binaryType ?? 'arraybuffer';
    socket.onopen = () => this.#setStatus('syncing');
    socket.onmessage = (event) => this.#onMessage(event.data);
    socket.onerror = () => undefined; // onclose follows and decides
    socket.onclose = (event) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      if (event.code === CloseCode.UnsupportedVersion) {
        this.#stopped = true;
        this.#setStatus('incompatible', event.reason);
        return;
      }
      if (event.code === CloseCode.CanvasResized) {
        this.#resizedAway = true;
        this.#tiles = null;
      }
      if (!this.#stopped) this.#scheduleReconnect(`closed ${event.code} ${event.reason}`);
    };
  }

  async #loadCanvasOverHttp(fetchFn: FetchLike): Promise<void> {
    const response = await fetchFn(`${this.#base}/api/v1/canvas`, { credentials: 'include' });
    if (!response.ok) return;
    const seq = Number(response.headers.get('x-rplace-seq'));
    const width = Number(response.headers.get('x-canvas-width'));
    const height = Number(response.headers.get('x-canvas-height'));
    const body = new Uint8Array(await response.arrayBuffer());
    if (!Number.isSafeInteger(seq) || seq < 0 || body.length !== width * height || this.seq >= 0) return;
    this.#setCanvas(seq, width, height, body);
  }

  #scheduleReconnect(reason: string): void {
    const delay = reconnectDelay(this.#attempt, this.#options.backoff ?? {}, Math.random());
    this.#attempt += 1;
    this.nextRetryAt = Date.now() + delay;
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      this.nextRetryAt = null;
      void this.#open();
    }, delay);
    this.#setStatus('reconnecting', reason);
  }

  /** While waiting to reconnect: try now instead (the page's "retry now"). */
  retryNow(): void {
    if (this.#stopped || !this.#reconnectTimer) return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.nextRetryAt = null;
    void this.#open();
  }

  #onMessage(data: unknown): void {
    if (typeof data === 'string') {
      this.#onControl(data);
      return;
    }
    let bytes: Uint8Array;
    if (data instanceof ArrayBuffer) bytes = new Uint8Array(data);
    else if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    else return;
    let frame;
    try {
      frame = decodeFrame(bytes);
    } catch (error) {
      if (!(error instanceof FrameDecodeError)) throw error;
      if (bytes[0] !== undefined && bytes[0] > PROTOCOL_VERSION) {
        this.#stopped = true;
        this.#socket?.close(1000, 'client too old');
        this.#setStatus('incompatible', error.message);
        return;
      }
      this.#resync(`undecodable frame: ${error.message}`);
      return;
    }
    if (frame.type === FrameType.Canvas) {
      let canvas: Uint8Array | undefined;
      if (this.#track) {
        const size = frame.width * frame.height;
        try {
          canvas =
            frame.encoding === CanvasEncoding.Deflate
              ? inflateSync(frame.data, { out: new Uint8Array(size) })
              : frame.data.slice();
        } catch {
          this.#resync('canvas frame did not inflate');
          return;
        }
        if (canvas.length !== size) {
          this.#resync('canvas frame has the wrong size');
          return;
        }
      }
      this.#setCanvas(frame.seq, frame.width, frame.height, canvas);
      this.#markSynced();
      return;
    }
    if (frame.type === FrameType.Tile || frame.type === FrameType.TilePixels) {
      this.#onTileFrame(frame);
      return;
    }
    // In a view, whole-canvas frames still in flight (or a reconnect's catch-up) are superseded by the tiles.
    if (this.#tiles) return;
    if (this.seq < 0) return; // no base yet: the edge sends a canvas first
    if (frame.lastSeq <= this.seq) {
      // Old, or an empty "you are up to date" frame.
      if (frame.firstSeq <= this.seq + 1) this.#markSynced();
      return;
    }
    if (frame.firstSeq > this.seq + 1) {
      // A gap: drop and ask for exactly what is missing, once until it arrives.
      if (!this.#resumePending) {
        this.#resumePending = true;
        this.#setStatus('syncing', `gap after ${this.seq}`);
        this.#socket?.send(JSON.stringify({ type: 'resume', since: this.seq }));
      }
      return;
    }
    // firstSeq ≤ seq + 1 < lastSeq + 1: re-applying an already applied prefix is harmless (last write wins, in order).
    const canvas = this.canvas;
    if (canvas) {
      const r = frame.records;
      const width = this.width;
      for (let o = 0; o < frame.count * 5; o += 5) {
        canvas[
          ((r[o + 2] as number) | ((r[o + 3] as number) << 8)) * width +
            ((r[o] as number) | ((r[o + 1] as number) << 8))
        ] = r[o + 4] as number;
      }
    }
    this.seq = frame.lastSeq;
    this.#resumePending = false;
    this.#options.onPixels?.(frame);
    this.#markSynced();
  }

  #onControl(text: string): void {
    const parsed = parseServerMessage(text);
    if (parsed.kind === 'unknown') return; // newer edges may add message types within a version
    if (parsed.kind === 'invalid') {
      this.#options.onProtocolError?.(parsed.error);
      return;
    }
    if (parsed.kind === 'incompatible') {
      this.#stopped = true;
      this.#socket?.close(1000, 'protocol mismatch');
      this.#setStatus('incompatible', `edge speaks protocol ${parsed.protocol}, client ${PROTOCOL_VERSION}`);
      return;
    }
    const message = parsed.message;
    switch (message.type) {
      case 'welcome': {
        this.welcome = message;
        this.#options.onWelcome?.(message);
        // A new connection starts as a whole-canvas one: ask for the view again (every tile comes anew).
        this.#tiles = null;
        if (this.#viewTimer) clearTimeout(this.#viewTimer);
        this.#viewTimer = undefined;
        if (this.#view && this.#view !== this.#viewInUrl) this.#sendView();
        else this.#viewSentAt = Date.now();
        const socket = this.#socket;
        for (const pending of this.#pending.values()) {
          if (!socket || pending.sentOn === socket) continue;
          socket.send(pending.message);
          pending.sentOn = socket;
        }
        return;
      }
      case 'success':
      case 'error': {
        const pending = message.requestId !== undefined ? this.#pending.get(message.requestId) : undefined;
        if (pending && message.requestId !== undefined) {
          clearTimeout(pending.timer);
          this.#pending.delete(message.requestId);
          pending.resolve(message);
        } else if (message.type === 'error') {
          this.#options.onServerError?.(message);
        }
        return;
      }
      case 'resized':
        this.#onResized(message);
        return;
      case 'pong': {
        const resolve = this.#pings.shift();
        const sentAt = this.#pingSentAt.shift();
        if (resolve && sentAt !== undefined) resolve(Date.now() - sentAt);
        return;
      }
    }
  }

  /** The resume rules for `resized` (PROTOCOL.md): apply at `seq + 1`, skip when old, resume on a gap. */
  #onResized(message: ResizedMessage): void {
    if (this.seq < 0 || message.seq <= this.seq) return; // no base yet (a canvas comes first), or old
    if (message.seq > this.seq + 1) {
      if (!this.#resumePending) {
        this.#resumePending = true;
        this.#setStatus('syncing', `gap after ${this.seq}`);
        this.#socket?.send(JSON.stringify({ type: 'resume', since: this.seq }));
      }
      return;
    }
    const grown = this.canvas
      ? growCanvas(this.canvas, { width: this.width, height: this.height }, message)
      : undefined;
    if (this.welcome)
      this.welcome = {
        ...this.welcome,
        canvasInfo: { ...this.welcome.canvasInfo, width: message.width, height: message.height, seq: message.seq },
      };
    this.#tiles = null; // the tile grid changed; a viewport socket is closed with 4006 and asks for its view anew
    this.#setCanvas(message.seq, message.width, message.height, grown);
    this.#options.onResized?.(message);
  }

  #setCanvas(seq: number, width: number, height: number, canvas: Uint8Array | undefined): void {
    this.seq = seq;
    this.width = width;
    this.height = height;
    this.canvas = canvas;
    this.#resumePending = false;
    this.#options.onCanvas?.(seq, width, height, canvas);
  }

  /** Something is wrong with what we hold: forget it and reconnect for a fresh canvas. */
  #resync(reason: string): void {
    this.seq = this.#track ? -1 : this.seq;
    this.#socket?.close(1000, 'resync');
    this.#socket = undefined;
    this.#scheduleReconnect(reason);
  }

  #markSynced(): void {
    if (this.status !== 'synced') {
      this.#attempt = 0;
      this.#setStatus('synced');
      for (const waiter of this.#syncWaiters.splice(0)) waiter.resolve();
    }
  }

  #setStatus(status: ClientStatus, detail?: string): void {
    if (this.status === status && detail === undefined) return;
    this.status = status;
    this.#options.onStatus?.(status, detail);
    if (status === 'incompatible')
      for (const waiter of this.#syncWaiters.splice(0)) waiter.reject(new Error(`incompatible: ${detail ?? ''}`));
  }
}
