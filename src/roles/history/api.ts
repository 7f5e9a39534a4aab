/**
 * The history query side, as routes the edge mounts (`startEdge(config, logger, { routes })`): point-in-time
 * canvas, pixel history, timelapse and its progress. Reads Postgres only; runs the migrations too so an edge
 * started before the history role finds its tables. `close()` ends the pool (../lifecycle.ts).
 */
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { createFfmpegVideoEncoder, findFfmpeg } from '../../adapters/image/ffmpeg-video.ts';
import { createApngWriter, encodePng } from '../../adapters/image/png.ts';
import { GZIP_LEVEL, gzipChunks } from '../../adapters/gzip-stream.ts';
import { createParquetEncoder } from '../../adapters/parquet/placements-parquet.ts';
import { createPgHistoryStore } from '../../adapters/pg/history-store.ts';
import type { SnapshotSource } from '../../app/recover-canvas.ts';
import { createPgPixelActivity } from '../../adapters/pg/pixel-activity.ts';
import { createPgPlacementLog } from '../../adapters/pg/placement-export.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import type { HttpRoute } from '../../app/http.ts';
import {
  DEFAULT_SNAPSHOT_LIMITS,
  DEFAULT_TIMELAPSE_LIMITS,
  historyRoutes,
  type ImageEncoder,
} from '../../app/history/routes.ts';
import { metrics } from '../../adapters/metrics.ts';
import { createPgUserStore } from '../../adapters/pg/user-store.ts';
import { Usernames } from '../../app/history/usernames.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { canvasSpecOf } from '../../config/common.ts';
import type { HistoryConfig } from '../../config/history.ts';
import { namesFor } from '../../domain/names.ts';
import { createLifecycle, openPg } from '../lifecycle.ts';

export type HistoryApiConfig = Pick<
  HistoryConfig,
  'DATABASE_URL' | 'CANVAS_ID' | 'CANVAS_WIDTH' | 'CANVAS_HEIGHT' | 'PALETTE'
> &
  Partial<
    Pick<
      HistoryConfig,
      | 'PG_POOL_SIZE'
      | 'TIMELAPSE_MAX_CONCURRENT'
      | 'TIMELAPSE_MAX_PER_IP'
      | 'SNAPSHOT_MAX_CONCURRENT'
      | 'SNAPSHOT_MAX_PER_IP'
      | 'EXPORT_USER_SALT'
      | 'EXPORT_MAX_PER_CLIENT'
      | 'EXPORT_MAX_CONCURRENT'
      | 'EXPORT_WORKERS'
    >
  >;

export interface HistoryApiOptions {
  /** The ffmpeg for MP4/WebM timelapses; `null` serves APNG only. Default: `ffmpeg` on PATH, if any. */
  readonly ffmpegPath?: string | null;
}

export async function startHistoryApi(
  config: HistoryApiConfig,
  logger: Logger,
  options: HistoryApiOptions = {},
): Promise<{ routes: HttpRoute[]; snapshots: SnapshotSource; close(): Promise<void> }> {
  const log = logger.child({ component: 'history-api' });
  const names = namesFor(config.CANVAS_ID);
  const spec = canvasSpecOf(config);
  const life = createLifecycle(log);
  let pg;
  try {
    pg = await openPg(life, config.DATABASE_URL, names.pgSchema, log, {
      max: config.PG_POOL_SIZE ?? 4,
      statementTimeoutMs: 30_000,
    });
    await migrateToLatest(pg.pool, names.pgSchema);
  } catch (error) {
    await life.close();
    throw error;
  }
  const encoder: ImageEncoder = {
    png: (indices, width, height) => encodePng(indices, width, height, spec.palette),
    apng: (width, height, frames, fps) => createApngWriter(width, height, frames, fps, spec.palette, 6),
  };
  const ffmpegPath = options.ffmpegPath === undefined ? findFfmpeg() : options.ffmpegPath;
  if (!ffmpegPath) log.info('ffmpeg not found on PATH: timelapses are served as animated PNG only');
  const store = createPgHistoryStore(pg, log);
  const placementLog = createPgPlacementLog(pg, names.consumers.history, {
    workers: config.EXPORT_WORKERS ?? Math.min(2, availableParallelism()),
  });
  const users = createPgUserStore(pg.pool, names.pgSchema);
  const routes = historyRoutes({
    store,
    width: spec.width,
    height: spec.height,
    palette: spec.palette,
    projection: names.consumers.history,
    clock: systemClock,
    encoder,
    video: ffmpegPath ? createFfmpegVideoEncoder({ ffmpegPath, palette: spec.palette }) : null,
    limits: {
      ...DEFAULT_TIMELAPSE_LIMITS,
      maxConcurrent: config.TIMELAPSE_MAX_CONCURRENT ?? DEFAULT_TIMELAPSE_LIMITS.maxConcurrent,
      maxPerClient: config.TIMELAPSE_MAX_PER_IP ?? DEFAULT_TIMELAPSE_LIMITS.maxPerClient,
    },
    snapshotLimits: {
      maxConcurrent: config.SNAPSHOT_MAX_CONCURRENT ?? DEFAULT_SNAPSHOT_LIMITS.maxConcurrent,
      maxPerClient: config.SNAPSHOT_MAX_PER_IP ?? DEFAULT_SNAPSHOT_LIMITS.maxPerClient,
    },
    onRefused: (limit) => metrics.limitRefusals.inc({ limit }),
    onError: (error, what) => log.error({ err: error }, `${what} failed`),
    export: {
      store,
      log: placementLog,
      parquet: createParquetEncoder(),
      gzip: { level: GZIP_LEVEL, stream: gzipChunks },
      width: spec.width,
      height: spec.height,
      palette: spec.palette,
      clock: systemClock,
      userSalt: config.EXPORT_USER_SALT ?? null,
      maxPerClient: config.EXPORT_MAX_PER_CLIENT ?? 1,
      maxConcurrent: config.EXPORT_MAX_CONCURRENT ?? 2,
      canvasId: config.CANVAS_ID,
      onError: (error, what) => log.error({ err: error }, `${what} failed`),
    },
    activity: {
      store,
      log: placementLog,
      activity: createPgPixelActivity(pg),
      png: (indices, width, height, palette) => encodePng(indices, width, height, palette),
      width: spec.width,
      height: spec.height,
      clock: systemClock,
      maxPerClient: 1,
      maxConcurrent: 4,
      onError: (error, what) => log.error({ err: error }, `${what} failed`),
    },
    usernames: new Usernames({
      lookup: (ids) => users.usernamesOf(ids),
      clock: systemClock,
      onError: (error) => log.warn({ err: error }, 'username lookup failed: serving ids only'),
    }),
  });
  return { routes, snapshots: store, close: () => life.close() };
}
