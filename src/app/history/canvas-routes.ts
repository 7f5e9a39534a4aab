/**
 * `GET /api/v1/history/canvas` (docs/HISTORY-API.md): the canvas at an instant (`time`) or after a stream
 * sequence (`seq`), or a region of it, as palette indices in the live canvas's layout (row-major, one byte
 * per pixel, `w × h` bytes), gzipped when the client accepts it. The web client's time slider draws these
 * with the palette it already has: no PNG is encoded per step on the server nor decoded in the browser.
 *
 * Caching: the canvas after sequence S is a function of the immutable stream, so an answer by `seq` is
 * `immutable`, and every answer carries the ETag `"<seq>:<x>.<y>.<w>x<h>"` (no commas: If-None-Match is a comma list) (a 304 when it matches). An
 * answer by `time` is revalidated (`no-cache`): events placed at or before a recent instant may still be
 * arriving. Computed canvases are kept in a small LRU by sequence (bounded by `maxCanvases`), compressed
 * bodies in another (bounded in bytes), so dragging back over steps already seen costs a copy.
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import { MAX_CANVAS_SIDE, replay } from '../../domain/canvas.ts';
import { Slots } from '../../domain/limits.ts';
import type { Region } from '../../domain/region.ts';
import { jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import type { Clock } from '../../ports/clock.ts';
import type { HistoryStore } from '../../ports/history.ts';
import { canvasAt, cropRegion, sizeOf, snapshotCanvas } from './point-in-time.ts';

/** A canvas with the size in force at its sequence. */
interface SizedCanvas {
  readonly canvas: Uint8Array;
  readonly width: number;
  readonly height: number;
}
import { int, parse, regionOutside, slotRefusal, storeFailure, timeParam } from './route-query.ts';

/** The snapshot LRU the other history routes share (the one `canvasAt` takes). */
export type SnapshotCacheLike = NonNullable<Parameters<typeof canvasAt>[4]>;

export interface CanvasIndexRoutesOptions {
  readonly store: HistoryStore;
  readonly width: number;
  readonly height: number;
  readonly projection: string;
  readonly clock: Clock;
  readonly snapshots?: SnapshotCacheLike;
  /** Canvases computed at once (global) and per client address; beyond them 503 / 429 with Retry-After. */
  readonly maxConcurrent?: number;
  readonly maxPerClient?: number;
  /** Whole canvases kept by sequence (each width × height bytes; default 4). */
  readonly maxCanvases?: number;
  /** Bytes of compressed bodies kept (default 32 MiB). */
  readonly maxCompressedBytes?: number;
  /** Called once per request refused by a concurrency limit, with the limit's name (metrics). */
  readonly onRefused?: (limit: string) => void;
  readonly onError?: (error: Error, what: string) => void;
}

type Encoding = 'gzip' | 'identity';

/** Picks gzip when `accept-encoding` lists it (or `*`) without `q=0`. */
export function acceptsGzip(header: string | undefined): boolean {
  for (const part of (header ?? '').toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    const refused = params.some((p) => /^\s*q=0(\.0*)?\s*$/.test(p));
    if ((name === 'gzip' || name === '*') && !refused) return true;
  }
  return false;
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  // The web-standard stream (a global in Node and browsers): the app layer stays free of node:zlib.
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A Map used as an LRU, bounded by a size function. */
class Lru<K, V> {
  private readonly map = new Map<K, V>();
  private used = 0;
  private readonly max: number;
  private readonly sizeOf: (v: V) => number;
  constructor(max: number, sizeOf: (v: V) => number) {
    this.max = max;
    this.sizeOf = sizeOf;
  }
  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }
  set(key: K, value: V): void {
    const size = this.sizeOf(value);
    if (size > this.max) return;
    const old = this.map.get(key);
    if (old !== undefined) this.used -= this.sizeOf(old);
    this.map.delete(key);
    this.map.set(key, value);
    this.used += size;
    for (const [k, v] of this.map) {
      if (this.used <= this.max) break;
      this.map.delete(k);
      this.used -= this.sizeOf(v);
    }
  }
}

