/**
 * The edge's uWebSockets.js server: `/ws` (the protocol of `proto/PROTOCOL.md`), the canvas endpoints,
 * health, and every extra `HttpRoute` (history, auth) plus static files.
 *
 * Consistency: everything that reads the edge state (open, resume, drain, the canvas routes) runs
 * synchronously on the one thread that also flushes, so a catch-up built from the ring ends exactly where
 * the next published frame starts. A socket is subscribed to the live topic in the same tick as its
 * catch-up is sent, never before.
 *
 * Slow clients: `maxBackpressure` bounds what uWS buffers per socket and `closeOnBackpressureLimit` closes
 * a socket that passes it (it reconnects and resumes), so one slow reader neither stalls the others nor
 * grows memory. A socket that was sent a whole canvas is subscribed only once that canvas has drained.
 *
 * Bounded work per client (docs/SECURITY.md): each socket has a message rate (past it: `rate_limited`, then
 * 1008), and whole-canvas or large catch-up sends are token buckets per socket and per address (past either:
 * `rate_limited`, then 1013; the client reconnects with back-off). The checks are two numbers in the
 * socket's user data: nothing is allocated per message.
 */
import type { TemplatedApp, WebSocket, us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { ClientMessage, MAX_CLIENT_MESSAGE_BYTES, PROTOCOL_VERSION, type CanvasInfo, type ServerControlMessage } from '../../../proto/messages.ts';
import { CloseCode } from '../../../proto/close-codes.ts';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { EdgeCanvas } from '../../app/edge/edge-canvas.ts';
import { json, jsonError, type HttpRoute } from '../../app/http.ts';
import type { PlacePixel } from '../../app/place-pixel.ts';
import type { CooldownStore } from '../../ports/cooldown.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import type { EdgeAccess } from '../../app/auth/edge-access.ts';
import { asAccountIdentity, type AccountIdentity } from '../../app/auth/identity.ts';
import type { Logger } from '../logger.ts';
import { allOf, countPlacement, metrics, metricsRoutes, projectionsHealthy } from '../metrics.ts';
import { DEFAULT_CLIENT_LIMITS, EdgeClientLimits, type ClientLimits, type SocketBudget } from '../../app/edge/client-limits.ts';
import { CanvasCache, pickEncoding } from './canvas-cache.ts';
import { LARGE_BODY_BYTES, mountHttpRoutes } from './http-routes.ts';
import type { UwsModule } from './load.ts';

export const LIVE_TOPIC = 'pixels';
/** `place` messages a socket may have in flight at once. */
const MAX_INFLIGHT_PLACES = 4;
/** Malformed messages tolerated per connection before closing it with 1008. */
const MAX_BAD_MESSAGES = 20;
/**
 * What uWS accepts in one frame. uWS.js 20.30 drops a socket whose frame passes `maxPayloadLength` without a
 * close frame (the client sees 1006), so it is set above the protocol's 512 bytes and the edge itself answers
 * `too_large` and closes with 1009 up to here; beyond 16 KiB uWS still cuts the connection (1006).
 */
export const TRANSPORT_MAX_PAYLOAD = 16 * 1024;
/** A catch-up `pixels` frame at least this large is charged like a whole canvas. */
const LARGE_CATCH_UP_BYTES = LARGE_BODY_BYTES;

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
  readonly cooldowns: Pick<CooldownStore, 'remainingMs'>;
  readonly identity: IdentityProvider;
  readonly limits: WsLimits;
  /** Cached compressed canvases are reused for this long (ms). */
  readonly canvasCacheMs: number;
  readonly staticDir: string;
  readonly routes: readonly HttpRoute[];
  /** Consuming the stream and caught up. */
  isReady(): boolean;
  /** Accounts and abuse resistance (Origin allow-list, per-IP caps, guarded placement); absent: guests place freely. */
  readonly access?: EdgeAccess;
  /** Serve `/metrics` on this (public) port; false when the edge has an internal `METRICS_PORT` listener. */
  readonly publicMetrics?: boolean;
  /** Per-client rates and caps; default `DEFAULT_CLIENT_LIMITS`. */
  readonly clientLimits?: ClientLimits;
}

