/**
 * The history HTTP API (documented in docs/HISTORY-API.md), as framework-free routes the edge mounts.
 * Every query is parsed with zod and bounded; failures are `{ code, message }` with 400 (bad input),
 * 404, 429 (this client already holds its share of snapshots or timelapses) or 503 (store down, or every
 * slot taken), the last two with `Retry-After`.
 *
 * Concurrency: point-in-time snapshots (each inflates a canvas and may encode a PNG) and timelapses (each
 * holds a canvas and streams for seconds) have global slots and a per-client share of them (`Slots`), so one
 * address can neither exhaust memory nor hold the whole feature.
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { PaletteColor } from '../../domain/palette.ts';
import { parseIsoTime } from '../../domain/time.ts';
import { json, jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import { userLabel } from '../../../proto/user-label.ts';
import { canvasAt } from './point-in-time.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { timelapseFrames } from './timelapse.ts';
import { TimelapseJobs, type JobState } from './timelapse-jobs.ts';
import { SnapshotCache } from './snapshot-cache.ts';
import { Slots } from '../../domain/limits.ts';
import { activityRoutes, type ActivityRoutesOptions } from './activity-routes.ts';
import { exportRoutes, type ExportRoutesOptions } from './export-routes.ts';
import type { Usernames } from './usernames.ts';

/** Encodes palette images (implemented by src/adapters/image/png.ts). */
export interface ImageEncoder {
  png(indices: Uint8Array, width: number, height: number): Promise<Uint8Array>;
  apng(width: number, height: number, frames: number, fps: number): {
    header(): Uint8Array;
    frame(indices: Uint8Array): Promise<Uint8Array>;
    end(): Uint8Array;
  };
}

export type VideoFormat = 'mp4' | 'webm';

const VIDEO_CONTENT_TYPES: Readonly<Record<VideoFormat, string>> = { mp4: 'video/mp4', webm: 'video/webm' };

/** Encodes palette frames into a video browsers play (implemented with ffmpeg by src/adapters/image/ffmpeg-video.ts). */
export interface VideoEncoder {
  /** The video's frame size for a `width × height` region (scaled up, even). */
  size(width: number, height: number): { width: number; height: number };
  /**
   * The encoded file, streamed while `frames` (each `width × height` palette indices) is consumed. Ending the
   * returned iteration early stops the encoder and frees everything it holds.
   */
  encode(format: VideoFormat, video: { width: number; height: number; fps: number; frames?: number }, frames: AsyncIterable<Uint8Array>): AsyncIterable<Uint8Array>;
}

export interface TimelapseLimits {
  /** Largest region side in pixels is the canvas; this bounds width × height. */
  readonly maxRegionPixels: number;
  readonly maxFrames: number;
  /** Bounds total work and output: region pixels × frames. */
  readonly maxPixelFrames: number;
  readonly maxRangeMs: number;
  readonly maxConcurrent: number;
  /** Timelapses one client address may run at once (its fair share of `maxConcurrent`). */
  readonly maxPerClient: number;
}

export interface SnapshotLimits {
  /** Point-in-time canvases (raw or PNG) computed at once. */
  readonly maxConcurrent: number;
  /** Of which one client address may hold this many. */
  readonly maxPerClient: number;
}

export const DEFAULT_SNAPSHOT_LIMITS: SnapshotLimits = { maxConcurrent: 4, maxPerClient: 2 };

export const DEFAULT_TIMELAPSE_LIMITS: TimelapseLimits = {
  maxRegionPixels: 4_000_000,
  maxFrames: 600,
  maxPixelFrames: 400_000_000,
  maxRangeMs: 31 * 86_400_000,
  maxConcurrent: 2,
  maxPerClient: 1,
};

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

/** A pure time parser: ISO 8601 with a zone (or `Z`) that names a real date, or integer ms since the epoch. */
export function parseTime(value: string): number | null {
  return /^\d{1,15}$/.test(value) ? Number(value) : parseIsoTime(value);
}

