/**
 * One WebSocket client of the edge, as plain synchronous code over a `SessionSocket` port: the protocol of
 * `proto/PROTOCOL.md` after the upgrade (welcome, catch-up or whole canvas, `place`, `resume`, `ping`),
 * and the per-connection bounds. The uWS adapter only forwards its callbacks here.
 *
 * Consistency: `open`, `resume` and `drained` read the edge canvas on the one thread that also flushes it,
 * so a catch-up built from the ring ends exactly where the next published frame starts. A socket is
 * subscribed to the live topic in the same call as its catch-up is sent, never before; a socket sent a
 * whole canvas is subscribed only once that canvas has drained to half of `maxBackpressure`.
 *
 * Bounds per socket (docs/SECURITY.md): a message rate (past it: `rate_limited`, then 1008); messages over
 * `MAX_CLIENT_MESSAGE_BYTES` (`too_large`, then 1009); more than `MAX_BAD_MESSAGES` malformed messages
 * (1008); at most `MAX_INFLIGHT_PLACES` placements awaiting their answer (the next is refused with
 * `rate_limited`, the socket stays open); whole-canvas and large catch-up sends from token buckets per
 * socket and per address (past either: `rate_limited`, then 1013). The checks are numbers in this object:
 * nothing is allocated per accepted message beyond its decoding.
 */
