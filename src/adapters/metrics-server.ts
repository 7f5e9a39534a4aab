/**
 * A tiny node:http server exposing `GET /metrics`, `GET /healthz` (503 while a projection is halted) and
 * `GET /readyz` (also 503 while a projection lags or its store is down) for roles without an HTTP port of
 * their own (projectors, snapshotter). Port from `METRICS_PORT`; 0 picks a free port (tests), and the
 * role may skip it entirely when `METRICS_PORT` is unset.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from './logger.ts';
import { allOf, metricsRoutes, projectionsHealthy, projectionsReady, readyRoute, type HealthCheck } from './metrics.ts';

/** `/readyz` answers 503 beyond this many events of lag (the edge's READY_LAG_EVENTS default). */
const READY_LAG_EVENTS = 1000;

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startMetricsServer(
  port: number,
  logger: Logger,
  check: HealthCheck = projectionsHealthy,
  host = '0.0.0.0',
): Promise<MetricsServer> {
  const routes = new Map(
    [...metricsRoutes(check), readyRoute(allOf(check, projectionsReady(READY_LAG_EVENTS)))].map((route) => [
      route.path,
      route,
    ]),
  );
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routes.get(path);
    if (!route || req.method !== 'GET') {
      res.writeHead(route ? 405 : 404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ code: 'not_found', message: `no ${req.method} ${path} here; try /metrics or /healthz` }),
      );
      return;
    }
    route
      .handle({
        method: 'GET',
        path,
        query: new URLSearchParams(),
        headers: {},
        remoteAddress: req.socket.remoteAddress ?? '',
      })
      .then(
        (response) => {
          res.writeHead(response.status, response.headers);
          res.end(typeof response.body === 'string' || response.body instanceof Uint8Array ? response.body : undefined);
        },
        (error: unknown) => {
          logger.error({ err: error }, 'metrics route failed');
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ code: 'internal', message: 'metrics unavailable' }));
        },
      );
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  logger.child({ adapter: 'metrics' }).info({ port: bound }, 'metrics and health on /metrics, /healthz');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/**
 * For a role's `main.ts`: starts the metrics server when `METRICS_PORT` is set, else does nothing.
 * Returns its close (a no-op when none), to chain into the role's shutdown.
 */
export async function startRoleMetrics(
  config: { readonly METRICS_PORT?: number | undefined },
  logger: Logger,
  check: HealthCheck = projectionsHealthy,
): Promise<() => Promise<void>> {
  if (config.METRICS_PORT === undefined) return async () => undefined;
  const server = await startMetricsServer(config.METRICS_PORT, logger, check);
  return () => server.close();
}
