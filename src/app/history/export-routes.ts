/**
 * `GET /api/v1/history/export` (docs/HISTORY-API.md): every placement of a range as CSV (Reddit's r/place
 * shape), NDJSON or Parquet, optionally gzipped, streamed with backpressure. User ids are always salted
 * hashes here (raw ids are for operators, through `rplace export --raw-user-ids`); without a salt configured
 * the route answers 503. Concurrent exports are limited per client address and in total (429 beyond).
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { PaletteColor } from '../../domain/palette.ts';
import { jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import { type ExportGzip, exportBytes, planExport, timeBoundsOf } from './export.ts';
import { colorHexes, EXPORT_FORMATS, type ExportFormat } from '../../domain/history/export-format.ts';
import { saltedUserKey } from './user-key.ts';
import type { ParquetEncoder, PlacementLog } from '../../ports/export.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { int, parse, storeFailure, timeParam } from './route-query.ts';

export interface ExportRoutesOptions {
  readonly store: HistoryStore;
  readonly log: PlacementLog;
  readonly parquet: ParquetEncoder;
  /** Gzips a body (src/adapters/gzip-stream.ts), or each worker's run at that level. */
  readonly gzip: ExportGzip;
  readonly width: number;
  readonly height: number;
  readonly palette: readonly PaletteColor[];
  readonly clock: Clock;
  /** The secret salt of published user ids; `null`: exports are refused (503) rather than leak raw ids. */
  readonly userSalt: string | null;
  readonly maxPerClient: number;
  readonly maxConcurrent: number;
  /** Used for the download's file name. */
  readonly canvasId: string;
  readonly onError?: (error: Error, what: string) => void;
}

const CONTENT_TYPES: Readonly<Record<ExportFormat, string>> = {
  csv: 'text/csv; charset=utf-8',
  ndjson: 'application/x-ndjson',
  parquet: 'application/vnd.apache.parquet',
};

/** An export whose response never started streaming (the client left first) frees its slot after this. */
const UNSTARTED_SLOT_MS = 30_000;

/** Counts running exports per client and in total. */
export class ExportSlots {
  private readonly perClient = new Map<string, number>();
  private total = 0;
  private readonly maxPerClient: number;
  private readonly maxTotal: number;
  constructor(maxPerClient: number, maxTotal: number) {
    this.maxPerClient = maxPerClient;
    this.maxTotal = maxTotal;
  }
  /** A release function, or null when the client (or the server) is at its limit. */
  acquire(client: string): (() => void) | null {
    const mine = this.perClient.get(client) ?? 0;
    if (mine >= this.maxPerClient || this.total >= this.maxTotal) return null;
    this.perClient.set(client, mine + 1);
    this.total++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    };
  }
}

export function exportRoutes(options: ExportRoutesOptions): HttpRoute[] {
  const { store, log, width, height, clock } = options;
  const colorHex = colorHexes(options.palette);
  const slots = new ExportSlots(options.maxPerClient, options.maxConcurrent);
  const userKey = options.userSalt === null ? null : saltedUserKey(options.userSalt);
  const query = z
    .object({
      from: timeParam.optional(),
      to: timeParam.optional(),
      format: z.enum(EXPORT_FORMATS).default('csv'),
      compress: z.enum(['none', 'gzip']).default('none'),
      x: int(0, width - 1).optional(),
      y: int(0, height - 1).optional(),
      w: int(1, width).optional(),
      h: int(1, height).optional(),
      after_seq: z
        .string()
        .regex(/^\d{1,15}$/, 'must be a sequence number')
        .transform(Number)
        .optional(),
    })
    .strict();

  return [
    {
      method: 'GET',
      path: '/api/v1/history/export',
      maxBodyBytes: 0,
      async handle(request: HttpRequest): Promise<HttpResponse> {
        const parsed = parse(query, request.query);
        if (!parsed.ok) return parsed.response;
        const q = parsed.value;
        if (!userKey)
          return jsonError(
            ErrorCode.unavailable,
            'dataset export is not configured on this server (EXPORT_USER_SALT is unset)',
          );
        const hasRegion = q.x !== undefined || q.y !== undefined || q.w !== undefined || q.h !== undefined;
        const x = q.x ?? 0,
          y = q.y ?? 0;
        const region = hasRegion ? { x, y, w: q.w ?? width - x, h: q.h ?? height - y } : undefined;
        const slot = slots.acquire(request.remoteAddress);
        if (!slot)
          return jsonError(
            ErrorCode.rate_limited,
            `at most ${options.maxPerClient} export(s) per client and ${options.maxConcurrent} in all run at once; retry when yours has finished`,
          );
        const release: () => void = slot;
        let handedOver = false;
        try {
          const planned = await planExport(
            store,
            log,
            { width, height },
            {
              ...timeBoundsOf(q),
              ...(q.after_seq === undefined ? {} : { afterSeq: q.after_seq }),
              ...(region ? { region } : {}),
            },
            clock.now(),
          );
          if (!planned.ok) return jsonError(ErrorCode.bad_request, planned.problems.join('; '));
          const { plan } = planned;
          const gzip = q.compress === 'gzip';
          const encoded = exportBytes(log, plan, {
            format: q.format,
            userKey,
            userSalt: options.userSalt,
            colorHex,
            parquet: options.parquet,
            ...(gzip ? { gzip: options.gzip } : {}),
          });
          const unstarted = setTimeout(release, UNSTARTED_SLOT_MS);
          unstarted.unref?.();
          async function* body(): AsyncGenerator<Uint8Array> {
            clearTimeout(unstarted);
            try {
              yield* encoded;
            } catch (error) {
              options.onError?.(error as Error, 'export');
              throw error;
            } finally {
              // Also reached when the client disconnects: the adapter ends the iteration, which ends the read.
              release();
            }
          }
          handedOver = true;
          const name = `rplace-${options.canvasId}-${plan.startSeq + 1}-${plan.toSeq}.${q.format}${gzip ? '.gz' : ''}`;
          return {
            status: 200,
            headers: {
              'content-type': gzip ? 'application/gzip' : CONTENT_TYPES[q.format],
              'content-disposition': `attachment; filename="${name}"`,
              'x-rplace-after-seq': String(plan.startSeq),
              'x-rplace-to-seq': String(plan.toSeq),
              'cache-control': 'no-store',
            },
            body: body(),
          };
        } catch (error) {
          return storeFailure(error, 'export', options.onError);
        } finally {
          if (!handedOver) release();
        }
      },
    },
  ];
}
