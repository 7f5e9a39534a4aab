/**
 * The edge role: loads its canvas copy (Redis bitmap + its sequence, or a replay), tails the stream and
 * fans out one `pixels` frame per window to every WebSocket client, takes placements through the
 * placement command, and serves the canvas over HTTP. Composable: no process-wide state; everything it
 * opens is closed by the returned shutdown.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { createGuestIdentity } from '../../adapters/identity/guest-cookie.ts';
import { metrics, timeAppends } from '../../adapters/metrics.ts';
import { startRoleMetrics } from '../../adapters/metrics-server.ts';
import { createJetStreamEventLog } from '../../adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { answerStatusRequests } from '../../adapters/nats/status-responder.ts';
import { createRedisBitmapStore } from '../../adapters/redis/bitmap-store.ts';
import { createRedisCooldownStore } from '../../adapters/redis/cooldown-store.ts';
import { buildEdgeLimits, startEdgeServer } from '../../adapters/uws/edge-server.ts';
import { prometheusEdgeMetrics } from '../../adapters/uws/edge-metrics.ts';
import { loadUwsBuild } from '../../adapters/uws/load.ts';
import { EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import { startEdgeFeed } from '../../app/edge/edge-feed.ts';
import { loadEdgeCanvas } from '../../app/edge/load-edge-canvas.ts';
import type { SnapshotSource } from '../../app/recover-canvas.ts';
import type { HttpRoute } from '../../app/http.ts';
import { createPlacePixel } from '../../app/place-pixel.ts';
import { perMinute } from '../../domain/limits.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { canvasSpecOf, eventBoundsOf, natsAuthOf } from '../../config/common.ts';
import type { EdgeConfig } from '../../config/edge.ts';
import { namesFor } from '../../domain/names.ts';
import { ensureStream } from '../../../streams/apply.ts';
import { resolve } from 'node:path';
import { startEdgeAccounts } from './accounts.ts';
import type { ChallengeGate, RiskRule } from '../../app/auth/risk.ts';
import { natsInboxPrefix } from '../../../streams/permissions.ts';
import { openNats, openRedis, startWith } from '../lifecycle.ts';
import type { Shutdown } from '../run-role.ts';

export interface EdgeOptions {
  /** Extra HTTP routes (history, auth) mounted next to the edge's own. */
  readonly routes?: readonly HttpRoute[];
  /** Called once listening, with the bound port (useful with PORT=0). */
  readonly onListening?: (port: number) => void;
  /** Plug in a risk rule and a challenge (captcha / proof-of-work) gate; defaults in src/app/auth/risk.ts. */
  readonly risk?: RiskRule;
  readonly challenge?: ChallengeGate;
  /** History snapshots: an edge that finds no Redis bitmap starts from the newest verified one + the tail. */
  readonly snapshots?: SnapshotSource;
  /** A NATS connection owned (and drained) by the caller, used instead of one of the edge's own (`npm start`). */
  readonly nc?: NatsConnection;
}

