/**
 * For `npm start`: make sure NATS (JetStream), Redis and Postgres answer at their configured URLs.
 * A service that is down on loopback (its default port, unless the URL says otherwise) is started locally
 * under DATA_DIR on that port and stopped on exit; a remote service that is down is an error (we never
 * start one in its place).
 */
import { join } from 'node:path';
import type { Logger } from '../../adapters/logger.ts';
import { SERVICE_LABELS, databaseOf, localPortOf, type ServiceKind } from '../../adapters/services/endpoints.ts';
import {
  ServiceStartFailed,
  startLocalNats,
  startLocalPostgres,
  startLocalRedis,
  type LocalService,
} from '../../adapters/services/local.ts';
import { probeService } from '../../adapters/services/probe.ts';

export interface ServiceUrls {
  readonly nats: string;
  readonly redis: string;
  readonly postgres: string;
}

export interface EnsuredServices {
  /** Services this process started (stopped by `stop`). */
  readonly started: readonly LocalService[];
  stop(): Promise<void>;
}

async function startLocal(kind: ServiceKind, port: number, urls: ServiceUrls, dataDir: string): Promise<LocalService> {
  switch (kind) {
    case 'nats':
      return startLocalNats({ port, storeDir: join(dataDir, 'nats'), logFile: join(dataDir, 'nats.log') });
    case 'redis':
      return startLocalRedis({ port, dir: join(dataDir, 'redis'), logFile: join(dataDir, 'redis.log'), persist: true });
    case 'postgres':
      return startLocalPostgres({ port, dataDir: join(dataDir, 'postgres'), database: databaseOf(urls.postgres) });
  }
}

/** Probes each service and starts the missing ones (when allowed). Throws `ServiceStartFailed` with a one-line reason. */
export async function ensureServices(
  urls: ServiceUrls,
  dataDir: string,
  allowStart: boolean,
  logger: Logger,
  kinds: readonly ServiceKind[] = ['nats', 'redis', 'postgres'],
): Promise<EnsuredServices> {
  const started: LocalService[] = [];
  const stop = async () => {
    for (const service of started.reverse()) await service.stop();
    started.length = 0;
  };
  try {
    for (const kind of kinds) {
      const url = urls[kind];
      const probe = await probeService(kind, url);
      if (probe.up) {
        logger.info({ service: kind }, `using ${probe.detail}`);
        continue;
      }
      const port = localPortOf(kind, url);
      if (probe.occupied && port !== null)
        throw new ServiceStartFailed(`${SERVICE_LABELS[kind]} at ${url} is not usable: ${probe.reason}`);
      if (!allowStart || port === null) {
        throw new ServiceStartFailed(
          `${SERVICE_LABELS[kind]} is not reachable at ${url} (${probe.reason})` +
            (allowStart
              ? '; npm start only starts local services on loopback, so fix the URL or start it'
              : '; START_SERVICES=0, so start it yourself'),
        );
      }
      logger.info(
        { service: kind, reason: probe.reason },
        `${SERVICE_LABELS[kind]} is not running; starting a local one under ${dataDir}`,
      );
      const service = await startLocal(kind, port, urls, dataDir);
      started.push(service);
      logger.info({ service: kind, log: service.logFile }, `started local ${SERVICE_LABELS[kind]} at ${service.url}`);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { started, stop };
}
