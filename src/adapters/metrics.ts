/**
 * Prometheus metrics, defined once for every role. Roles import `metrics` and increment; nobody creates
 * metrics elsewhere, so names, labels and buckets stay consistent across the deployment.
 *
 * One registry per process. `setMetricsRole(role)` (called by each role's `main.ts`, and by `npm start`
 * with role `all`) labels every series with the role and instance; composing several roles in one
 * process is fine because each metric belongs to one role.
 *
 * Usage:
 * ```ts
 * import { metrics } from '../../adapters/metrics.ts';
 * metrics.placementsAccepted.inc();
 * metrics.placementsRejected.inc({ reason: outcome.code });
 * const end = metrics.appendLatency.startTimer(); await log.append(...); end();
 * metrics.projectionLag.set({ projection: 'bitmap' }, lastSeq - appliedSeq);
 * metrics.batchSize.observe({ stage: 'bitmap' }, batch.length);
 * ```
 *
 * Roles with their own HTTP port (the edge) mount `metricsRoutes()`; the others run
 * `startMetricsServer(port, ...)` on `METRICS_PORT` (see `src/adapters/metrics-server.ts`).
 * No per-pixel labels: labels are bounded sets (error codes, projection names, stages).
 */
import { hostname } from 'node:os';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ErrorCode } from '../../proto/error-codes.ts';
import type { HttpResponse, HttpRoute } from '../app/http.ts';
import type { EventLog } from '../ports/event-log.ts';

export const registry = new Registry();

/** Projection names used as the `projection` label. */
export type ProjectionLabel = 'bitmap' | 'history' | 'snapshot' | 'edge';

const placementsAccepted = new Counter({
  name: 'rplace_placements_accepted_total',
  help: 'Placements acknowledged by the log and answered success (retries answered from dedup count as duplicate="true").',
  labelNames: ['duplicate'] as const,
  registers: [registry],
});

