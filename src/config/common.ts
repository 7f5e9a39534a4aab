/**
 * Settings shared by every role. Each role's schema extends `commonSchema` with its own variables.
 * Defaults work on a node-svc machine with the services on their standard loopback ports.
 */
import { z } from 'zod';
import { MAX_CANVAS_SIDE, type CanvasSpec } from '../domain/canvas.ts';
import { PALETTES, type PaletteName } from '../domain/palette.ts';
import type { EventBounds } from '../../proto/event-codec.ts';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

export const commonShape = {
  NATS_URL: z.string().regex(/^(nats|tls|ws|wss):\/\/\S+$/, 'must be a nats:// URL (comma-separate several servers)')
    .default('nats://127.0.0.1:4222'),
  REDIS_URL: z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// URL').default('redis://127.0.0.1:6379'),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// URL')
    .default('postgres://postgres@127.0.0.1:5432/test'),
  /**
   * Names one canvas. Its stream, subjects, Redis keys, consumers and Postgres schema all derive from it
   * (see `names.ts`), which is also how tests isolate themselves: one canvas id per test file.
   */
  CANVAS_ID: z.string().regex(/^[a-z0-9_]{1,32}$/, 'must be 1-32 of a-z, 0-9, _').default('main'),
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

/** What every reader checks stored events against (proto/event-codec.ts `checkStoredEvent`). */
export function eventBoundsOf(spec: CanvasSpec): EventBounds {
  return { width: spec.width, height: spec.height, colors: spec.palette.length };
}

export function canvasSpecOf(config: Pick<CommonConfig, 'CANVAS_WIDTH' | 'CANVAS_HEIGHT' | 'PALETTE'>): CanvasSpec {
  return { width: config.CANVAS_WIDTH, height: config.CANVAS_HEIGHT, palette: PALETTES[config.PALETTE] };
}