interface Conn {
  userId: string;
  isGuest: boolean;
  since: number | null;
  version: number | null;
  cooldownRemaining: number;
  closed: boolean;
  inflight: number;
  bad: number;
  /** Sent a canvas at this seq; waiting for it to drain before the catch-up and the subscription. */
  waitingFrom: number | null;
  /** Client address (per-IP limits) and whether it holds a connection slot to release on close. */
  ip: string;
  counted: boolean;
  account: AccountIdentity;
  /** Messages and whole-canvas sends this socket has left (the per-address buckets live in `EdgeClientLimits`). */
  budget: SocketBudget;
  /** Already refused and closing: later messages are dropped unanswered. */
  limited: boolean;
}

export interface EdgeServer {
  readonly port: number;
  readonly connections: number;
  /** Publishes one frame to every subscribed socket (one encoding, uWS fan-out). */
  publish(frame: Uint8Array, events: number): void;
  /** Stops listening and closes every socket with 1001. */
  close(): void;
  /** Closes every socket whose identity matches (logout: by session; ban: by user); returns how many. */
  closeWhere(matches: (identity: AccountIdentity) => boolean, code: number, reason: string): number;
}

export function buildEdgeLimits(maxBackpressure: number, idleTimeout: number): WsLimits {
  return { maxPayloadLength: TRANSPORT_MAX_PAYLOAD, idleTimeout, maxBackpressure, closeOnBackpressureLimit: true };
}