const placementsRejected = new Counter<'reason'>({
  name: 'rplace_placements_rejected_total',
  help: 'Placements answered with an error, by wire error code (cooldown, invalid_color, unavailable, ...).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const appendLatency = new Histogram({
  name: 'rplace_append_latency_seconds',
  help: 'Time from handing an event to the JetStream append until its ack (or failure).',
  labelNames: ['result'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  registers: [registry],
});

const projectionLag = new Gauge({
  name: 'rplace_projection_lag_events',
  help: 'Events in the stream not yet applied by a projection (stream last seq minus applied seq).',
  labelNames: ['projection'] as const,
  registers: [registry],
});

const projectionSeq = new Gauge({
  name: 'rplace_projection_seq',
  help: 'Last stream sequence applied by a projection.',
  labelNames: ['projection'] as const,
  registers: [registry],
});

const batchSize = new Histogram({
  name: 'rplace_batch_size_events',
  help: 'Events per batch, by stage (append pipeline flush, bitmap/history projection batch, edge fan-out frame).',
  labelNames: ['stage'] as const,
  buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
  registers: [registry],
});

const wsConnections = new Gauge({
  name: 'rplace_ws_connections',
  help: 'Open WebSocket connections on this edge.',
  registers: [registry],
});

const framesSent = new Counter({
  name: 'rplace_ws_frames_sent_total',
  help: 'Frames handed to WebSocket clients (uWS send() returned 1 sent or 0 buffered; publish counts once per topic frame).',
  labelNames: ['kind'] as const,
  registers: [registry],
});

const framesDropped = new Counter({
  name: 'rplace_ws_frames_dropped_total',
  help: 'Frames not delivered to a client (uWS send() returned 2, or the client was closed for backpressure).',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const cooldownsUnacked = new Counter({
  name: 'rplace_cooldowns_unacked_total',
  help: 'Cooldown acquisitions no replica acknowledged within COOLDOWN_REPLICA_WAIT_MS (only with COOLDOWN_REPLICA_ACKS > 0): a failover now could lose them.',
  registers: [registry],
});

const resyncs = new Counter({
  name: 'rplace_resyncs_total',
  help: 'Full resynchronisations: a client or an edge reloaded a snapshot instead of following the live tail.',
  labelNames: ['reason'] as const,
  registers: [registry],
});

const snapshotAge = new Gauge({
  name: 'rplace_snapshot_age_seconds',
  help: 'Seconds since the newest stored snapshot was taken.',
  registers: [registry],
});

const snapshotSeq = new Gauge({
  name: 'rplace_snapshot_seq',
  help: 'Stream sequence covered by the newest stored snapshot.',
  registers: [registry],
});

const historyStoreUp = new Gauge({
  name: 'rplace_history_store_up',
  help: 'History projector: 1 while Postgres accepts its writes, 0 while it holds a batch and retries (nothing is acknowledged meanwhile).',
  registers: [registry],
});

const historyStoreOutages = new Counter({
  name: 'rplace_history_store_outages_total',
  help: 'History projector: Postgres outages survived (a held batch finally written; catch-up from the stream follows).',
  registers: [registry],
});

const eventsRejected = new Counter({
  name: 'rplace_events_rejected_total',
  help: 'Stored events a reader skipped because they fail validation (stored-event.ts), by reader and reason (bounds, color, time, kind, ...).',
  labelNames: ['reader', 'reason'] as const,
  registers: [registry],
});

const projectionHalted = new Gauge({
  name: 'rplace_projection_halted',
  help: '1 while a projection has stopped on a permanent error (it needs an operator); 0 otherwise.',
  labelNames: ['projection'] as const,
  registers: [registry],
});

const limitRefusals = new Counter({
  name: 'rplace_limit_refusals_total',
  help: 'Requests, messages and connections refused or closed by a per-client bound, by limit (src/domain/limits.ts; docs/SECURITY.md).',
  labelNames: ['limit'] as const,
  registers: [registry],
});

const httpPendingResponses = new Gauge({
  name: 'rplace_http_pending_responses',
  help: 'HTTP responses the client has not read yet (the edge holds the body, uWS none of it).',
  registers: [registry],
});

const edgeFlushWindow = new Gauge({
  name: 'rplace_edge_flush_window_ms',
  help: "The edge's adaptive flush window after its last flush cycle (ms; src/domain/edge/flush-window.ts).",
  registers: [registry],
});

const edgeFlushCycle = new Histogram({
  name: 'rplace_edge_flush_cycle_ms',
  help: 'Synchronous time of one flush cycle over the live send groups (ms: apply, encode, app.publish; uWS writes the sockets after it returns).',
  buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250],
  registers: [registry],
});

export const metrics = {
  eventsRejected,
  projectionHalted,
  placementsAccepted,
  placementsRejected,
  appendLatency,
  projectionLag,
  projectionSeq,
  batchSize,
  wsConnections,
  framesSent,
  framesDropped,
  cooldownsUnacked,
  resyncs,
  snapshotAge,
  snapshotSeq,
  historyStoreUp,
  historyStoreOutages,
  limitRefusals,
  httpPendingResponses,
  edgeFlushWindow,
  edgeFlushCycle,
} as const;

/** Convenience for the placement path: one call per answered placement. */
export function countPlacement(
  outcome: { readonly ok: true; readonly duplicate: boolean } | { readonly ok: false; readonly code: ErrorCode },
): void {
  if (outcome.ok) placementsAccepted.inc({ duplicate: outcome.duplicate ? 'true' : 'false' });
  else placementsRejected.inc({ reason: outcome.code });
}

/**
 * The event log with every append timed into `rplace_append_latency_seconds` (result `ok` or `error`).
 * Wrapped here rather than inside the pipelined JetStream log so that log stays free of metrics.
 */
export function timeAppends(log: EventLog): EventLog {
  return {
    append(event, messageId) {
      const end = appendLatency.startTimer();
      return log.append(event, messageId).then(
        (result) => {
          end({ result: 'ok' });
          return result;
        },
        (error: unknown) => {
          end({ result: 'error' });
          throw error;
        },
      );
    },
  };
}

let defaultsCollected = false;
let instanceLabel = `${hostname()}:${process.pid}`;

/** This process's `instance` label (the one `setMetricsRole` set, else host:pid), for `rplace status` replies. */
export function metricsInstance(): string {
  return instanceLabel;
}

/**
 * Labels every series of this process with its role and instance, and turns on the default process
 * metrics (CPU, memory, event-loop lag, GC). Idempotent; the last role set wins.
 */
export function setMetricsRole(role: string, instance = `${hostname()}:${process.pid}`): void {
  instanceLabel = instance;
  registry.setDefaultLabels({ role, instance });
  if (!defaultsCollected) {
    defaultsCollected = true;
    collectDefaultMetrics({ register: registry, prefix: 'rplace_process_' });
  }
}

/** The Prometheus text exposition of this process's registry. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/** A health check: resolves `ok: false` with a reason per failing dependency; never throws. */
export type HealthCheck = () => Promise<{
  readonly ok: boolean;
  readonly checks: Readonly<Record<string, string | undefined>>;
}>;

export const alwaysHealthy: HealthCheck = async () => ({ ok: true, checks: {} });

/** Unhealthy while a projection of this process is halted on a permanent failure (`rplace_projection_halted`). */
export const projectionsHealthy: HealthCheck = async () => {
  const halted = (await projectionHalted.get()).values
    .filter((v) => v.value > 0)
    .map((v) => String(v.labels.projection));
  return {
    ok: halted.length === 0,
    checks: Object.fromEntries(halted.map((p) => [p, 'halted on a permanent failure (see the log)'])),
  };
};

/** Both checks must pass; their reasons are merged. */
export function allOf(...checks: HealthCheck[]): HealthCheck {
  return async () => {
    const results = await Promise.all(checks.map((check) => check()));
    return {
      ok: results.every((r) => r.ok),
      checks: Object.assign({}, ...results.map((r) => r.checks)) as Record<string, string | undefined>,
    };
  };
}

/**
 * Readiness of a projector process: healthy, its store up, and every projection at most `maxLagEvents`
 * behind the stream (`rplace_projection_lag_events`, sampled by the role): a stuck or lagging projection
 * answers 503 on `/readyz`.
 */
export function projectionsReady(maxLagEvents: number): HealthCheck {
  return allOf(projectionsHealthy, async () => {
    const checks: Record<string, string> = {};
    for (const v of (await projectionLag.get()).values) {
      if (v.value > maxLagEvents)
        checks[`${String(v.labels.projection)}-lag`] =
          `${v.value} events behind the stream (ready at ≤ ${maxLagEvents})`;
    }
    if ((await historyStoreUp.get()).values.some((v) => v.value === 0))
      checks['history-store'] = 'postgres refuses writes; holding the batch';
    return { ok: Object.keys(checks).length === 0, checks };
  });
}

async function healthResponse(check: HealthCheck): Promise<HttpResponse> {
  let result: Awaited<ReturnType<HealthCheck>>;
  try {
    result = await check();
  } catch (error) {
    result = { ok: false, checks: { health: (error as Error).message } };
  }
  return {
    status: result.ok ? 200 : 503,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
    body: JSON.stringify({ status: result.ok ? 'ok' : 'unhealthy', checks: result.checks }),
  };
}

/** `GET /metrics` and `GET /healthz` as framework-free routes, for roles that serve HTTP themselves. */
export function metricsRoutes(check: HealthCheck = alwaysHealthy): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/metrics',
      maxBodyBytes: 0,
      handle: async () => {
        const { contentType, body } = await renderMetrics();
        return { status: 200, headers: { 'content-type': contentType, 'cache-control': 'no-store' }, body };
      },
    },
    { method: 'GET', path: '/healthz', maxBodyBytes: 0, handle: () => healthResponse(check) },
  ];
}

/** `GET /readyz` for roles without an HTTP port of their own (the edge answers its own). */
export function readyRoute(check: HealthCheck): HttpRoute {
  return { method: 'GET', path: '/readyz', maxBodyBytes: 0, handle: () => healthResponse(check) };
}