export function canvasIndexRoutes(options: CanvasIndexRoutesOptions): HttpRoute[] {
  const { store, projection, clock } = options;
  /** The initial size (the answer's own size is the one in force at its sequence). */
  const spec = { width: options.width, height: options.height };
  const slots = new Slots(options.maxConcurrent ?? 4, options.maxPerClient ?? 2);
  const canvases = new Lru<number, SizedCanvas>(options.maxCanvases ?? 4, () => 1);
  const compressed = new Lru<string, Uint8Array>(options.maxCompressedBytes ?? 32 * 1024 * 1024, (b) => b.length);
  const query = z
    .object({
      time: timeParam.optional(),
      seq: int(0, Number.MAX_SAFE_INTEGER).optional(),
      // Checked against the size in force at the asked instant below (the canvas may have grown since).
      x: int(0, MAX_CANVAS_SIDE - 1).default(0),
      y: int(0, MAX_CANVAS_SIDE - 1).default(0),
      w: int(1, MAX_CANVAS_SIDE).optional(),
      h: int(1, MAX_CANVAS_SIDE).optional(),
      /** `identity` overrides Accept-Encoding: on a fast link gzip costs more than the bytes it saves. */
      encoding: z.enum(['gzip', 'identity']).optional(),
    })
    .strict();

  /**
   * The whole canvas after `seq` (the newest snapshot at or before it plus the events up to it), with the size
   * in force there (the snapshot's: the projector snapshots at every resize).
   */
  async function canvasAfter(seq: number): Promise<SizedCanvas> {
    const cached = canvases.get(seq);
    if (cached) return cached;
    const snap = await store.latestSnapshot(seq);
    const [canvas, tail] = await Promise.all([
      snapshotCanvas(store, spec, snap, options.snapshots),
      store.tail(snap?.seq ?? 0, seq, Number.POSITIVE_INFINITY),
    ]);
    const size = sizeOf(spec, snap);
    replay(canvas, size.width, tail.changes);
    const sized = { canvas, ...size };
    canvases.set(seq, sized);
    return sized;
  }

  async function answer(request: HttpRequest, q: z.output<typeof query>): Promise<HttpResponse> {
    const problems: string[] = [];
    if ((q.time === undefined) === (q.seq === undefined)) problems.push('give exactly one of time and seq');
    if (q.time !== undefined && q.time > clock.now())
      problems.push(`time ${new Date(q.time).toISOString()} is in the future`);
    if (problems.length > 0) return jsonError(ErrorCode.bad_request, problems.join('; '));
    let seq: number;
    let sized: SizedCanvas;
    if (q.seq !== undefined) {
      const position = await store.position(projection);
      if (q.seq > position)
        return jsonError(ErrorCode.not_found, `seq ${q.seq} is not in the history yet (it holds up to ${position})`);
      seq = q.seq;
      sized = await canvasAfter(seq);
    } else {
      const at = await canvasAt(store, spec, projection, q.time as number, options.snapshots);
      seq = at.seq;
      sized = canvases.get(seq) ?? { canvas: at.canvas, width: at.width, height: at.height };
      canvases.set(seq, sized);
    }
    const { canvas, width, height } = sized;
    const region: Region = { x: q.x, y: q.y, w: q.w ?? width - q.x, h: q.h ?? height - q.y };
    const outside = regionOutside(region, sized);
    if (outside !== null) return jsonError(ErrorCode.bad_request, `${outside} (its size at seq ${seq})`);
    const tag = `"${seq}:${region.x}.${region.y}.${region.w}x${region.h}"`;
    const headers: Record<string, string> = {
      etag: tag,
      vary: 'Accept-Encoding',
      'cache-control': q.seq !== undefined ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-rplace-seq': String(seq),
      'x-rplace-x': String(region.x),
      'x-rplace-y': String(region.y),
      'x-rplace-width': String(region.w),
      'x-rplace-height': String(region.h),
      'access-control-expose-headers': 'etag, x-rplace-seq, x-rplace-x, x-rplace-y, x-rplace-width, x-rplace-height',
    };
    if ((request.headers['if-none-match'] ?? '').split(',').some((t) => t.trim() === tag || t.trim() === `W/${tag}`))
      return { status: 304, headers };
    const whole = region.w === width && region.h === height;
    const raw = whole ? canvas : cropRegion(canvas, width, region);
    const encoding: Encoding =
      q.encoding === 'identity' || !acceptsGzip(request.headers['accept-encoding']) ? 'identity' : 'gzip';
    if (encoding === 'identity')
      return { status: 200, headers: { ...headers, 'content-type': 'application/octet-stream' }, body: raw };
    let body = compressed.get(tag);
    if (!body) {
      body = await gzip(raw);
      compressed.set(tag, body);
    }
    return {
      status: 200,
      headers: { ...headers, 'content-type': 'application/octet-stream', 'content-encoding': encoding },
      body,
    };
  }

  return [
    {
      method: 'GET',
      path: '/api/v1/history/canvas',
      maxBodyBytes: 0,
      async handle(request: HttpRequest) {
        const q = parse(query, request.query);
        if (!q.ok) return q.response;
        const client = request.remoteAddress;
        const full = slots.acquire(client);
        // Counted as snapshots (the metric's limit names): each is one point-in-time canvas.
        if (full) return slotRefusal('snapshot', full, slots, 1, options.onRefused);
        try {
          return await answer(request, q.value);
        } catch (error) {
          return storeFailure(error, 'history canvas', options.onError);
        } finally {
          slots.release(client);
        }
      },
    },
  ];
}