/** An integer query parameter in [min, max]. */
export const int = (min: number, max: number) => z.string().regex(/^-?\d{1,10}$/, 'must be an integer').transform(Number).pipe(z.number().int().min(min).max(max));
/** A time query parameter (`parseTime`), as ms since the epoch. */
export const timeParam = z.string().max(40).transform((v, ctx) => {
  const ms = parseTime(v);
  if (ms === null) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time with a zone (2026-04-01T12:00:00Z) or ms since the epoch' });
    return z.NEVER;
  }
  return ms;
});

/** Parses a query with `schema`: the value, or a 400 naming every problem. */
export function parse<T extends z.ZodType>(schema: T, query: URLSearchParams): { ok: true; value: z.output<T> } | { ok: false; response: HttpResponse } {
  const result = schema.safeParse(Object.fromEntries(query));
  if (result.success) return { ok: true, value: result.data };
  const message = result.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
  return { ok: false, response: jsonError(ErrorCode.bad_request, message) };
}

export function historyRoutes(options: HistoryRoutesOptions): HttpRoute[] {
  const { store, width, height, clock, encoder, projection } = options;
  const video = options.video ?? null;
  const limits = options.limits ?? DEFAULT_TIMELAPSE_LIMITS;
  const jobs = new TimelapseJobs(clock, limits.maxConcurrent);
  const snapshots = new SnapshotCache(options.snapshotCacheEntries ?? 8);
  const snapshotLimits = options.snapshotLimits ?? DEFAULT_SNAPSHOT_LIMITS;
  const snapshotSlots = new Slots(snapshotLimits.maxConcurrent, snapshotLimits.maxPerClient);
  const timelapseSlots = new Slots(limits.maxConcurrent, limits.maxPerClient);

  /** 429 when the client holds its share, 503 when every slot is taken; both say when to retry. */
  function refused(what: 'snapshot' | 'timelapse', why: 'busy' | 'per_key', slots: Slots, retryAfterSeconds: number): HttpResponse {
    options.onRefused?.(`${what}_${why === 'busy' ? 'slots' : 'per_client'}`);
    const response = why === 'per_key'
      ? jsonError(ErrorCode.rate_limited, `at most ${slots.perKey} ${what}${slots.perKey === 1 ? '' : 's'} at once per client; retry when yours is done`, { retryAfterSeconds })
      : jsonError(ErrorCode.unavailable, `all ${slots.global} ${what} slots are busy; retry in ${retryAfterSeconds} s`, { retryAfterSeconds });
    return { ...response, headers: { ...response.headers, 'retry-after': String(retryAfterSeconds) } };
  }

  function failure(error: unknown, what: string): HttpResponse {
    if (error instanceof StoreUnavailable) return jsonError(ErrorCode.unavailable, 'history store is unavailable, retry later');
    options.onError?.(error as Error, what);
    return jsonError(ErrorCode.internal, `${what} failed`);
  }

  function notFuture(time: number, label: string): HttpResponse | null {
    if (time > clock.now()) return jsonError(ErrorCode.bad_request, `${label} ${new Date(time).toISOString()} is in the future`);
    return null;
  }

  const snapshotQuery = z.object({ time: timeParam, format: z.enum(['raw', 'png']).default('raw') });
  const pixelQuery = z.object({
    x: int(0, width - 1),
    y: int(0, height - 1),
    limit: int(1, 100).default(50),
    cursor: z.string().regex(/^\d{1,16}$/, 'must be the nextCursor of a previous page').transform(Number).optional(),
  });
  const timelapseQuery = z.object({
    from: timeParam,
    to: timeParam,
    x: int(0, width - 1).default(0),
    y: int(0, height - 1).default(0),
    w: int(1, width).optional(),
    h: int(1, height).optional(),
    fps: int(1, 60).default(10),
    duration: int(1, 600).default(10),
    format: z.enum(['apng', 'mp4', 'webm']).default('apng'),
    job: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -').optional(),
  });

  return [
    {
      method: 'GET',
      path: '/api/v1/history/info',
      maxBodyBytes: 0,
      async handle() {
        try {
          const summary = await store.summary(projection);
          return json(200, { width, height, ...summary, limits, formats: video ? ['apng', 'mp4', 'webm'] : ['apng'] }, { 'cache-control': 'no-store' });
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
        const future = notFuture(time, 'time');
        if (future) return future;
        const client = request.remoteAddress;
        const full = snapshotSlots.acquire(client);
        if (full) return refused('snapshot', full, snapshotSlots, 1);
        try {
          const at = await canvasAt(store, { width, height }, projection, time, snapshots);
          const headers = {
            'x-rplace-seq': String(at.seq),
            'x-rplace-time': new Date(time).toISOString(),
            'x-rplace-width': String(width),
            'x-rplace-height': String(height),
            'cache-control': 'public, max-age=60',
          };
          if (format === 'png') return { status: 200, headers: { ...headers, 'content-type': 'image/png' }, body: await encoder.png(at.canvas, width, height) };
          return { status: 200, headers: { ...headers, 'content-type': 'application/octet-stream' }, body: at.canvas };
        } catch (error) {
          return failure(error, 'point-in-time canvas');
        } finally {
          snapshotSlots.release(client);
        }
      },
    },
    {
      method: 'GET',
      path: '/api/v1/history/pixel',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const parsed = parse(pixelQuery, request.query);
        if (!parsed.ok) return parsed.response;
        const { x, y, limit, cursor } = parsed.value;
        try {
          const rows = await store.pixelHistory(x, y, cursor ?? Number.MAX_SAFE_INTEGER, limit + 1);
          const page = rows.slice(0, limit);
          const last = page[page.length - 1];
          const labels = await (options.usernames?.labels(page.map((p) => p.userId)) ?? new Map<string, string | null>());
          return json(200, {
            x, y,
            placements: page.map((p) => ({ seq: p.seq, color: p.color, userId: p.userId, username: labels.get(p.userId) ?? userLabel(p.userId, null), placedAt: new Date(p.placedAt).toISOString(), kind: p.kind === 2 ? 'restored' : 'placed' })),
            nextCursor: rows.length > limit && last ? String(last.seq) : null,
          });
        } catch (error) {
          return failure(error, 'pixel history');
        }
      },
    },
    {
      method: 'GET',
      path: '/api/v1/history/timelapse',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const parsed = parse(timelapseQuery, request.query);
        if (!parsed.ok) return parsed.response;
        const q = parsed.value;
        const region = { x: q.x, y: q.y, w: q.w ?? width - q.x, h: q.h ?? height - q.y };
        const frames = q.fps * q.duration;
        const problems: string[] = [];
        if (region.x + region.w > width || region.y + region.h > height) problems.push(`region ${region.w}×${region.h} at (${region.x},${region.y}) leaves the ${width}×${height} canvas`);
        if (region.w * region.h > limits.maxRegionPixels) problems.push(`region has ${region.w * region.h} pixels; at most ${limits.maxRegionPixels}`);
        if (frames > limits.maxFrames) problems.push(`fps × duration = ${frames} frames; at most ${limits.maxFrames}`);
        if (region.w * region.h * frames > limits.maxPixelFrames) problems.push(`region pixels × frames = ${region.w * region.h * frames}; at most ${limits.maxPixelFrames} (use a smaller region or fewer frames)`);
        if (q.to <= q.from) problems.push('to must be after from');
        if (q.to - q.from > limits.maxRangeMs) problems.push(`time range is over ${limits.maxRangeMs / 86_400_000} days`);
        if (q.to > clock.now()) problems.push(`to ${new Date(q.to).toISOString()} is in the future`);
        if (q.format !== 'apng' && !video) problems.push(`format ${q.format} needs ffmpeg, which is not installed on this server; use apng`);
        if (problems.length > 0) return jsonError(ErrorCode.bad_request, problems.join('; '));
        const client = request.remoteAddress;
        const full = timelapseSlots.acquire(client);
        if (full) return refused('timelapse', full, timelapseSlots, 5);
        const job = jobs.start(q.job, frames);
        if (!job) {
          timelapseSlots.release(client);
          return refused('timelapse', 'busy', timelapseSlots, 5);
        }
        const jobId = job.id;
        // Runs once, whether the body was streamed to its end, failed, or dropped before its first chunk
        // (a generator's `finally` does not run when it never started).
        let released = false;
        const release = () => {
          if (released) return;
          released = true;
          timelapseSlots.release(client);
          if (jobs.get(jobId)?.state === 'running') jobs.finish(jobId, 'cancelled');
          controller.abort();
        };
        const controller = new AbortController();
        const span = { from: q.from, to: q.to, frames, region };
        // Progress counts frames the encoder has taken: the next one is asked for when the last is done.
        async function* regionFrames(): AsyncGenerator<Uint8Array> {
          for await (const frame of timelapseFrames(store, { width, height }, projection, span, controller.signal, snapshots)) {
            yield frame.pixels;
            jobs.progress(jobId, frame.index + 1);
          }
        }
        async function* apng(): AsyncGenerator<Uint8Array> {
          const writer = encoder.apng(region.w, region.h, frames, q.fps);
          yield writer.header();
          for await (const pixels of regionFrames()) yield await writer.frame(pixels);
          yield writer.end();
        }
        async function* body(encoded: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
          try {
            yield* encoded;
            jobs.finish(jobId, 'done');
          } catch (error) {
            jobs.finish(jobId, 'failed', (error as Error).message);
            options.onError?.(error as Error, 'timelapse');
            throw error;
          } finally {
            // A client that disconnects stops the generator (return(), passed on to the encoder), which lands here.
            release();
          }
        }
        const common = { 'x-rplace-frames': String(frames), 'x-rplace-job': jobId, 'cache-control': 'no-store' };
        if (q.format === 'apng' || !video) {
          return {
            status: 200,
            headers: { ...common, 'content-type': 'image/apng', 'x-rplace-width': String(region.w), 'x-rplace-height': String(region.h), 'content-disposition': `inline; filename="timelapse-${jobId}.png"` },
            body: releasing(body(apng()), release),
          };
        }
        const size = video.size(region.w, region.h);
        return {
          status: 200,
          headers: {
            ...common,
            'content-type': VIDEO_CONTENT_TYPES[q.format],
            'x-rplace-width': String(size.width),
            'x-rplace-height': String(size.height),
            'content-disposition': `inline; filename="timelapse-${jobId}.${q.format}"`,
          },
          body: releasing(body(video.encode(q.format, { width: region.w, height: region.h, fps: q.fps, frames }, regionFrames())), release),
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/history/timelapse/progress',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const parsed = parse(z.object({ job: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) }), request.query);
        if (!parsed.ok) return parsed.response;
        const job = jobs.get(parsed.value.job);
        if (!job) return jsonError(ErrorCode.not_found, `no timelapse job ${parsed.value.job} (finished jobs are kept 10 minutes)`);
        return json(200, job satisfies JobState, { 'cache-control': 'no-store' });
      },
    },
    ...(options.export ? exportRoutes(options.export) : []),
    ...(options.activity ? activityRoutes(options.activity) : []),
  ];
}

/** `body`, calling `release` once when it ends, fails or is returned early, even before it started. */
function releasing(body: AsyncIterable<Uint8Array>, release: () => void): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator]() {
      const inner = body[Symbol.asyncIterator]();
      return {
        async next() {
          try {
            const result = await inner.next();
            if (result.done) release();
            return result;
          } catch (error) {
            release();
            throw error;
          }
        },
        async return() {
          try {
            return (await inner.return?.()) ?? { done: true as const, value: undefined };
          } finally {
            release();
          }
        },
      };
    },
  };
}