export async function startEdgeServer(deps: EdgeServerDeps, host: string, port: number): Promise<EdgeServer> {
  const { uws, state, logger, limits } = deps;
  const app: TemplatedApp = uws.App();
  const cache = new CanvasCache(state, deps.info.height, deps.canvasCacheMs);
  const sockets = new Set<WebSocket<Conn>>();
  let closing = false;
  const clientLimits = deps.clientLimits ?? DEFAULT_CLIENT_LIMITS;
  const rates = new EdgeClientLimits(clientLimits);
  const refuse = (limit: string) => metrics.limitRefusals.inc({ limit });

  const sendControl = (ws: WebSocket<Conn>, message: ServerControlMessage) => ws.send(JSON.stringify(message), false);
  const sendFrame = (ws: WebSocket<Conn>, frame: Uint8Array, kind: 'pixels' | 'canvas') => {
    if (ws.send(frame, true) === 2) metrics.framesDropped.inc({ reason: 'backpressure' });
    else metrics.framesSent.inc({ kind });
  };
  const reject = (ws: WebSocket<Conn>, code: ErrorCode, message: string, requestId?: string) => {
    const conn = ws.getUserData();
    sendControl(ws, { type: 'error', code, message, ...(requestId ? { requestId } : {}) });
    if (code === ErrorCode.bad_request || code === ErrorCode.too_large) {
      conn.bad += 1;
      if (conn.bad > MAX_BAD_MESSAGES) ws.end(CloseCode.PolicyViolation, 'too many malformed messages');
    }
  };

  /**
   * Spends one whole-canvas send from the socket's and the address's buckets; when either is empty, answers
   * `rate_limited` and closes with 1013 (the client reconnects with back-off) and returns false.
   */
  const chargeResync = (ws: WebSocket<Conn>): boolean => {
    const conn = ws.getUserData();
    const refused = rates.resync(conn.budget, conn.ip, Date.now());
    if (refused === null) return true;
    refuse(refused.limit);
    const seconds = Math.ceil(refused.retryAfterMs / 1000);
    conn.limited = true;
    sendControl(ws, { type: 'error', code: ErrorCode.rate_limited, message: `too many whole-canvas sends ${refused.limit === 'ws_resyncs_per_ip' ? 'to your address' : 'on this socket'}; reconnect in ${seconds} s`, remainingSeconds: seconds });
    ws.end(CloseCode.TryAgainLater, 'too many resyncs');
    return false;
  };

  /**
   * Brings a socket from `since` (null: nothing) to the live topic: catch-up from the ring, or a whole canvas.
   * `charged`: the catch-up completes a canvas already paid for.
   */
  const serveFrom = (ws: WebSocket<Conn>, since: number | null, charged = false) => {
    const conn = ws.getUserData();
    if (since !== null) {
      const catchUp = state.catchUp(since);
      if (catchUp.kind === 'ahead') {
        ws.subscribe(LIVE_TOPIC);
        return;
      }
      if (catchUp.kind === 'pixels') {
        if (!charged && catchUp.frame.byteLength >= LARGE_CATCH_UP_BYTES && !chargeResync(ws)) return;
        sendFrame(ws, catchUp.frame, 'pixels');
        ws.subscribe(LIVE_TOPIC);
        return;
      }
      metrics.resyncs.inc({ reason: 'client_behind_ring' });
    }
    if (!chargeResync(ws)) return;
    let entry = cache.frame();
    if (state.catchUp(entry.seq).kind !== 'pixels') entry = cache.frame(true);
    ws.unsubscribe(LIVE_TOPIC);
    sendFrame(ws, entry.bytes, 'canvas');
    if (ws.getBufferedAmount() > limits.maxBackpressure / 2) {
      conn.waitingFrom = entry.seq;
      return;
    }
    if (state.seq > entry.seq) {
      const catchUp = state.catchUp(entry.seq);
      if (catchUp.kind === 'pixels') sendFrame(ws, catchUp.frame, 'pixels');
    }
    ws.subscribe(LIVE_TOPIC);
  };

  app.ws<Conn>('/ws', {
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
      const headers = { cookie: req.getHeader('cookie'), origin: req.getHeader('origin'), host: req.getHeader('host') };
      const ip = deps.access?.clientIp(Buffer.from(res.getRemoteAddressAsText()).toString(), (name) => req.getHeader(name)) ?? '';
      const versionText = req.getQuery('v') ?? '';
      const sinceText = req.getQuery('since') ?? '';
      const aborted = { value: false };
      let counted = false;
      res.onAborted(() => {
        aborted.value = true;
        if (counted) deps.access?.connections.release(ip);
        counted = false;
      });
      if (closing) {
        res.cork(() => res.writeStatus('503 Service Unavailable').end('edge shutting down'));
        return;
      }
      if (deps.access) {
        const badOrigin = deps.access.checkOrigin(headers);
        if (badOrigin !== null) {
          res.cork(() => res.writeStatus('403 Forbidden').end(JSON.stringify({ code: ErrorCode.forbidden, message: badOrigin })));
          return;
        }
        if (!deps.access.connections.acquire(ip)) {
          res.cork(() => res.writeStatus('429 Too Many Requests').end(JSON.stringify({ code: ErrorCode.rate_limited, message: 'too many connections from your address' })));
          return;
        }
        counted = true;
      }
      const since = /^\d{1,16}$/.test(sinceText) && Number.isSafeInteger(Number(sinceText)) ? Number(sinceText) : null;
      const version = /^\d{1,4}$/.test(versionText) ? Number(versionText) : null;
      void (async () => {
        const who = await deps.identity.identify(headers).catch(() => null);
        const remainingMs = who ? await deps.cooldowns.remainingMs(who.identity.userId).catch(() => 0) : 0;
        if (aborted.value) return;
        res.cork(() => {
          if (!who) {
            if (counted) deps.access?.connections.release(ip);
            res.writeStatus('401 Unauthorized').end(JSON.stringify({ code: ErrorCode.unauthorized, message: 'no identity' }));
            return;
          }
          if (who.setCookie) res.writeStatus('101 Switching Protocols').writeHeader('set-cookie', who.setCookie);
          const conn: Conn = {
            userId: who.identity.userId, isGuest: who.identity.isGuest, since, version, cooldownRemaining: Math.ceil(remainingMs / 1000),
            closed: false, inflight: 0, bad: 0, waitingFrom: null, ip, counted, account: asAccountIdentity(who.identity),
            budget: rates.socket(Date.now()), limited: false,
          };
          res.upgrade(conn, key, protocol, extensions, context);
          counted = false; // the slot now belongs to the socket, released in `close`
        });
      })();
    },
    open: (ws) => {
      const conn = ws.getUserData();
      sockets.add(ws);
      metrics.wsConnections.set(sockets.size);
      if (conn.version !== null && conn.version !== PROTOCOL_VERSION) {
        sendControl(ws, { type: 'error', code: ErrorCode.unsupported_version, message: `this edge speaks protocol ${PROTOCOL_VERSION}, the client ${conn.version}` });
        ws.end(CloseCode.UnsupportedVersion, 'unsupported protocol version');
        return;
      }
      sendControl(ws, {
        type: 'welcome', protocol: PROTOCOL_VERSION, userId: conn.userId, isGuest: conn.isGuest, cooldownRemaining: conn.cooldownRemaining,
        canvasInfo: { ...deps.info, seq: state.seq },
      });
      serveFrom(ws, conn.since);
    },
    message: (ws, message, isBinary) => {
      const conn = ws.getUserData();
      if (conn.limited) return;
      if (!rates.message(conn.budget, Date.now())) {
        refuse('ws_messages');
        conn.limited = true;
        sendControl(ws, { type: 'error', code: ErrorCode.rate_limited, message: `more than ${clientLimits.messages.perSecond} messages a second (burst ${clientLimits.messages.burst})` });
        ws.end(CloseCode.PolicyViolation, 'message rate limit');
        return;
      }
      if (message.byteLength > MAX_CLIENT_MESSAGE_BYTES) {
        refuse('ws_message_size');
        conn.limited = true;
        sendControl(ws, { type: 'error', code: ErrorCode.too_large, message: `messages are at most ${MAX_CLIENT_MESSAGE_BYTES} bytes` });
        ws.end(CloseCode.MessageTooBig, 'message too big');
        return;
      }
      // Decode now: `message` is only valid until this handler returns or awaits.
      if (isBinary) {
        reject(ws, ErrorCode.bad_request, 'client messages are JSON text frames');
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.from(message).toString('utf8'));
      } catch {
        reject(ws, ErrorCode.bad_request, 'message is not JSON');
        return;
      }
      const result = ClientMessage.safeParse(parsed);
      if (!result.success) {
        const requestId = typeof (parsed as { requestId?: unknown })?.requestId === 'string' ? (parsed as { requestId: string }).requestId.slice(0, 64) : undefined;
        reject(ws, ErrorCode.bad_request, result.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ').slice(0, 300), requestId);
        return;
      }
      const msg = result.data;
      if (msg.type === 'ping') {
        sendControl(ws, { type: 'pong' });
      } else if (msg.type === 'resume') {
        if (conn.waitingFrom === null) serveFrom(ws, msg.since);
      } else {
        if (conn.inflight >= MAX_INFLIGHT_PLACES) {
          reject(ws, ErrorCode.rate_limited, `at most ${MAX_INFLIGHT_PLACES} placements in flight`, msg.requestId);
          return;
        }
        conn.inflight += 1;
        const request = { requestId: msg.requestId, x: msg.x, y: msg.y, color: msg.color };
        (deps.access ? deps.access.place(conn.account, conn.ip, request) : deps.placePixel({ ...request, userId: conn.userId })).then(
          (outcome) => {
            conn.inflight -= 1;
            countPlacement(outcome);
            if (conn.closed) return;
            ws.cork(() => {
              if (outcome.ok) sendControl(ws, { type: 'success', requestId: msg.requestId, nextPlacement: outcome.nextPlacement, seq: outcome.seq });
              else sendControl(ws, { type: 'error', code: outcome.code, message: outcome.message, requestId: msg.requestId, ...(outcome.remainingSeconds !== undefined ? { remainingSeconds: outcome.remainingSeconds } : {}) });
            });
          },
          (error: unknown) => {
            conn.inflight -= 1;
            logger.error({ err: error }, 'placement failed');
            if (!conn.closed) ws.cork(() => sendControl(ws, { type: 'error', code: ErrorCode.internal, message: 'internal error', requestId: msg.requestId }));
          },
        );
      }
    },
    drain: (ws) => {
      const conn = ws.getUserData();
      if (conn.waitingFrom !== null && ws.getBufferedAmount() <= limits.maxBackpressure / 2) {
        const from = conn.waitingFrom;
        conn.waitingFrom = null;
        serveFrom(ws, from, true);
      }
    },
    close: (ws, code, reason) => {
      const conn = ws.getUserData();
      // uWS drops oversized and non-UTF-8 frames itself (1006, its reason in `reason`): count them with the other refusals.
      if (code === 1006 && reason.byteLength > 0) {
        const why = Buffer.from(reason).toString();
        if (why === 'Received too big message') refuse('ws_message_size');
        else if (why === 'Received invalid UTF-8') refuse('ws_invalid_utf8');
      }
      conn.closed = true;
      if (conn.counted) deps.access?.connections.release(conn.ip);
      conn.counted = false;
      sockets.delete(ws);
      metrics.wsConnections.set(sockets.size);
      if (code === 1006) metrics.framesDropped.inc({ reason: 'closed' });
    },
  });

  const canvasRoutes: HttpRoute[] = [
    {
      method: 'GET',
      path: '/api/v1/canvas',
      maxBodyBytes: 0,
      handle: async (request) => {
        const encoding = pickEncoding(request.headers['accept-encoding']);
        const entry = cache.http(encoding);
        const etag = `W/"${deps.canvasId}-${entry.seq}"`;
        const headers: Record<string, string> = {
          etag,
          'cache-control': 'public, max-age=1, s-maxage=1, stale-while-revalidate=5',
          vary: 'Accept-Encoding',
          'x-rplace-seq': String(entry.seq),
          'x-canvas-width': String(deps.info.width),
          'x-canvas-height': String(deps.info.height),
          'access-control-expose-headers': 'etag, x-rplace-seq, x-canvas-width, x-canvas-height',
        };
        if ((request.headers['if-none-match'] ?? '').split(',').some((tag) => tag.trim() === etag)) return { status: 304, headers };
        return {
          status: 200,
          headers: { ...headers, 'content-type': 'application/octet-stream', ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }) },
          body: entry.bytes,
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/canvas/info',
      maxBodyBytes: 0,
      handle: async () => json(200, { ...deps.info, seq: state.seq }, { 'cache-control': 'no-cache' }),
    },
    {
      method: 'GET',
      path: '/readyz',
      maxBodyBytes: 0,
      // A projection halted in this process (`npm start` runs them all here) also makes the edge not ready.
      handle: async () =>
        deps.isReady() && !closing && (await projectionsHealthy()).ok
          ? json(200, { status: 'ready', seq: state.seq }, { 'cache-control': 'no-store' })
          : json(503, { status: 'not ready', seq: state.seq }, { 'cache-control': 'no-store' }),
    },
    ...metricsRoutes(allOf(async () => ({ ok: !closing, checks: closing ? { edge: 'shutting down' } : ({} as Record<string, string>) }), projectionsHealthy))
      .filter((route) => deps.publicMetrics !== false || route.path !== '/metrics'),
  ];
  if (!deps.routes.some((r) => r.path === '/api/v1/auth/me')) canvasRoutes.push(guestMeRoute(deps.identity));
  mountHttpRoutes(app, [...canvasRoutes, ...deps.routes], deps.staticDir, logger, {
    maxPendingPerIp: clientLimits.maxUnreadResponsesPerIp,
    ...(deps.access ? { clientIp: deps.access.clientIp } : {}),
    onRefused: refuse,
    onPending: (pending) => metrics.httpPendingResponses.set(pending),
  });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(host, port, (socket) => (socket ? resolve(socket) : reject(new Error(`cannot listen on ${host}:${port}`))));
  });
  const boundPort = uws.us_socket_local_port(listenSocket as never);

  return {
    port: boundPort,
    get connections() {
      return sockets.size;
    },
    publish(frame, events) {
      app.publish(LIVE_TOPIC, frame, true, false);
      metrics.framesSent.inc({ kind: 'pixels_topic' });
      metrics.batchSize.observe({ stage: 'edge' }, events);
    },
    closeWhere(matches, code, reason) {
      let closed = 0;
      for (const ws of [...sockets]) {
        if (matches(ws.getUserData().account)) {
          ws.end(code, reason);
          closed++;
        }
      }
      return closed;
    },
    close() {
      if (closing) return;
      closing = true;
      uws.us_listen_socket_close(listenSocket);
      for (const ws of [...sockets]) ws.end(CloseCode.GoingAway, 'edge shutting down');
    },
  };
}

/** Guest-only `/api/v1/auth/me`: mints the signed guest cookie when missing (the accounts routes replace it). */
function guestMeRoute(identity: IdentityProvider): HttpRoute {
  return {
    method: 'GET',
    path: '/api/v1/auth/me',
    maxBodyBytes: 0,
    handle: async (request) => {
      const who = await identity.identify(request.headers);
      if (!who) return jsonError(ErrorCode.unauthorized, 'not signed in');
      return json(200, { userId: who.identity.userId, username: null, isGuest: who.identity.isGuest }, {
        'cache-control': 'no-store',
        ...(who.setCookie ? { 'set-cookie': who.setCookie } : {}),
      });
    },
  };
}
