/**
 * The pixel group of the history API: one pixel's placements, newest first, paged by sequence
 * (`nextCursor`), each labelled with its username when known.
 */
import { z } from 'zod';
import { userLabel } from '../../../proto/user-label.ts';
import { json, type HttpRequest, type HttpRoute } from '../http.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { cursorParam, int, parse, storeFailure } from './route-query.ts';
import type { Usernames } from './usernames.ts';

export interface PixelRouteOptions {
  readonly store: HistoryStore;
  readonly width: number;
  readonly height: number;
  /** Resolves `userId`s to the `username` of each placement; without it guests are still labelled. */
  readonly usernames?: Usernames;
  readonly onError?: (error: Error, what: string) => void;
}

export function pixelRoutes(options: PixelRouteOptions): HttpRoute[] {
  const { store, width, height } = options;
  const failure = (error: unknown, what: string) => storeFailure(error, what, options.onError);
  const pixelQuery = z.object({
    x: int(0, width - 1),
    y: int(0, height - 1),
    limit: int(1, 100).default(50),
    cursor: cursorParam.optional(),
  });
  return [
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
          const labels = await (options.usernames?.labels(page.map((p) => p.userId)) ??
            new Map<string, string | null>());
          return json(200, {
            x,
            y,
            placements: page.map((p) => ({
              seq: p.seq,
              color: p.color,
              userId: p.userId,
              username: labels.get(p.userId) ?? userLabel(p.userId, null),
              placedAt: new Date(p.placedAt).toISOString(),
              kind: p.kind === 2 ? 'restored' : 'placed',
            })),
            nextCursor: rows.length > limit && last ? String(last.seq) : null,
          });
        } catch (error) {
          return failure(error, 'pixel history');
        }
      },
    },
  ];
}
