/**
 * What every history route shares: query parsing (zod, bounded, a 400 naming every problem), the time
 * grammar of the API, and the answers for a failed store and for a refused slot. Statuses come from the one
 * map in ../http.ts (`jsonError(code, …)`); no route picks one by hand.
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { Slots } from '../../domain/limits.ts';
import { parseTime } from '../../domain/time.ts';
import { jsonError, type HttpResponse } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ImageEncoder } from '../../ports/media.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { HistoryStore } from '../../ports/history.ts';
import type { SnapshotCache } from '../../domain/history/snapshot-cache.ts';

/** What the route groups that replay the canvas (point-in-time, timelapse) are given. */
export interface ReplayRouteContext {
  readonly store: HistoryStore;
  readonly width: number;
  readonly height: number;
  readonly projection: string;
  readonly clock: Clock;
  readonly encoder: ImageEncoder;
  /** One cache for both groups: inflated snapshots for the time slider and the timelapses. */
  readonly snapshots: SnapshotCache;
  /** Called once per request refused by a concurrency limit, with the limit's name (metrics). */
  readonly onRefused?: (limit: string) => void;
  readonly onError?: (error: Error, what: string) => void;
}

/** An integer query parameter in [min, max]. */
export const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d{1,10}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
/** A page cursor: the `nextCursor` (a sequence) of the page before, as a number. */
export const cursorParam = z
  .string()
  .regex(/^\d{1,16}$/, 'must be the nextCursor of a previous page')
  .transform(Number);
/** A time query parameter (`parseTime`), as ms since the epoch. */
export const timeParam = z
  .string()
  .max(40)
  .transform((v, ctx) => {
    const ms = parseTime(v);
    if (ms === null) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be an ISO 8601 time with a zone (2026-04-01T12:00:00Z) or ms since the epoch',
      });
      return z.NEVER;
    }
    return ms;
  });

/** Parses a query with `schema`: the value, or a 400 naming every problem. */
export function parse<T extends z.ZodType>(
  schema: T,
  query: URLSearchParams,
): { ok: true; value: z.output<T> } | { ok: false; response: HttpResponse } {
  const result = schema.safeParse(Object.fromEntries(query));
  if (result.success) return { ok: true, value: result.data };
  const message = result.error.issues.map((i) => `${i.path.join('.') || 'query'}: ${i.message}`).join('; ');
  return { ok: false, response: jsonError(ErrorCode.bad_request, message) };
}

/** A store outage is `unavailable` (retry later); anything else is reported through `onError` and `internal`. */
export function storeFailure(
  error: unknown,
  what: string,
  onError?: (error: Error, what: string) => void,
): HttpResponse {
  if (error instanceof StoreUnavailable)
    return jsonError(ErrorCode.unavailable, 'history store is unavailable, retry later');
  onError?.(error as Error, what);
  return jsonError(ErrorCode.internal, `${what} failed`);
}

/**
 * A request refused by a concurrency limit (`Slots`): `rate_limited` when the client holds its share,
 * `unavailable` when every slot is taken; both say when to retry, in the body and in `Retry-After`.
 */
export function slotRefusal(
  what: 'snapshot' | 'timelapse',
  why: 'busy' | 'per_key',
  slots: Slots,
  retryAfterSeconds: number,
  onRefused?: (limit: string) => void,
): HttpResponse {
  onRefused?.(`${what}_${why === 'busy' ? 'slots' : 'per_client'}`);
  const response =
    why === 'per_key'
      ? jsonError(
          ErrorCode.rate_limited,
          `at most ${slots.perKey} ${what}${slots.perKey === 1 ? '' : 's'} at once per client; retry when yours is done`,
          { retryAfterSeconds },
        )
      : jsonError(
          ErrorCode.unavailable,
          `all ${slots.global} ${what} slots are busy; retry in ${retryAfterSeconds} s`,
          { retryAfterSeconds },
        );
  return { ...response, headers: { ...response.headers, 'retry-after': String(retryAfterSeconds) } };
}

/**
 * What is wrong with a region against the size in force (null: it fits), naming the parameter (`x:`, `w:` …):
 * the canvas may have grown since start-up, so regions are checked against the size of the asked instant.
 */
export function regionOutside(
  region: { readonly x: number; readonly y: number; readonly w: number; readonly h: number },
  size: { readonly width: number; readonly height: number },
): string | null {
  const canvas = `the ${size.width}×${size.height} canvas`;
  const problems: string[] = [];
  if (region.x >= size.width) problems.push(`x: ${region.x} is outside ${canvas}`);
  else if (region.w < 1 || region.x + region.w > size.width)
    problems.push(`w: ${region.w} at x ${region.x} leaves ${canvas}`);
  if (region.y >= size.height) problems.push(`y: ${region.y} is outside ${canvas}`);
  else if (region.h < 1 || region.y + region.h > size.height)
    problems.push(`h: ${region.h} at y ${region.y} leaves ${canvas}`);
  return problems.length > 0 ? problems.join('; ') : null;
}
