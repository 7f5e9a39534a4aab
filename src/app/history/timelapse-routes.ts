/**
 * The timelapse group of the history API: a region over a time range as an animated PNG, or MP4/WebM through
 * the video encoder, streamed while it is made; and its progress. A timelapse holds a canvas and streams for
 * seconds, so it takes one of a few global slots (and a client's share of them) until its body ends, fails,
 * or is dropped.
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { Slots } from '../../domain/limits.ts';
import { json, jsonError, type HttpRequest, type HttpRoute } from '../http.ts';
import { VIDEO_CONTENT_TYPES, type VideoEncoder } from '../../ports/media.ts';
import { int, parse, regionOutside, slotRefusal, timeParam, type ReplayRouteContext } from './route-query.ts';
import { timelapseFrames } from './timelapse.ts';
import { sizeOf } from './point-in-time.ts';
import { MAX_CANVAS_SIDE } from '../../domain/canvas.ts';
import { TimelapseJobs, type JobState } from './timelapse-jobs.ts';

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

export const DEFAULT_TIMELAPSE_LIMITS: TimelapseLimits = {
  maxRegionPixels: 4_000_000,
  maxFrames: 600,
  maxPixelFrames: 400_000_000,
  maxRangeMs: 31 * 86_400_000,
  maxConcurrent: 2,
  maxPerClient: 1,
};

export interface TimelapseRoutesOptions extends ReplayRouteContext {
  /** MP4/WebM; `null` when ffmpeg is not installed, and those formats are then refused with a clear 400. */
  readonly video: VideoEncoder | null;
  readonly limits: TimelapseLimits;
}

export function timelapseRoutes(options: TimelapseRoutesOptions): HttpRoute[] {
  const { store, clock, encoder, projection, video, limits, snapshots } = options;
  /** The initial size; a region is checked against the size now (the newest snapshot's: one per resize). */
  const { width, height } = options;
  const sizeNow = async () =>
    sizeOf({ width, height }, await store.latestSnapshot(Number.MAX_SAFE_INTEGER).catch(() => null));
  const jobs = new TimelapseJobs(clock, limits.maxConcurrent);
  const timelapseSlots = new Slots(limits.maxConcurrent, limits.maxPerClient);
  const refused = (why: 'busy' | 'per_key') => slotRefusal('timelapse', why, timelapseSlots, 5, options.onRefused);
  const timelapseQuery = z.object({
    from: timeParam,
    to: timeParam,
    x: int(0, MAX_CANVAS_SIDE - 1).default(0),
    y: int(0, MAX_CANVAS_SIDE - 1).default(0),
    w: int(1, MAX_CANVAS_SIDE).optional(),
    h: int(1, MAX_CANVAS_SIDE).optional(),
    fps: int(1, 60).default(10),
    duration: int(1, 600).default(10),
    format: z.enum(['apng', 'mp4', 'webm']).default('apng'),
    job: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Z a-z 0-9 _ -')
      .optional(),
  });

  return [
    {
      method: 'GET',
      path: '/api/v1/history/timelapse',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const parsed = parse(timelapseQuery, request.query);
        if (!parsed.ok) return parsed.response;
        const q = parsed.value;
        const now = await sizeNow();
        const region = { x: q.x, y: q.y, w: q.w ?? now.width - q.x, h: q.h ?? now.height - q.y };
        const frames = q.fps * q.duration;
        const problems: string[] = [];
        const outside = regionOutside(region, now);
        if (outside !== null) problems.push(outside);
        if (region.w * region.h > limits.maxRegionPixels)
          problems.push(`region has ${region.w * region.h} pixels; at most ${limits.maxRegionPixels}`);
        if (frames > limits.maxFrames) problems.push(`fps × duration = ${frames} frames; at most ${limits.maxFrames}`);
        if (region.w * region.h * frames > limits.maxPixelFrames)
          problems.push(
            `region pixels × frames = ${region.w * region.h * frames}; at most ${limits.maxPixelFrames} (use a smaller region or fewer frames)`,
          );
        if (q.to <= q.from) problems.push('to must be after from');
        if (q.to - q.from > limits.maxRangeMs)
          problems.push(`time range is over ${limits.maxRangeMs / 86_400_000} days`);
        if (q.to > clock.now()) problems.push(`to ${new Date(q.to).toISOString()} is in the future`);
        if (q.format !== 'apng' && !video)
          problems.push(`format ${q.format} needs ffmpeg, which is not installed on this server; use apng`);
        if (problems.length > 0) return jsonError(ErrorCode.bad_request, problems.join('; '));
        const client = request.remoteAddress;
        const full = timelapseSlots.acquire(client);
        if (full) return refused(full);
        const job = jobs.start(q.job, frames);
        if (!job) {
          timelapseSlots.release(client);
          return refused('busy');
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
          for await (const frame of timelapseFrames(
            store,
            { width, height },
            projection,
            span,
            controller.signal,
            snapshots,
          )) {
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
            headers: {
              ...common,
              'content-type': 'image/apng',
              'x-rplace-width': String(region.w),
              'x-rplace-height': String(region.h),
              'content-disposition': `inline; filename="timelapse-${jobId}.png"`,
            },
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
          body: releasing(
            body(video.encode(q.format, { width: region.w, height: region.h, fps: q.fps, frames }, regionFrames())),
            release,
          ),
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
        if (!job)
          return jsonError(
            ErrorCode.not_found,
            `no timelapse job ${parsed.value.job} (finished jobs are kept 10 minutes)`,
          );
        return json(200, job satisfies JobState, { 'cache-control': 'no-store' });
      },
    },
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