import {
  ClientMessage,
  MAX_CLIENT_MESSAGE_BYTES,
  MAX_VIEW_TILES,
  type ViewMessage,
  PROTOCOL_VERSION,
  type CanvasInfo,
  type ServerControlMessage,
} from '../../../proto/messages.ts';
import { CloseCode } from '../../../proto/close-codes.ts';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { CompressedCanvas } from '../../ports/compressed-canvas.ts';
import type { EdgeMetrics } from '../../ports/edge-metrics.ts';
import type { SessionSocket } from '../../ports/session-socket.ts';
import type { AccountIdentity } from '../auth/identity.ts';
import type { PlaceOutcome, PlaceRequest } from '../place-pixel.ts';
import type { Clock } from '../../ports/clock.ts';
import type { EdgeClientLimits, SocketBudget } from '../../domain/edge/client-limits.ts';
import type { EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import { tileGrid, tilesOf, type TileGrid } from '../../domain/edge/view-tiles.ts';
import { fullBucket, msUntil, takeToken, type Bucket, type Rate } from '../../domain/limits.ts';

/** `place` messages a socket may have in flight at once. */
export const MAX_INFLIGHT_PLACES = 4;
/** Messages kept while `welcome` waits for the user's cooldown read; past it: `rate_limited`. */
export const MAX_EARLY_MESSAGES = MAX_INFLIGHT_PLACES;
/** Malformed messages tolerated per connection before closing it with 1008. */
export const MAX_BAD_MESSAGES = 20;
/**
 * Tile snapshots a socket may be sent (each ≤ 64 KiB): two whole 8×8 views at once, then 16 a second, far
 * above panning (a client sends at most 4 `view`s a second). Past it: `rate_limited`, then 1013.
 */
export const VIEW_TILE_RATE: Rate = { perSecond: 16, burst: 2 * MAX_VIEW_TILES };

/** Places one pixel for a connection (the guarded placement with accounts, the plain command without). */
export type SessionPlace = (
  account: AccountIdentity,
  ip: string,
  request: Omit<PlaceRequest, 'userId'>,
) => Promise<PlaceOutcome>;

/** What every session of one edge shares. */
export interface EdgeSessionContext {
  readonly canvas: Pick<EdgeCanvas, 'seq' | 'width' | 'height' | 'catchUp' | 'tileFrame'>;
  readonly compressed: Pick<CompressedCanvas, 'frame'>;
  readonly rates: EdgeClientLimits;
  readonly info: Omit<CanvasInfo, 'seq'>;
  /** The transport's per-socket buffer bound (bytes); a whole canvas waits until half of it drained. */
  readonly maxBackpressure: number;
  /** A catch-up `pixels` frame at least this large is charged like a whole canvas. */
  readonly largeCatchUpBytes: number;
  readonly metrics: EdgeMetrics;
  readonly clock: Clock;
  readonly place: SessionPlace;
  /** A placement failed with an exception (not a refusal): log it; the client gets `internal`. */
  readonly onPlacementError: (error: unknown) => void;
}

/** Who the upgrade admitted, and how (src/app/edge/edge-upgrade.ts). */
export interface Admitted {
  readonly account: AccountIdentity;
  /** Client address for the per-address limits ('' when the edge has none). */
  readonly ip: string;
  /** `?since=`: the last sequence the client holds; null: it holds nothing. */
  readonly since: number | null;
  /** `?v=`: the protocol version the client speaks; null: unstated. */
  readonly version: number | null;
  /**
   * Seconds until the user may place again, for `welcome`; null: not read yet (`EdgeSessions.open` reads it
   * before the session is served).
   */
  readonly cooldownRemaining: number | null;
  /** `?view=`: start in viewport mode (no whole canvas, no catch-up); absent or null: the whole canvas. */
  readonly view?: ViewRect | null;
}

/** A rectangle of the canvas (pixels), as `view` and `?view=` give it. */
export type ViewRect = Omit<ViewMessage, 'type'>;

const utf8 = new TextDecoder();

export class EdgeSession {
  readonly account: AccountIdentity;
  readonly ip: string;
  /** Owns one of its address's connection slots (moved here from the upgrade by `EdgeSessions`, released at close). */
  holdsSlot = false;
  readonly #ctx: EdgeSessionContext;
  readonly #socket: SessionSocket;
  /** Messages and whole-canvas sends this socket has left (the per-address buckets live in `EdgeClientLimits`). */
  readonly #budget: SocketBudget;
  #closed = false;
  #inflight = 0;
  #bad = 0;
  /** Sent a canvas at this seq; waiting for it to drain before the catch-up and the subscription. */
  #waitingFrom: number | null = null;
  /** Already refused and closing: later messages are dropped unanswered. */
  #limited = false;
  /** `open` has run (welcome sent, or the socket refused). */
  #opened = false;
  /** Messages that came before `open` (welcome waits for the user's cooldown): handled right after it. */
  #early: ArrayBuffer[] | null = null;
  /** Viewport mode: the tiles shown (ascending); null: the whole canvas (`pixels` frames, the default). */
  #view: number[] | null = null;
  /** Tile snapshots left (`VIEW_TILE_RATE`); made on the first `view`. */
  #tileBudget: Bucket | null = null;
  readonly #grid: TileGrid;

  constructor(ctx: EdgeSessionContext, socket: SessionSocket, admitted: Admitted) {
    this.#ctx = ctx;
    this.#socket = socket;
    this.account = admitted.account;
    this.ip = admitted.ip;
    this.#budget = ctx.rates.socket();
    this.#grid = tileGrid(ctx.canvas.width, ctx.canvas.height); // a resize closes viewport sockets (edge-server.ts)
  }

  /** The tiles shown (viewport mode), or null for the whole canvas. */
  get view(): readonly number[] | null {
    return this.#view;
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The socket opened: refuse an unsupported protocol version, else `welcome` and bring it to the live topic. */
  open({ version, since, cooldownRemaining, view }: Admitted): void {
    this.#opened = true;
    if (version !== null && version !== PROTOCOL_VERSION) {
      this.#send({
        type: 'error',
        code: ErrorCode.unsupported_version,
        message: `this edge speaks protocol ${PROTOCOL_VERSION}, the client ${version}`,
      });
      this.#socket.end(CloseCode.UnsupportedVersion, 'unsupported protocol version');
      return;
    }
    this.#send({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      userId: this.account.userId,
      isGuest: this.account.isGuest,
      cooldownRemaining: cooldownRemaining ?? 0,
      canvasInfo: {
        ...this.#ctx.info,
        width: this.#ctx.canvas.width,
        height: this.#ctx.canvas.height,
        seq: this.#ctx.canvas.seq,
      },
    });
    if (view) this.#setView({ type: 'view', ...view });
    // A view outside the canvas was answered `bad_request`: serve the whole canvas instead.
    if (this.#view === null && !this.#limited) this.#serveFrom(since);
    const early = this.#early;
    this.#early = null;
    for (const message of early ?? []) if (!this.#limited && !this.#closed) this.#handle(message);
  }

  /**
   * One client frame. Reads `message` synchronously, before anything awaits, so the caller may pass the
   * transport's own buffer (uWS neuters it when its handler returns).
   */
  receive(message: ArrayBuffer, isBinary: boolean): void {
    if (this.#limited) return;
    const ctx = this.#ctx;
    if (!ctx.rates.message(this.#budget, ctx.clock.now())) {
      const rate = ctx.rates.limits.messages;
      this.#refuseAndEnd(
        'ws_messages',
        {
          type: 'error',
          code: ErrorCode.rate_limited,
          message: `more than ${rate.perSecond} messages a second (burst ${rate.burst})`,
        },
        CloseCode.PolicyViolation,
        'message rate limit',
      );
      return;
    }
    if (message.byteLength > MAX_CLIENT_MESSAGE_BYTES) {
      this.#refuseAndEnd(
        'ws_message_size',
        { type: 'error', code: ErrorCode.too_large, message: `messages are at most ${MAX_CLIENT_MESSAGE_BYTES} bytes` },
        CloseCode.MessageTooBig,
        'message too big',
      );
      return;
    }
    if (isBinary) {
      this.#reject(ErrorCode.bad_request, 'client messages are JSON text frames');
      return;
    }
    if (!this.#opened) {
      // `welcome` is waiting for this user's cooldown read: keep a copy (bounded) and answer after it, so welcome
      // still comes first (proto/PROTOCOL.md).
      this.#early ??= [];
      if (this.#early.length >= MAX_EARLY_MESSAGES)
        this.#reject(ErrorCode.rate_limited, 'too many messages before welcome');
      else this.#early.push(message.slice(0));
      return;
    }
    this.#handle(message);
  }

  /** Parses and answers one checked text message. */
  #handle(message: ArrayBuffer): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(utf8.decode(message));
    } catch {
      this.#reject(ErrorCode.bad_request, 'message is not JSON');
      return;
    }
    const result = ClientMessage.safeParse(parsed);
    if (!result.success) {
      const requestId =
        typeof (parsed as { requestId?: unknown })?.requestId === 'string'
          ? (parsed as { requestId: string }).requestId.slice(0, 64)
          : undefined;
      this.#reject(
        ErrorCode.bad_request,
        result.error.issues
          .map((i) => `${i.path.join('.') || 'message'}: ${i.message}`)
          .join('; ')
          .slice(0, 300),
        requestId,
      );
      return;
    }
    const msg = result.data;
    if (msg.type === 'ping') this.#send({ type: 'pong' });
    else if (msg.type === 'resume') {
      if (this.#view !== null) this.#showTiles(this.#view);
      else if (this.#waitingFrom === null) this.#serveFrom(msg.since);
    } else if (msg.type === 'view') this.#setView(msg);
    else this.#place({ requestId: msg.requestId, x: msg.x, y: msg.y, color: msg.color });
  }

  /** The transport's buffer for this socket drained: a whole canvas waiting on it may now be followed by its catch-up. */
  drained(): void {
    if (
      this.#view === null &&
      this.#waitingFrom !== null &&
      this.#socket.bufferedAmount() <= this.#ctx.maxBackpressure / 2
    ) {
      const from = this.#waitingFrom;
      this.#waitingFrom = null;
      this.#serveFrom(from, true);
    }
  }

  /**
   * The socket closed. `reason` is the close reason as text; uWS drops oversized and non-UTF-8 frames itself
   * (1006 with its reason), counted with the other refusals.
   */
  closed(code: number, reason: string): void {
    const metrics = this.#ctx.metrics;
    if (code === 1006) {
      if (reason === 'Received too big message') metrics.refused('ws_message_size');
      else if (reason === 'Received invalid UTF-8') metrics.refused('ws_invalid_utf8');
    }
    this.#closed = true;
  }

  /** Closes the socket from the edge's side (shutdown, logout, ban); a no-op once it closed. */
  end(code: number, reason: string): void {
    if (!this.#closed) this.#socket.end(code, reason);
  }

  #send(message: ServerControlMessage): void {
    this.#socket.sendText(JSON.stringify(message));
  }

  /**
   * Switches to (or moves) the viewport: unsubscribes the tiles that left it, and for each tile that
   * entered it sends the tile's snapshot at the canvas's `seq` and subscribes, in this same call (so the
   * tile's next live frame chains onto the snapshot; see src/domain/edge/view-tiles.ts).
   */
  #setView(msg: ViewMessage): void {
    const tiles = tilesOf(this.#grid, msg.x, msg.y, msg.width, msg.height);
    if (tiles.length === 0 || tiles.length > MAX_VIEW_TILES) {
      this.#reject(
        ErrorCode.bad_request,
        `a view covers 1 to ${MAX_VIEW_TILES} tiles of the canvas, not ${tiles.length}`,
      );
      return;
    }
    const old = this.#view;
    const added = old === null ? tiles : tiles.filter((t) => !old.includes(t));
    if (!this.#chargeTiles(added.length)) return;
    if (old === null) {
      // Leaving whole-canvas mode: a canvas still draining no longer needs its catch-up.
      this.#waitingFrom = null;
      this.#socket.unsubscribe();
    } else for (const t of old) if (!tiles.includes(t)) this.#socket.unsubscribeTile(t);
    this.#view = tiles;
    this.#sendTiles(added);
  }

  /** `resume` in viewport mode: every tile of the view again, at the current `seq`. */
  #showTiles(tiles: readonly number[]): void {
    if (this.#chargeTiles(tiles.length)) this.#sendTiles(tiles);
  }

  #sendTiles(tiles: readonly number[]): void {
    const columns = this.#grid.columns;
    for (const t of tiles) {
      const tx = t % columns;
      this.#sendFrame(this.#ctx.canvas.tileFrame(tx, (t - tx) / columns), 'tile');
      this.#socket.subscribeTile(t);
    }
  }

  #chargeTiles(count: number): boolean {
    const now = this.#ctx.clock.now();
    this.#tileBudget ??= fullBucket(VIEW_TILE_RATE, now);
    if (takeToken(this.#tileBudget, VIEW_TILE_RATE, now, count)) return true;
    const seconds = Math.ceil(msUntil(this.#tileBudget, VIEW_TILE_RATE, now, count) / 1000);
    this.#refuseAndEnd(
      'ws_view_tiles',
      {
        type: 'error',
        code: ErrorCode.rate_limited,
        message: `more than ${VIEW_TILE_RATE.perSecond} new tiles a second (burst ${VIEW_TILE_RATE.burst}); reconnect in ${seconds} s`,
        remainingSeconds: seconds,
      },
      CloseCode.TryAgainLater,
      'too many view tiles',
    );
    return false;
  }

  #sendFrame(frame: Uint8Array, kind: 'pixels' | 'canvas' | 'tile'): void {
    if (this.#socket.sendBinary(frame) === 2) this.#ctx.metrics.frameDropped('backpressure');
    else this.#ctx.metrics.frameSent(kind);
  }

  #refuseAndEnd(limit: string, message: ServerControlMessage, code: number, reason: string): void {
    this.#ctx.metrics.refused(limit);
    this.#limited = true;
    this.#send(message);
    this.#socket.end(code, reason);
  }

  /** An `error` answer; malformed and oversized messages also count toward `MAX_BAD_MESSAGES`. */
  #reject(code: ErrorCode, message: string, requestId?: string): void {
    this.#send({ type: 'error', code, message, ...(requestId ? { requestId } : {}) });
    if (code === ErrorCode.bad_request || code === ErrorCode.too_large) {
      this.#bad += 1;
      if (this.#bad > MAX_BAD_MESSAGES) this.#socket.end(CloseCode.PolicyViolation, 'too many malformed messages');
    }
  }

  #place(request: Omit<PlaceRequest, 'userId'>): void {
    if (this.#inflight >= MAX_INFLIGHT_PLACES) {
      this.#reject(ErrorCode.rate_limited, `at most ${MAX_INFLIGHT_PLACES} placements in flight`, request.requestId);
      return;
    }
    this.#inflight += 1;
    const ctx = this.#ctx;
    ctx.place(this.account, this.ip, request).then(
      (outcome) => {
        this.#inflight -= 1;
        ctx.metrics.placementAnswered(outcome);
        if (this.#closed) return;
        this.#socket.cork(() => {
          if (outcome.ok)
            this.#send({
              type: 'success',
              requestId: request.requestId,
              nextPlacement: outcome.nextPlacement,
              seq: outcome.seq,
            });
          else
            this.#send({
              type: 'error',
              code: outcome.code,
              message: outcome.message,
              requestId: request.requestId,
              ...(outcome.remainingSeconds !== undefined ? { remainingSeconds: outcome.remainingSeconds } : {}),
            });
        });
      },
      (error: unknown) => {
        this.#inflight -= 1;
        ctx.onPlacementError(error);
        if (!this.#closed)
          this.#socket.cork(() =>
            this.#send({
              type: 'error',
              code: ErrorCode.internal,
              message: 'internal error',
              requestId: request.requestId,
            }),
          );
      },
    );
  }

  /**
   * Spends one whole-canvas send from the socket's and the address's buckets; when either is empty, answers
   * `rate_limited` and closes with 1013 (the client reconnects with back-off) and returns false.
   */
  #chargeResync(): boolean {
    const refused = this.#ctx.rates.resync(this.#budget, this.ip, this.#ctx.clock.now());
    if (refused === null) return true;
    const seconds = Math.ceil(refused.retryAfterMs / 1000);
    const to = refused.limit === 'ws_resyncs_per_ip' ? 'to your address' : 'on this socket';
    this.#refuseAndEnd(
      refused.limit,
      {
        type: 'error',
        code: ErrorCode.rate_limited,
        message: `too many whole-canvas sends ${to}; reconnect in ${seconds} s`,
        remainingSeconds: seconds,
      },
      CloseCode.TryAgainLater,
      'too many resyncs',
    );
    return false;
  }

  /**
   * Brings the socket from `since` (null: nothing) to the live topic: a catch-up from the ring, or a whole
   * canvas. `charged`: the catch-up completes a canvas already paid for.
   */
  #serveFrom(since: number | null, charged = false): void {
    const { canvas, compressed } = this.#ctx;
    const socket = this.#socket;
    if (since !== null) {
      const catchUp = canvas.catchUp(since);
      if (catchUp.kind === 'ahead') {
        socket.subscribe();
        return;
      }
      if (catchUp.kind === 'pixels') {
        if (!charged && catchUp.frame.byteLength >= this.#ctx.largeCatchUpBytes && !this.#chargeResync()) return;
        this.#sendFrame(catchUp.frame, 'pixels');
        socket.subscribe();
        return;
      }
      this.#ctx.metrics.resync('client_behind_ring');
    }
    if (!this.#chargeResync()) return;
    let entry = compressed.frame();
    // A cached canvas the ring can no longer bring up to date is no use: compress the current one.
    if (canvas.catchUp(entry.seq).kind !== 'pixels') entry = compressed.frame(true);
    socket.unsubscribe();
    this.#sendFrame(entry.bytes, 'canvas');
    if (socket.bufferedAmount() > this.#ctx.maxBackpressure / 2) {
      this.#waitingFrom = entry.seq;
      return;
    }
    if (canvas.seq > entry.seq) {
      const catchUp = canvas.catchUp(entry.seq);
      if (catchUp.kind === 'pixels') this.#sendFrame(catchUp.frame, 'pixels');
    }
    socket.subscribe();
  }
}
