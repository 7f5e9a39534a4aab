/**
 * The edge role: loads its canvas copy (Redis bitmap + its sequence, or a replay), tails the stream and
 * fans out one `pixels` frame per window to every WebSocket client, takes placements through the
 * placement command, and serves the canvas over HTTP. Composable: no process-wide state; everything it
 * opens is closed by the returned shutdown.
 */
import type { Logger } from 'pino';
import { createGuestIdentity } from '../../adapters/identity/guest-cookie.ts';
import { metrics, timeAppends } from '../../adapters/metrics.ts';
import { startRoleMetrics } from '../../adapters/metrics-server.ts';
import { connectNats } from '../../adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { answerStatusRequests } from '../../adapters/nats/status-responder.ts';
import { createRedisBitmapStore } from '../../adapters/redis/bitmap-store.ts';
import { connectRedis } from '../../adapters/redis/connect.ts';
import { createRedisCooldownStore } from '../../adapters/redis/cooldown-store.ts';
import { buildEdgeLimits, startEdgeServer } from '../../adapters/uws/edge-server.ts';
import { loadUwsBuild } from '../../adapters/uws/load.ts';
import { EdgeCanvas } from '../../app/edge/edge-canvas.ts';
import { startEdgeFeed } from '../../app/edge/edge-feed.ts';
import { loadEdgeCanvas } from '../../app/edge/load-edge-canvas.ts';
import type { HttpRoute } from '../../app/http.ts';
import { createPlacePixel } from '../../app/place-pixel.ts';
import { perMinute } from '../../domain/limits.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import type { EdgeConfig } from '../../config/edge.ts';
import { namesFor } from '../../config/names.ts';
import { ensureStream } from '../../../streams/apply.ts';
import { resolve } from 'node:path';
import { startEdgeAccounts } from './accounts.ts';
import type { ChallengeGate, RiskRule } from '../../app/auth/risk.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';

export interface EdgeOptions {
  /** Extra HTTP routes (history, auth) mounted next to the edge's own. */
  readonly routes?: readonly HttpRoute[];
  /** Called once listening, with the bound port (useful with PORT=0). */
  readonly onListening?: (port: number) => void;
  /** Plug in a risk rule and a challenge (captcha / proof-of-work) gate; defaults in src/app/auth/risk.ts. */
  readonly risk?: RiskRule;
  readonly challenge?: ChallengeGate;
}

