/**
 * The point-in-time group of the history API: `info` (the time slider's bounds, the limits and formats) and
 * `snapshot` (the canvas at an instant, raw or PNG). Snapshots (each inflates a canvas and may encode a PNG)
 * hold one of a few global slots, of which one client address may hold its share (`Slots`).
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { Slots } from '../../domain/limits.ts';
import { json, jsonError, type HttpRequest, type HttpRoute } from '../http.ts';
import { canvasAt } from './point-in-time.ts';
import { parse, slotRefusal, storeFailure, timeParam, type ReplayRouteContext } from './route-query.ts';
import type { TimelapseLimits } from './timelapse-routes.ts';

export interface SnapshotLimits {
  /** Point-in-time canvases (raw or PNG) computed at once. */
  readonly maxConcurrent: number;
  /** Of which one client address may hold this many. */
  readonly maxPerClient: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = { maxConcurrent: 4, maxPerClient: 2 };

export interface SnapshotRoutesOptions extends ReplayRouteContext {
  readonly snapshotLimits: SnapshotLimits;
  /** Shown by `info` (the timelapse group enforces them). */
  readonly timelapseLimits: TimelapseLimits;
  readonly formats: readonly string[];
}

export function snapshotRoutes(options: SnapshotRoutesOptions): HttpRoute[] {
  const { store, width, height, clock, encoder, projection, snapshots } = options;
  const limits = options.timelapseLimits;
  const snapshotSlots = new Slots(options.snapshotLimits.maxConcurrent, options.snapshotLimits.maxPerClient);
  const failure = (error: unknown, what: string) => storeFailure(error, what, options.onError);
  const snapshotQuery = z.object({ time: timeParam, format: z.enum(['raw', 'png']).default('raw') });

  return [
    {
      method: 'GET',
      path: '/api/v1/history/info',
      maxBodyBytes: 0,
      async handle() {
        try {
          const summary = await store.summary(projection);
          return json(
            200,
            { width, height, ...summary, limits, formats: options.formats },
            { 'cache-control': 'no-store' },
          );
        } catch (error) {
          return failure(error, 'history info');
        }
      },
    },
    {
      method: 'GET',
      path: '/api/v1/history/snapshot',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const parsed = parse(snapshotQuery, request.query);
        if (!parsed.ok) return parsed.response;
        const { time, format } = parsed.value;
        if (time > clock.now())
          return jsonError(ErrorCode.bad_request, `time ${new Date(time).toISOString()} is in the future`);
        const client = request.remoteAddress;
        const full = snapshotSlots.acquire(client);
        if (full) return slotRefusal('snapshot', full, snapshotSlots, 1, options.onRefused);
        try {
          const at = await canvasAt(store, { width, height }, projection, time, snapshots);
          const headers = {
            'x-rplace-seq': String(at.seq),
            'x-rplace-time': new Date(time).toISOString(),
            // The size in force at that instant (a resize since then does not change the answer).
            'x-rplace-width': String(at.width),
            'x-rplace-height': String(at.height),
            'cache-control': 'public, max-age=60',
          };
          if (format === 'png')
            return {
              status: 200,
              headers: { ...headers, 'content-type': 'image/png' },
              body: await encoder.png(at.canvas, at.width, at.height),
            };
          return { status: 200, headers: { ...headers, 'content-type': 'application/octet-stream' }, body: at.canvas };
        } catch (error) {
          return failure(error, 'point-in-time canvas');
        } finally {
          snapshotSlots.release(client);
        }
      },
    },
  ];
}
