/**
 * `GET /api/v1/history/heatmap` and `GET /api/v1/history/virgin` (docs/HISTORY-API.md): placements per pixel
 * over a range, and the pixels never placed up to an instant, as PNG (./heatmap.ts's palettes) or raw.
 * Ranges follow the export's rule (./export.ts): the events with `seqAt(from) < seq ≤ seqAt(to)`. Each
 * answer reads the packed chunks of its range once; at most `maxPerClient` run at once per client (429).
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { PaletteColor } from '../../domain/palette.ts';
import { jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import { planExport, timeBoundsOf } from './export.ts';
import { ExportSlots } from './export-routes.ts';
import type { PixelActivity, PlacementLog } from '../../ports/export.ts';
import { HEAT_PALETTE, heatIndices, maxCount, VIRGIN_PALETTE, virginIndices } from './heatmap.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { parse, storeFailure, timeParam } from './route-query.ts';

export interface ActivityRoutesOptions {
  readonly store: HistoryStore;
  readonly log: PlacementLog;
  readonly activity: PixelActivity;
  /** Encodes palette indices as a PNG (src/adapters/image/png.ts). */
  readonly png: (
    indices: Uint8Array,
    width: number,
    height: number,
    palette: readonly PaletteColor[],
  ) => Promise<Uint8Array>;
  readonly width: number;
  readonly height: number;
  readonly clock: Clock;
  readonly maxPerClient: number;
  readonly maxConcurrent: number;
  readonly onError?: (error: Error, what: string) => void;
}

export function activityRoutes(options: ActivityRoutesOptions): HttpRoute[] {
  const { store, log, activity, width, height, clock } = options;
  const slots = new ExportSlots(options.maxPerClient, options.maxConcurrent);
  const format = z.enum(['png', 'raw']).default('png');
  const heatQuery = z.object({ from: timeParam.optional(), to: timeParam.optional(), format }).strict();
  const virginQuery = z.object({ to: timeParam.optional(), format }).strict();

  async function answer(
    request: HttpRequest,
    what: 'heatmap' | 'virgin map',
    q: { from?: number; to?: number; format: 'png' | 'raw' },
  ): Promise<HttpResponse> {
    const release = slots.acquire(request.remoteAddress);
    if (!release)
      return jsonError(
        ErrorCode.rate_limited,
        `at most ${options.maxPerClient} heatmap(s) per client run at once; retry when yours has finished`,
      );
    try {
      const planned = await planExport(store, log, { width, height }, timeBoundsOf(q), clock.now());
      if (!planned.ok) return jsonError(ErrorCode.bad_request, planned.problems.join('; '));
      const { fromSeq, toSeq } = planned.plan;
      const after = what === 'heatmap' ? fromSeq : 0;
      const counts = await activity.counts(after, toSeq, width, height);
      const max = maxCount(counts);
      const headers = {
        'x-rplace-after-seq': String(after),
        'x-rplace-to-seq': String(toSeq),
        'x-rplace-width': String(width),
        'x-rplace-height': String(height),
        'x-rplace-max-count': String(max),
        'cache-control': 'public, max-age=60',
      };
      if (q.format === 'raw') {
        const body =
          what === 'heatmap'
            ? new Uint8Array(counts.buffer, counts.byteOffset, counts.byteLength)
            : virginIndices(counts);
        return { status: 200, headers: { ...headers, 'content-type': 'application/octet-stream' }, body };
      }
      const png =
        what === 'heatmap'
          ? await options.png(heatIndices(counts, max), width, height, HEAT_PALETTE)
          : await options.png(virginIndices(counts), width, height, VIRGIN_PALETTE);
      return { status: 200, headers: { ...headers, 'content-type': 'image/png' }, body: png };
    } catch (error) {
      return storeFailure(error, what, options.onError);
    } finally {
      release();
    }
  }

  const routes = [
    { path: '/api/v1/history/heatmap', schema: heatQuery, what: 'heatmap' },
    { path: '/api/v1/history/virgin', schema: virginQuery, what: 'virgin map' },
  ] as const;
  return routes.map(
    ({ path, schema, what }): HttpRoute => ({
      method: 'GET',
      path,
      maxBodyBytes: 0,
      async handle(request) {
        const q = parse(schema, request.query);
        return q.ok ? answer(request, what, q.value) : q.response;
      },
    }),
  );
}
