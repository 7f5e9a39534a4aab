/**
 * Settings shared by every role. Each role's schema extends `commonSchema` with its own variables.
 * Defaults work on a node-svc machine with the services on their standard loopback ports.
 */
import type { NatsAuth } from '../adapters/nats/connect.ts';
import { z } from 'zod';
import { MAX_CANVAS_SIDE, type CanvasSpec } from '../domain/canvas.ts';
import { PALETTES, type PaletteName } from '../domain/palette.ts';
import type { EventBounds } from '../../proto/event-codec.ts';
import { ConfigError } from '../ports/errors.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const commonShape = {
  NATS_URL: z
    .string()
    .regex(/^(nats|tls|ws|wss):\/\/\S+$/, 'must be a nats:// URL (comma-separate several servers)')
    .default('nats://127.0.0.1:4222'),
  /**
   * This process's NATS identity (streams/permissions.ts gives each role its own): a user and password, or
   * an nkey seed file, or a `.creds` file (JWT + seed). Secrets: no defaults. None of them: an
   * unauthenticated connection, which only an open development server accepts (the role says so in its log).
   */
  NATS_USER: z.string().min(1).max(256).optional(),
  NATS_PASSWORD: z.string().min(1).max(1024).optional(),
  NATS_NKEY_SEED_FILE: z.string().min(1).optional(),
  NATS_CREDS_FILE: z.string().min(1).optional(),
  /** TLS: the CA that signed the servers' certificates (with `tls://` URLs), and a client certificate + key if the servers verify clients. */
  NATS_TLS_CA: z.string().min(1).optional(),
  NATS_TLS_CERT: z.string().min(1).optional(),
  NATS_TLS_KEY: z.string().min(1).optional(),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// URL')
    .default('redis://127.0.0.1:6379'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/test'),
  /**
   * Names one canvas. Its stream, subjects, Redis keys, consumers and Postgres schema all derive from it
   * (see `names.ts`), which is also how tests isolate themselves: one canvas id per test file.
   */
  CANVAS_ID: z
    .string()
    .regex(/^[a-z0-9_]{1,32}$/, 'must be 1-32 of a-z, 0-9, _')
    .default('main'),
  CANVAS_WIDTH: int(1, MAX_CANVAS_SIDE).default(2000),
  CANVAS_HEIGHT: int(1, MAX_CANVAS_SIDE).default(2000),
  PALETTE: z.enum(Object.keys(PALETTES) as [PaletteName, ...PaletteName[]]).default('rplace2022'),
  COOLDOWN_SECONDS: int(1, 86_400).default(300),
  /**
   * Replicas of the canvas stream: 1 on a single nats-server, 3 on a three-node JetStream cluster
   * (`npm run topology`, deploy/). Pass it to `applyStreams(nc, names, { replicas: config.STREAM_REPLICAS })`.
   */
  STREAM_REPLICAS: int(1, 5).default(1),
  /**
   * Port of the tiny `/metrics` + `/healthz` server (src/adapters/metrics-server.ts) for roles without an
   * HTTP port of their own; unset: none. The edge serves both on its own PORT.
   */
  METRICS_PORT: z.coerce.number().int().min(0).max(65_535).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const commonSchema = z.object(commonShape);
export type CommonConfig = z.output<typeof commonSchema>;

type NatsAuthSettings = Pick<
  CommonConfig,
  | 'NATS_URL'
  | 'NATS_USER'
  | 'NATS_PASSWORD'
  | 'NATS_NKEY_SEED_FILE'
  | 'NATS_CREDS_FILE'
  | 'NATS_TLS_CA'
  | 'NATS_TLS_CERT'
  | 'NATS_TLS_KEY'
>;

/**
 * The NATS identity the settings describe, replying on `inboxPrefix` (the role's, `natsInboxPrefix`);
 * `ConfigError` (naming the variables) when they contradict each other.
 */
export function natsAuthOf(config: NatsAuthSettings, inboxPrefix?: string): NatsAuth {
  const problems: string[] = [];
  if ((config.NATS_USER === undefined) !== (config.NATS_PASSWORD === undefined))
    problems.push('  NATS_USER, NATS_PASSWORD: set both or neither');
  const ways = [
    config.NATS_USER !== undefined,
    config.NATS_NKEY_SEED_FILE !== undefined,
    config.NATS_CREDS_FILE !== undefined,
  ].filter(Boolean).length;
  if (ways > 1) problems.push('  NATS_USER / NATS_NKEY_SEED_FILE / NATS_CREDS_FILE: choose one way to authenticate');
  if ((config.NATS_TLS_CERT === undefined) !== (config.NATS_TLS_KEY === undefined))
    problems.push('  NATS_TLS_CERT, NATS_TLS_KEY: a client certificate needs its key');
  const tlsWanted = config.NATS_TLS_CA !== undefined || config.NATS_TLS_CERT !== undefined;
  if (tlsWanted && !config.NATS_URL.split(',').every((u) => u.trim().startsWith('tls://')))
    problems.push('  NATS_URL: NATS_TLS_* given, so every server must be a tls:// URL');
  if (problems.length > 0) throw new ConfigError(`invalid configuration:\n${problems.join('\n')}`);
  return {
    ...(inboxPrefix !== undefined ? { inboxPrefix } : {}),
    ...(config.NATS_USER !== undefined && config.NATS_PASSWORD !== undefined
      ? { user: { name: config.NATS_USER, password: config.NATS_PASSWORD } }
      : {}),
    ...(config.NATS_NKEY_SEED_FILE !== undefined ? { nkeySeedFile: config.NATS_NKEY_SEED_FILE } : {}),
    ...(config.NATS_CREDS_FILE !== undefined ? { credsFile: config.NATS_CREDS_FILE } : {}),
    ...(tlsWanted || config.NATS_URL.startsWith('tls://')
      ? {
          tls: {
            ...(config.NATS_TLS_CA ? { caFile: config.NATS_TLS_CA } : {}),
            ...(config.NATS_TLS_CERT ? { certFile: config.NATS_TLS_CERT } : {}),
            ...(config.NATS_TLS_KEY ? { keyFile: config.NATS_TLS_KEY } : {}),
          },
        }
      : {}),
  };
}

/** What every reader checks stored events against (proto/event-codec.ts `checkStoredEvent`). */
export function eventBoundsOf(spec: CanvasSpec): EventBounds {
  return { width: spec.width, height: spec.height, colors: spec.palette.length };
}

export function canvasSpecOf(config: Pick<CommonConfig, 'CANVAS_WIDTH' | 'CANVAS_HEIGHT' | 'PALETTE'>): CanvasSpec {
  return { width: config.CANVAS_WIDTH, height: config.CANVAS_HEIGHT, palette: PALETTES[config.PALETTE] };
}