export async function startEdge(config: EdgeConfig, logger: Logger, options: EdgeOptions = {}): Promise<() => Promise<void>> {
  const native = loadUwsBuild(); // before connecting anything: refuse to start without the native binary
  const uws = native.uws;
  const log = logger.child({ component: 'edge' });
  log.info({ uws: native.packageName, abi: process.versions.modules }, 'uWebSockets.js native build loaded');
  const names = namesFor(config.CANVAS_ID);
  const spec = canvasSpecOf(config);
  const nc = await connectNats(config.NATS_URL, `rplace-edge-${names.canvasId}`, natsAuthOf(config, natsInboxPrefix('edge', names)), log);
  let redis;
  try {
    redis = await connectRedis(config.REDIS_URL, `rplace-edge-${names.canvasId}`);
  } catch (error) {
    await nc.close();
    throw error;
  }
  const eventLog = createJetStreamEventLog(nc, names, { timeoutMs: config.APPEND_TIMEOUT_MS });
  const closeAll = async () => {
    await eventLog.close().catch(() => undefined);
    await nc.drain().catch(() => nc.close());
    await redis.quit().catch(() => redis.disconnect());
  };
  let stopFeed: (() => Promise<void>) | undefined;
  let closeServer: (() => void) | undefined;
  let feedRef: { readonly caughtUp: boolean } | undefined;
  let closeAccounts: (() => Promise<void>) | undefined;
  let stopMetrics: (() => Promise<void>) | undefined;
  try {
    await ensureStream(nc, names, { replicas: config.STREAM_REPLICAS });
    answerStatusRequests(nc, names.canvasId, 'edge', log); // `rplace status`; ends with the connection's drain
    const stream = createNatsEventStream(nc, names, { canvas: eventBoundsOf(spec), reader: 'edge', logger: log });
    const started = Date.now();
    const initial = await loadEdgeCanvas({ bitmap: createRedisBitmapStore(redis, names, spec), stream, spec });
    log.info({ seq: initial.seq, source: initial.source, ms: Date.now() - started }, 'edge canvas loaded');
    const state = new EdgeCanvas(spec.width, initial.canvas, initial.seq, { ringEvents: config.RING_EVENTS });
    metrics.projectionSeq.set({ projection: 'edge' }, initial.seq);
    const cooldowns = createRedisCooldownStore(redis, names, (error) => log.warn({ err: error.message }, 'placement outcomes not recorded; their retries fall back to the retry window'));
    const placeDeps = { spec, cooldownSeconds: config.COOLDOWN_SECONDS, cooldowns, log: timeAppends(eventLog), clock: systemClock };
    const guest = createGuestIdentity({ secret: config.SESSION_SECRET, secure: config.COOKIE_SECURE === '1' });
    const accounts = await startEdgeAccounts(config, { logger: log, nc, redis, names, guest, place: placeDeps, currentSeq: () => state.seq, cookieSecure: config.COOKIE_SECURE === '1',
      ...(options.risk ? { risk: options.risk } : {}), ...(options.challenge ? { challenge: options.challenge } : {}),
    });
    closeAccounts = () => accounts.close();
    const server = await startEdgeServer(
      {
        uws,
        logger: log,
        canvasId: names.canvasId,
        state,
        info: {
          width: spec.width,
          height: spec.height,
          colorCount: spec.palette.length,
          cooldownSeconds: config.COOLDOWN_SECONDS,
          palette: spec.palette.map((c) => c.hex),
          paletteNames: spec.palette.map((c) => c.name),
        },
        placePixel: createPlacePixel(placeDeps),
        cooldowns,
        identity: accounts.identity,
        access: accounts.access,
        limits: buildEdgeLimits(config.WS_MAX_BACKPRESSURE, config.WS_IDLE_TIMEOUT_S),
        clientLimits: {
          messages: { perSecond: config.WS_MESSAGES_PER_SECOND, burst: config.WS_MESSAGE_BURST },
          resyncsPerSocket: perMinute(config.WS_RESYNCS_PER_SOCKET_PER_MINUTE),
          resyncsPerIp: perMinute(config.WS_RESYNCS_PER_IP_PER_MINUTE),
          maxUnreadResponsesPerIp: config.HTTP_MAX_UNREAD_RESPONSES_PER_IP,
        },
        canvasCacheMs: config.CANVAS_CACHE_MS,
        staticDir: resolve(config.STATIC_DIR),
        routes: [...accounts.routes, ...(options.routes ?? [])],
        isReady: () => feedRef?.caughtUp ?? false,
        // With METRICS_PORT the metrics live on that internal listener only, never on the public port.
        publicMetrics: config.METRICS_PORT === undefined,
      },
      config.HOST,
      config.PORT,
    );
    closeServer = () => server.close();
    stopMetrics = await startRoleMetrics(config, log);
    accounts.follow((matches, code, reason) => server.closeWhere(matches, code, reason));
    const feed = startEdgeFeed({
      stream,
      state,
      windowMs: config.FLUSH_WINDOW_MS,
      maxWindowMs: config.FLUSH_WINDOW_MAX_MS,
      readyLagEvents: config.READY_LAG_EVENTS,
      publish: (frame, _firstSeq, lastSeq, events) => {
        server.publish(frame, events);
        metrics.projectionSeq.set({ projection: 'edge' }, lastSeq);
      },
      onReadError: (error) => log.warn({ err: error, seq: state.receivedSeq }, 'stream read failed; resuming from the next sequence'),
    });
    feedRef = feed;
    stopFeed = () => feed.stop();
    log.info({ port: server.port, seq: state.seq }, 'edge listening');
    options.onListening?.(server.port);
  } catch (error) {
    closeServer?.();
    await stopMetrics?.();
    await stopFeed?.();
    await closeAccounts?.();
    await closeAll();
    throw error;
  }
  return async () => {
    closeServer?.();
    await stopMetrics?.();
    await stopFeed?.();
    await closeAccounts?.();
    await closeAll();
  };
}
