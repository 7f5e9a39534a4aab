/**
 * The edge's uWebSockets.js server: `/ws` (the protocol of `proto/PROTOCOL.md`), the canvas endpoints,
 * health, and every extra `HttpRoute` (history, auth) plus static files.
 *
 * Thin glue: the sessions and their bounds are plain code in src/app/edge/edge-sessions.ts and
 * edge-session.ts, the routes in src/app/edge/edge-routes.ts; this file only translates uWS calls. The uWS
 * rules it keeps: everything is copied out of an upgrade request before the first await, and a message's
 * `ArrayBuffer` is handed to the session synchronously (it decodes it before anything awaits).
 *
 * Slow clients: `maxBackpressure` bounds what uWS buffers per socket and `closeOnBackpressureLimit` closes
 * a socket that passes it (it reconnects and resumes), so one slow reader neither stalls the others nor
 * grows memory. Live frames go out with `app.publish`: one encoding per batch, never one per client.
 */
import type {
  HttpResponse as UwsResponse,
  TemplatedApp,
  WebSocket,
  us_listen_socket,
} from '@trufflesuite/uws-js-unofficial';
import type { CanvasInfo, ResizedMessage } from '../../../proto/messages.ts';
import { CloseCode } from '../../../proto/close-codes.ts';
import type { Resize } from '../../domain/resize.ts';
import type { EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import { TileFramer } from '../../domain/edge/view-tiles.ts';
import type { HttpResponse, HttpRoute } from '../../app/http.ts';
import type { PlacePixel } from '../../app/place-pixel.ts';
import type { CooldownStore } from '../../ports/cooldown.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import { systemClock } from '../system-clock.ts';
import type { EdgeAccess } from '../../app/auth/edge-access.ts';
import type { AccountIdentity } from '../../app/auth/identity.ts';
import { DEFAULT_CLIENT_LIMITS, type ClientLimits } from '../../domain/edge/client-limits.ts';
import { canvasRoutes, edgeReadyRoute } from '../../app/edge/edge-routes.ts';
import type { Admitted, EdgeSession } from '../../app/edge/edge-session.ts';
import { EdgeSessions, type UpgradeTicket } from '../../app/edge/edge-sessions.ts';
import type { EdgeMetrics } from '../../ports/edge-metrics.ts';
import type { SessionSocket } from '../../ports/session-socket.ts';
import type { Logger } from '../logger.ts';
import { allOf, metricsRoutes, projectionsHealthy } from '../metrics.ts';
import { CanvasCache } from './canvas-cache.ts';
import { LARGE_BODY_BYTES, mountHttpRoutes, statusLine } from './http-routes.ts';
import type { UwsModule } from './load.ts';

/** The uWS topic of one live send group (src/domain/edge/send-groups.ts); group 0 alone with one group. */
export const liveTopic = (group: number): string => `pixels${group}`;
/** The uWS topic of one viewport tile's `tilePixels` frames. */
export const tileTopic = (tile: number): string => `t${tile}`;
/**
 * What uWS accepts in one frame. uWS.js 20.30 drops a socket whose frame passes `maxPayloadLength` without a
 * close frame (the client sees 1006), so it is set above the protocol's 512 bytes and the edge itself answers
 * `too_large` and closes with 1009 up to here; beyond 16 KiB uWS still cuts the connection (1006).
 */
export const TRANSPORT_MAX_PAYLOAD = 16 * 1024;

export interface WsLimits {
  /** Largest frame uWS takes (bytes); the edge closes with 1009 past `MAX_CLIENT_MESSAGE_BYTES`, uWS drops the socket past this. */
  readonly maxPayloadLength: number;
  /** Seconds without traffic before uWS closes a socket; it pings automatically before that. */
  readonly idleTimeout: number;
  /** Bytes uWS may buffer per socket before the socket counts as too slow. */
  readonly maxBackpressure: number;
  /** Close (rather than silently skip) a socket that passes `maxBackpressure`. */
  readonly closeOnBackpressureLimit: true;
}

export interface EdgeServerDeps {
  readonly uws: UwsModule;
  readonly logger: Logger;
  readonly canvasId: string;
  readonly state: EdgeCanvas;
  readonly info: Omit<CanvasInfo, 'seq'>;
  readonly placePixel: PlacePixel;
  readonly cooldowns: Pick<CooldownStore, 'remainingMsMany'>;
  readonly identity: IdentityProvider;
  readonly limits: WsLimits;
  /** Cached compressed canvases are reused for this long (ms). */
  readonly canvasCacheMs: number;
  readonly staticDir: string;
  /**
   * Every other route (history, accounts). `/api/v1/auth/me` comes from here: the accounts routes, or
   * `guestMeRoute` (src/app/edge/edge-routes.ts) for an edge composed without accounts.
   */
  readonly routes: readonly HttpRoute[];
  /** Consuming the stream and caught up. */
  isReady(): boolean;
  /** Accounts and abuse resistance (Origin allow-list, per-IP caps, guarded placement); absent: guests place freely. */
  readonly access?: EdgeAccess;
  /** Serve `/metrics` on this (public) port; false when the edge has an internal `METRICS_PORT` listener. */
  readonly publicMetrics?: boolean;
  /** Per-client rates and caps; default `DEFAULT_CLIENT_LIMITS`. */
  readonly clientLimits?: ClientLimits;
  /** Where the edge counts (src/adapters/uws/edge-metrics.ts for Prometheus). */
  readonly metrics: EdgeMetrics;
  /**
   * The tile window (ms): zoomed-in sockets get their `tilePixels` frames at most this often, each covering
   * every frame published since (0: one per published frame). See `TileFramer`.
   */
  readonly tileWindowMs?: number;
  /** Live send groups (default 1); a subscribing socket joins the one with the fewest sockets. See `SendGroups`. */
  readonly sendGroups?: number;
}

/** How long past its window a tile flush waits for the next publish before a timer does it (ms). */
const TILE_WINDOW_GRACE_MS = 60;
/** A tile window flushes early past this many records held (a bound on what it buffers). */
export const TILE_WINDOW_MAX_RECORDS = 16_384;

/** A socket's user data: what its upgrade admitted until it opens, then its session. */
interface SocketData {
  opening: { readonly admitted: Admitted; readonly ticket: UpgradeTicket } | null;
  session: EdgeSession | null;
  /** Closed before its deferred open ran (see `open`). */
  closed: boolean;
}

export interface EdgeServer {
  readonly port: number;
  readonly connections: number;
  /** Follows one applied batch of `events` events (the frame of exactly them): viewport tiles, metrics. */
  publish(frame: Uint8Array, events: number): void;
  /** Publishes one frame to every socket of a live send group (one encoding, uWS fan-out). */
  send(group: number, frame: Uint8Array): void;
  /** Tells every socket the canvas grew at `seq` (after the state reflects it; proto/messages.ts `ResizedMessage`). */
  resized(seq: number, resize: Resize): void;
  /** Stops listening and closes every socket with 1001. */
  close(): void;
  /** Closes every socket whose identity matches (logout: by session; ban: by user); returns how many. */
  closeWhere(matches: (identity: AccountIdentity) => boolean, code: number, reason: string): number;
}

export function buildEdgeLimits(maxBackpressure: number, idleTimeout: number): WsLimits {
  return { maxPayloadLength: TRANSPORT_MAX_PAYLOAD, idleTimeout, maxBackpressure, closeOnBackpressureLimit: true };
}

/** A uWS WebSocket behind the session's port; one per connection, allocated at `open`. */
class UwsSessionSocket implements SessionSocket {
  readonly #ws: WebSocket<SocketData>;
  readonly #chooseGroup: () => number;
  /** The live send group subscribed to; -1: none. */
  #group = -1;

  constructor(ws: WebSocket<SocketData>, chooseGroup: () => number) {
    this.#ws = ws;
    this.#chooseGroup = chooseGroup;
  }

  sendText(text: string): void {
    this.#ws.send(text, false);
  }

  sendBinary(frame: Uint8Array): number {
    return this.#ws.send(frame, true);
  }

  end(code: number, reason: string): void {
    this.#ws.end(code, reason);
  }

  subscribe(): void {
    if (this.#group !== -1) return;
    this.#group = this.#chooseGroup();
    this.#ws.subscribe(liveTopic(this.#group));
  }

  unsubscribe(): void {
    if (this.#group === -1) return;
    this.#ws.unsubscribe(liveTopic(this.#group));
    this.#group = -1;
  }

  subscribeTile(tile: number): void {
    this.#ws.subscribe(tileTopic(tile));
  }

  unsubscribeTile(tile: number): void {
    this.#ws.unsubscribe(tileTopic(tile));
  }

  bufferedAmount(): number {
    return this.#ws.getBufferedAmount();
  }

  cork(write: () => void): void {
    this.#ws.cork(write);
  }
}

/** Answers a refused upgrade (corked: it may run after an await). */
function writeRefusal(res: UwsResponse, refusal: HttpResponse): void {
  res.cork(() => {
    res.writeStatus(statusLine(refusal.status));
    for (const [key, value] of Object.entries(refusal.headers ?? {})) res.writeHeader(key, value);
    res.end(refusal.body as string);
  });
}

export async function startEdgeServer(deps: EdgeServerDeps, host: string, port: number): Promise<EdgeServer> {
  const { uws, state, logger, limits, metrics } = deps;
  const app: TemplatedApp = uws.App();
  const cache = new CanvasCache(state, deps.canvasCacheMs);
  // Built before any socket can subscribe, at the canvas's sequence (the chain's start for every tile).
  let tiles = new TileFramer(state.width, state.height, state.seq);
  const watched = (tile: number) => app.numSubscribers(tileTopic(tile)) > 0;
  const tileWindowMs = deps.tileWindowMs ?? 0;
  let tilesFlushedAt = 0;
  let tileTimer: ReturnType<typeof setTimeout> | undefined;
  // One encoding per touched, watched tile, shared by its subscribers (as the live topic's frame is). Every
  // record held is at or below `state.seq`, which is what the frames end at.
  const flushTiles = () => {
    if (tileTimer) clearTimeout(tileTimer);
    tileTimer = undefined;
    tilesFlushedAt = Date.now();
    for (const { tile, frame } of tiles.flush(state.seq, watched)) app.publish(tileTopic(tile), frame, true, false);
  };
  const groupCount = Math.max(1, Math.floor(deps.sendGroups ?? 1));
  /** The live send group with the fewest sockets (they join as they open: the groups stay about even). */
  const chooseGroup = () => {
    let best = 0;
    let fewest = Number.POSITIVE_INFINITY;
    for (let g = 0; g < groupCount; g++) {
      const n = app.numSubscribers(liveTopic(g));
      if (n < fewest) [best, fewest] = [g, n];
    }
    return best;
  };
  const clientLimits = deps.clientLimits ?? DEFAULT_CLIENT_LIMITS;
  const sessions = new EdgeSessions({
    canvas: state,
    compressed: cache,
    info: deps.info,
    maxBackpressure: limits.maxBackpressure,
    largeCatchUpBytes: LARGE_BODY_BYTES,
    metrics,
    clock: systemClock,
    clientLimits,
    identity: deps.identity,
    cooldowns: deps.cooldowns,
    placePixel: deps.placePixel,
    ...(deps.access ? { access: deps.access } : {}),
    onPlacementError: (error) => logger.error({ err: error }, 'placement failed'),
  });

  app.ws<SocketData>('/ws', {
    maxPayloadLength: limits.maxPayloadLength,
    idleTimeout: limits.idleTimeout,
    maxBackpressure: limits.maxBackpressure,
    closeOnBackpressureLimit: limits.closeOnBackpressureLimit as unknown as number,
    sendPingsAutomatically: true,
    compression: uws.DISABLED,
    upgrade: (res, req, context) => {
      // Copy everything out of the request now: it is gone after the first await.
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const request = {
        headers: { cookie: req.getHeader('cookie'), origin: req.getHeader('origin'), host: req.getHeader('host') },
        ip: sessions.clientIp(Buffer.from(res.getRemoteAddressAsText()).toString(), (name) => req.getHeader(name)),
        version: req.getQuery('v') ?? '',
        since: req.getQuery('since') ?? '',
        view: req.getQuery('view') ?? '',
      };
      let aborted = false;
      let ticket: UpgradeTicket | null = null;
      res.onAborted(() => {
        aborted = true;
        if (ticket) sessions.release(ticket);
      });
      const admission = sessions.admit(request);
      if (!admission.ok) {
        writeRefusal(res, admission.refusal);
        return;
      }
      const pass = admission.ticket;
      ticket = pass;
      void sessions.identify(pass, request.headers).then((identified) => {
        if (aborted) return;
        if (!identified.ok) {
          sessions.release(pass);
          writeRefusal(res, identified.refusal);
          return;
        }
        res.cork(() => {
          if (identified.setCookie)
            res.writeStatus('101 Switching Protocols').writeHeader('set-cookie', identified.setCookie);
          // From here the slot belongs to the socket: released when it closes.
          res.upgrade<SocketData>(
            { opening: { admitted: identified.admitted, ticket: pass }, session: null, closed: false },
            key,
            protocol,
            extensions,
            context,
          );
        });
      });
    },
    open: (ws) => {
      const data = ws.getUserData();
      if (!data.opening) return;
      const { admitted, ticket } = data.opening;
      data.opening = null;
      // The session's first writes (welcome, catch-up, the live subscription) wait until the upgrade's
      // `res.cork` has returned, then run in the WebSocket's own cork. Written inside `open`, they went into
      // the cork of the HTTP response the upgrade just replaced, and under load uWS.js 20.30 (the build for
      // glibc < 2.38) then shut such fresh sockets down 3–60 ms after `welcome` with no close frame (issue 13,
      // defect b; test/integration/edge-fresh-sockets.test.ts, edge-accounts "demo mode").
      queueMicrotask(() => {
        if (data.closed) {
          sessions.release(ticket);
          return;
        }
        ws.cork(() =>
          sessions.open(new UwsSessionSocket(ws, chooseGroup), admitted, ticket, (session) => (data.session = session)),
        );
      });
    },
    // The session decodes `message` before it returns: the buffer is only valid until then.
    message: (ws, message, isBinary) => ws.getUserData().session?.receive(message, isBinary),
    drain: (ws) => ws.getUserData().session?.drained(),
    close: (ws, code, reason) => {
      const data = ws.getUserData();
      const why = code === 1006 && reason.byteLength > 0 ? Buffer.from(reason).toString() : '';
      data.closed = true;
      if (data.session) sessions.closed(data.session, code, why);
    },
  });

  const health = allOf(
    async () => ({
      ok: !sessions.closing,
      checks: sessions.closing ? { edge: 'shutting down' } : ({} as Record<string, string>),
    }),
    projectionsHealthy,
  );
  const ownRoutes: HttpRoute[] = [
    ...canvasRoutes({ canvasId: deps.canvasId, info: deps.info, canvas: state, compressed: cache }),
    // A projection halted in this process (`npm start` runs them all here) also makes the edge not ready.
    edgeReadyRoute(state, async () => deps.isReady() && !sessions.closing && (await projectionsHealthy()).ok),
    ...metricsRoutes(health).filter((route) => deps.publicMetrics !== false || route.path !== '/metrics'),
  ];
  mountHttpRoutes(app, [...ownRoutes, ...deps.routes], deps.staticDir, logger, {
    maxPendingPerIp: clientLimits.maxUnreadResponsesPerIp,
    ...(deps.access ? { clientIp: deps.access.clientIp } : {}),
    onRefused: (limit) => metrics.refused(limit),
    onPending: (pending) => metrics.pendingResponses(pending),
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) =>
      socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}`)),
    );
  });
  const boundPort = uws.us_socket_local_port(listenSocket as never);

  return {
    port: boundPort,
    get connections() {
      return sessions.size;
    },
    send(group, frame) {
      app.publish(liveTopic(group), frame, true, false);
    },
    publish(frame, events) {
      tiles.add(frame);
      const wait = tilesFlushedAt + tileWindowMs - Date.now();
      if (wait <= 0 || tiles.pending >= TILE_WINDOW_MAX_RECORDS) flushTiles();
      // Normally the publish that finds the window over flushes the tiles, so their frames leave in the same
      // loop turn as the live frame; the timer only covers a feed that went quiet in between.
      else tileTimer ??= setTimeout(flushTiles, wait + TILE_WINDOW_GRACE_MS);
      sessions.published(events);
    },
    resized(seq, resize) {
      const message: ResizedMessage = { type: 'resized', seq, ...resize };
      const text = JSON.stringify(message);
      for (let g = 0; g < groupCount; g++) app.publish(liveTopic(g), text, false, false);
      // Tile indices depend on the grid: viewport sockets reconnect to a new one (CloseCode.CanvasResized).
      tiles = new TileFramer(state.width, state.height, state.seq);
      sessions.closeViewers(CloseCode.CanvasResized, 'canvas resized: reconnect and send view again');
    },
    closeWhere: (matches, code, reason) => sessions.closeWhere(matches, code, reason),
    close() {
      // Stop accepting first, then close every socket with 1001.
      if (!sessions.closing) uws.us_listen_socket_close(listenSocket);
      if (tileTimer) clearTimeout(tileTimer);
      sessions.shutdown();
    },
  };
}
