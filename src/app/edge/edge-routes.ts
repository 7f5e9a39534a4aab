/**
 * The edge's own HTTP routes as framework-free `HttpRoute`s (src/app/http.ts): the canvas bytes, the canvas
 * info, readiness, and a guest-only `/api/v1/auth/me` for an edge composed without accounts (the accounts
 * routes serve `/me` otherwise; the composition root picks one, the mount refuses two).
 */
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { CanvasInfo } from '../../../proto/messages.ts';
import type { CompressedCanvas, HttpEncoding } from '../../ports/compressed-canvas.ts';
import { json, jsonError, type HttpRoute } from '../http.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import type { EdgeCanvas } from '../../domain/edge/edge-canvas.ts';

export interface CanvasRoutesDeps {
  readonly canvasId: string;
  readonly info: Omit<CanvasInfo, 'seq'>;
  readonly canvas: Pick<EdgeCanvas, 'seq' | 'width' | 'height'>;
  readonly compressed: Pick<CompressedCanvas, 'http'>;
}

/** Picks gzip, then deflate, from an `Accept-Encoding` header (q=0 excluded); identity otherwise. */
export function pickEncoding(acceptEncoding: string | undefined): HttpEncoding {
  if (!acceptEncoding) return 'identity';
  const accepted = new Set<string>();
  for (const part of acceptEncoding.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    if (name && !(q && Number(q.slice(2)) === 0)) accepted.add(name.trim());
  }
  if (accepted.has('gzip') || accepted.has('*')) return 'gzip';
  if (accepted.has('deflate')) return 'deflate';
  return 'identity';
}

/**
 * `GET /api/v1/canvas` (the raw canvas, compressed as accepted, ETag = canvas id + the sequence the bytes
 * reflect, 304 on a match) and `GET /api/v1/canvas/info` (dimensions, palette, the live sequence).
 */
export function canvasRoutes(deps: CanvasRoutesDeps): HttpRoute[] {
  return [
    {
      method: 'GET',
      path: '/api/v1/canvas',
      maxBodyBytes: 0,
      handle: async (request) => {
        const encoding = pickEncoding(request.headers['accept-encoding']);
        const entry = deps.compressed.http(encoding);
        const etag = `W/"${deps.canvasId}-${entry.seq}"`;
        const headers: Record<string, string> = {
          etag,
          'cache-control': 'public, max-age=1, s-maxage=1, stale-while-revalidate=5',
          vary: 'Accept-Encoding',
          'x-rplace-seq': String(entry.seq),
          'x-canvas-width': String(entry.width),
          'x-canvas-height': String(entry.height),
          'access-control-expose-headers': 'etag, x-rplace-seq, x-canvas-width, x-canvas-height',
        };
        if ((request.headers['if-none-match'] ?? '').split(',').some((tag) => tag.trim() === etag))
          return { status: 304, headers };
        return {
          status: 200,
          headers: {
            ...headers,
            'content-type': 'application/octet-stream',
            ...(encoding === 'identity' ? {} : { 'content-encoding': encoding }),
          },
          body: entry.bytes,
        };
      },
    },
    {
      method: 'GET',
      path: '/api/v1/canvas/info',
      maxBodyBytes: 0,
      handle: async () =>
        json(
          200,
          { ...deps.info, width: deps.canvas.width, height: deps.canvas.height, seq: deps.canvas.seq },
          { 'cache-control': 'no-cache' },
        ),
    },
  ];
}

/** `GET /readyz`: 200 while `ready()` resolves true (consuming the stream, caught up, not shutting down), else 503. */
export function edgeReadyRoute(canvas: Pick<EdgeCanvas, 'seq'>, ready: () => Promise<boolean>): HttpRoute {
  return {
    method: 'GET',
    path: '/readyz',
    maxBodyBytes: 0,
    handle: async () =>
      (await ready())
        ? json(200, { status: 'ready', seq: canvas.seq }, { 'cache-control': 'no-store' })
        : json(503, { status: 'not ready', seq: canvas.seq }, { 'cache-control': 'no-store' }),
  };
}

/** Guest-only `GET /api/v1/auth/me`: mints the signed guest cookie when missing; 401 `unauthorized` without an identity. */
export function guestMeRoute(identity: IdentityProvider): HttpRoute {
  return {
    method: 'GET',
    path: '/api/v1/auth/me',
    maxBodyBytes: 0,
    handle: async (request) => {
      const who = await identity.identify(request.headers);
      if (!who) return jsonError(ErrorCode.unauthorized, 'not signed in');
      return json(
        200,
        { userId: who.identity.userId, username: null, isGuest: who.identity.isGuest },
        {
          'cache-control': 'no-store',
          ...(who.setCookie ? { 'set-cookie': who.setCookie } : {}),
        },
      );
    },
  };
}
