/**
 * The history HTTP API (documented in docs/HISTORY-API.md), as framework-free routes the edge mounts, one
 * file per route group:
 *
 *   ./snapshot-routes.ts    info, snapshot (the canvas at an instant)
 *   ./pixel-route.ts        pixel (one pixel's placements)
 *   ./timelapse-routes.ts   timelapse, timelapse/progress
 *   ./export-routes.ts      the dataset export
 *   ./activity-routes.ts    heatmap, virgin map
 *   ./canvas-routes.ts      canvas (palette indices at an instant or a seq: the time slider)
 *
 * Every query is parsed with zod and bounded (./route-query.ts); failures are `{ code, message }` with the
 * status of the one map in ../http.ts: 400 (bad input), 404, 429 (this client already holds its share of
 * snapshots or timelapses) or 503 (store down, or every slot taken), the last two with `Retry-After`.
 */
import type { PaletteColor } from '../../domain/palette.ts';
import type { HttpRoute } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import { activityRoutes, type ActivityRoutesOptions } from './activity-routes.ts';
import type { ImageEncoder, VideoEncoder } from '../../ports/media.ts';
import { exportRoutes, type ExportRoutesOptions } from './export-routes.ts';
import { canvasIndexRoutes } from './canvas-routes.ts';
import { pixelRoutes } from './pixel-route.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { SnapshotCache } from '../../domain/history/snapshot-cache.ts';
import { DEFAULT_SNAPSHOT_LIMITS, snapshotRoutes, type SnapshotLimits } from './snapshot-routes.ts';
import { DEFAULT_TIMELAPSE_LIMITS, timelapseRoutes, type TimelapseLimits } from './timelapse-routes.ts';
import type { Usernames } from './usernames.ts';

export type { ImageEncoder, VideoEncoder, VideoFormat } from '../../ports/media.ts';
export { int, parse, timeParam } from './route-query.ts';
export { DEFAULT_SNAPSHOT_LIMITS, type SnapshotLimits } from './snapshot-routes.ts';
export { DEFAULT_TIMELAPSE_LIMITS, type TimelapseLimits } from './timelapse-routes.ts';

export interface HistoryRoutesOptions {
  readonly store: HistoryStore;
  readonly width: number;
  readonly height: number;
  readonly palette: readonly PaletteColor[];
  readonly projection: string;
  readonly clock: Clock;
  readonly encoder: ImageEncoder;
  readonly limits?: TimelapseLimits;
  readonly snapshotLimits?: SnapshotLimits;
  /** Called once per request refused by a concurrency limit, with the limit's name (metrics). */
  readonly onRefused?: (limit: string) => void;
  /** MP4/WebM; absent or `null` when ffmpeg is not installed, and those formats are then refused with a clear 400. */
  readonly video?: VideoEncoder | null;
  readonly onError?: (error: Error, what: string) => void;
  /** Inflated snapshots kept in memory for the time slider and timelapses (each width × height bytes; default 8). */
  readonly snapshotCacheEntries?: number;
  /** The dataset export (./export-routes.ts); absent: not served. */
  readonly export?: ExportRoutesOptions;
  /** Heatmap and virgin map (./activity-routes.ts); absent: not served. */
  readonly activity?: ActivityRoutesOptions;
  /** Resolves `userId`s to the `username` of each placement; without it guests are still labelled. */
  readonly usernames?: Usernames;
}

export function historyRoutes(options: HistoryRoutesOptions): HttpRoute[] {
  const { store, width, height, clock, encoder, projection } = options;
  const video = options.video ?? null;
  const limits = options.limits ?? DEFAULT_TIMELAPSE_LIMITS;
  // One cache for the time slider and the timelapses: both replay from the same snapshots.
  const snapshots = new SnapshotCache(options.snapshotCacheEntries ?? 8);
  const hooks = {
    ...(options.onRefused ? { onRefused: options.onRefused } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
  };
  return [
    ...snapshotRoutes({
      store,
      width,
      height,
      projection,
      clock,
      encoder,
      snapshots,
      snapshotLimits: options.snapshotLimits ?? DEFAULT_SNAPSHOT_LIMITS,
      timelapseLimits: limits,
      formats: video ? ['apng', 'mp4', 'webm'] : ['apng'],
      ...hooks,
    }),
    ...pixelRoutes({
      store,
      width,
      height,
      ...(options.usernames ? { usernames: options.usernames } : {}),
      ...(options.onError ? { onError: options.onError } : {}),
    }),
    ...timelapseRoutes({ store, width, height, projection, clock, encoder, video, limits, snapshots, ...hooks }),
    ...canvasIndexRoutes({ store, width, height, projection, clock, snapshots, ...hooks }),
    ...(options.export ? exportRoutes(options.export) : []),
    ...(options.activity ? activityRoutes(options.activity) : []),
  ];
}