export function startEdge(config: EdgeConfig, logger: Logger, options: EdgeOptions = {}): Promise<Shutdown> {
  const native = loadUwsBuild(); // before connecting anything: refuse to start without the native binary
  const uws = native.uws;
  const log = logger.child({ component: 'edge' });
  log.info({ uws: native.packageName, abi: process.versions.modules }, 'uWebSockets.js native build loaded');
  const names = namesFor(config.CANVAS_ID);
  const spec = canvasSpecOf(config);
  // Closed in reverse: the listen socket (no new requests), the feed, the metrics listener, accounts, the
  // event log (pending appends fail as `unavailable`), Redis, then the NATS drain.
  return startWith(log, async (life) => {
    const nc =
      options.nc ??
      (await openNats(
        life,
        config.NATS_URL,
        `rplace-edge-${names.canvasId}`,
        natsAuthOf(config, natsInboxPrefix('edge', names)),
        log,
      ));
    const redis = await openRedis(life, config.REDIS_URL, `rplace-edge-${names.canvasId}`);
    const eventLog = createJetStreamEventLog(nc, names, { timeoutMs: config.APPEND_TIMEOUT_MS });
    life.defer({ name: 'event log', close: () => eventLog.close() });
    await ensureStream(nc, names, { replicas: config.STREAM_REPLICAS });
    answerStatusRequests(nc, names.canvasId, 'edge', log); // `rplace status`; ends with the connection's drain
    const stream = createNatsEventStream(nc, names, { canvas: eventBoundsOf(spec), reader: 'edge', logger: log });
    const started = Date.now();
    const initial = await loadEdgeCanvas({
      bitmap: createRedisBitmapStore(redis, names, spec),
      stream,
      spec,
      ...(options.snapshots ? { snapshots: options.snapshots } : {}),
    });
    log.info(
      { seq: initial.seq, source: initial.source, detail: initial.detail, ms: Date.now() - started },
      'edge canvas loaded',
    );
    const state = new EdgeCanvas(initial.width, initial.canvas, initial.seq, { ringEvents: config.RING_EVENTS });
    metrics.projectionSeq.set({ projection: 'edge' }, initial.seq);
    const cooldowns = createRedisCooldownStore(
      // WAIT blocks its connection: with replica acks on, the cooldowns get one of their own.
      config.COOLDOWN_REPLICA_ACKS > 0
        ? await openRedis(life, config.REDIS_URL, `rplace-edge-cooldowns-${names.canvasId}`)
        : redis,
      names,
      {
        onLostRecord: (error) =>
          log.warn(
            { err: error.message },
            'placement outcomes not recorded; their retries fall back to the retry window',
          ),
        replicaAcks:
          config.COOLDOWN_REPLICA_ACKS > 0
            ? {
                replicas: config.COOLDOWN_REPLICA_ACKS,
                timeoutMs: config.COOLDOWN_REPLICA_WAIT_MS,
                onUnacked: unackedWarner(log),
              }
            : undefined,
        lingerMs: config.PLACEMENT_LINGER_MS,
      },
    );
    // Placements are checked against the size the edge's canvas is at (it follows each resize at its sequence).
    const liveSpec = {
      get width() {
        return state.width;
      },
      get height() {
        return state.height;
      },
      palette: spec.palette,
    };
    const placeDeps = {
      spec: liveSpec,
      cooldownSeconds: config.COOLDOWN_SECONDS,
      cooldowns,
      log: timeAppends(eventLog),
      clock: systemClock,
    };
    const guest = createGuestIdentity({ secret: config.SESSION_SECRET, secure: config.COOKIE_SECURE === '1' });
    let feedRef: { readonly caughtUp: boolean } | undefined;
    const accounts = await life.open(
      'accounts',
      () =>
        startEdgeAccounts(config, {
          logger: log,
          nc,
          redis,
          names,
          guest,
          place: placeDeps,
          admission: cooldowns,
          currentSeq: () => state.seq,
          cookieSecure: config.COOKIE_SECURE === '1',
          ...(options.risk ? { risk: options.risk } : {}),
          ...(options.challenge ? { challenge: options.challenge } : {}),
        }),
      (a) => a.close(),
    );
    const server = await life.open(
      'edge server',
      () =>
        startEdgeServer(
          {
            uws,
            logger: log,
            canvasId: names.canvasId,
            state,
            info: {
              // The welcome and /api/v1/canvas/info take the live size from the canvas; these are the initial ones.
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
            metrics: prometheusEdgeMetrics,
            tileWindowMs: config.TILE_WINDOW_MS,
            sendGroups: config.SEND_GROUPS,
            // With METRICS_PORT the metrics live on that internal listener only, never on the public port.
            publicMetrics: config.METRICS_PORT === undefined,
          },
          config.HOST,
          config.PORT,
        ),
      (s) => s.close(),
    );
    await life.open(
      'metrics listener',
      () => startRoleMetrics(config, log),
      (stop) => stop(),
    );
    accounts.follow((matches, code, reason) => server.closeWhere(matches, code, reason));
    const feed = await life.open(
      'edge feed',
      async () =>
        startEdgeFeed({
          stream,
          state,
          windowMs: config.FLUSH_WINDOW_MS,
          maxWindowMs: config.FLUSH_WINDOW_MAX_MS,
          sendGroups: config.SEND_GROUPS,
          readyLagEvents: config.READY_LAG_EVENTS,
          publish: (frame, _firstSeq, lastSeq, events) => {
            server.publish(frame, events);
            metrics.projectionSeq.set({ projection: 'edge' }, lastSeq);
          },
          send: (group, frame) => server.send(group, frame),
          onCycle: (flushMs, windowMs) => {
            metrics.edgeFlushCycle.observe(flushMs);
            metrics.edgeFlushWindow.set(windowMs);
          },
          resized: (seq, resize) => {
            server.resized(seq, resize);
            log.info({ seq, ...resize }, 'canvas resized');
          },
          onReadError: (error) =>
            log.warn({ err: error, seq: state.receivedSeq }, 'stream read failed; resuming from the next sequence'),
        }),
      (f) => f.stop(),
    );
    feedRef = feed;
    // Registered last so it runs first: stop taking connections before the feed and the rest stop
    // (server.close is idempotent; the 'edge server' step above covers a failed start).
    life.defer({ name: 'listen socket', close: () => server.close() });
    log.info({ port: server.port, seq: state.seq }, 'edge listening');
    options.onListening?.(server.port);
  });
}

/** Cooldown batches a replica did not acknowledge in time: counted, and one warning per 10 s with the count since the last. */
function unackedWarner(log: Logger): (count: number, acked: number) => void {
  let unacked = 0;
  let lastAt = 0;
  return (count, acked) => {
    metrics.cooldownsUnacked.inc(count);
    unacked += count;
    const now = Date.now();
    if (now - lastAt < 10_000) return;
    log.warn(
      { acquisitions: unacked, replicasAcked: acked },
      'cooldowns not acknowledged by a replica in COOLDOWN_REPLICA_WAIT_MS; a failover now could lose them',
    );
    unacked = 0;
    lastAt = now;
  };
}
