/**
 * Pure helpers for the all-in-one start (`npm start`): where each service is expected, whether a URL
 * points at the default loopback port (so we may start a local one there), which Debian package provides
 * a missing binary, and which Postgres installation to use. No I/O here; `probe.ts` and `local.ts` do it.
 */

export type ServiceKind = 'nats' | 'redis' | 'postgres';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export const DEFAULT_PORTS: Readonly<Record<ServiceKind, number>> = { nats: 4222, redis: 6379, postgres: 5432 };

export const SERVICE_LABELS: Readonly<Record<ServiceKind, string>> = {
  nats: 'NATS (with JetStream)',
  redis: 'Redis',
  postgres: 'Postgres',
};

/** The binary `npm start` needs to run a local instance, and the Debian package that ships it. */
export const SERVICE_BINARIES: Readonly<Record<ServiceKind, { readonly binary: string; readonly aptPackage: string }>> =
  {
    nats: { binary: 'nats-server', aptPackage: 'nats-server' },
    redis: { binary: 'redis-server', aptPackage: 'redis-server' },
    postgres: { binary: 'initdb, pg_ctl (/usr/lib/postgresql/<version>/bin)', aptPackage: 'postgresql' },
  };

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * The first host:port of a service URL (NATS accepts a comma-separated list; the first one is probed).
 * Returns `null` for something that does not parse, rather than throwing.
 */
export function endpointOf(kind: ServiceKind, url: string): Endpoint | null {
  const first = url.split(',')[0]?.trim() ?? '';
  let parsed: URL;
  try {
    parsed = new URL(first);
  } catch {
    return null;
  }
  if (!parsed.hostname) return null;
  const port = parsed.port === '' ? DEFAULT_PORTS[kind] : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) return null;
  return { host: parsed.hostname.replace(/^\[|\]$/g, ''), port };
}

/** True when the URL names this machine on the service's default port. */
export function isDefaultLoopback(kind: ServiceKind, url: string): boolean {
  const endpoint = endpointOf(kind, url);
  return endpoint !== null && LOOPBACK.has(endpoint.host) && endpoint.port === DEFAULT_PORTS[kind];
}

/**
 * The loopback port `npm start` may start a local service on: the URL's port when the URL names this
 * machine (the default port in the usual case), else null (a remote service is never replaced).
 */
export function localPortOf(kind: ServiceKind, url: string): number | null {
  const endpoint = endpointOf(kind, url);
  return endpoint !== null && LOOPBACK.has(endpoint.host) ? endpoint.port : null;
}

/** The database name of a postgres:// URL (`postgres` when none). */
export function databaseOf(url: string): string {
  try {
    const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
    return name === '' ? 'postgres' : name;
  } catch {
    return 'postgres';
  }
}

/** The user of a postgres:// URL (`postgres` when none). */
export function databaseUserOf(url: string): string {
  try {
    const user = decodeURIComponent(new URL(url).username);
    return user === '' ? 'postgres' : user;
  } catch {
    return 'postgres';
  }
}

/**
 * Picks the newest Postgres from the directory names under /usr/lib/postgresql (`15`, `16`, ...),
 * since Debian keeps initdb and pg_ctl off PATH there.
 */
export function newestPostgresVersion(entries: readonly string[]): string | null {
  const versions = entries
    .filter((entry) => /^\d+(\.\d+)?$/.test(entry))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] ?? null;
}

/** NATS greets every client with `INFO {json}`; this reads whether JetStream is enabled. */
export function parseNatsInfo(line: string): { readonly version: string; readonly jetstream: boolean } | null {
  const match = /^INFO\s+(\{.*\})\s*$/.exec(line.trim());
  if (!match?.[1]) return null;
  try {
    const info = JSON.parse(match[1]) as { version?: unknown; jetstream?: unknown };
    return { version: typeof info.version === 'string' ? info.version : 'unknown', jetstream: info.jetstream === true };
  } catch {
    return null;
  }
}

/** The one line printed when a service is down and its binary is missing. */
export function installHint(kind: ServiceKind): string {
  const { binary, aptPackage } = SERVICE_BINARIES[kind];
  return `${SERVICE_LABELS[kind]} is not running and ${binary} is not installed: run \`apt-get install ${aptPackage}\` (or start ${SERVICE_LABELS[kind]} yourself and set its URL)`;
}
