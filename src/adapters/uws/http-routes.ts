/**
 * Serves framework-free `HttpRoute`s (src/app/http.ts) and static files on a uWS app: one catch-all
 * handler dispatching on method + exact path. It copies everything it needs out of the uWS request before
 * any await, honours aborts, caps request bodies at the route's `maxBodyBytes` (413), and streams
 * `AsyncIterable` bodies with backpressure (waits for `onWritable` when uWS buffers).
 *
 * Unread responses (uWS.js 20.30, measured): `res.end(body)` copies whatever the kernel does not take into
 * uWS's own buffer, for every pipelined request: 20 sockets × 25 pipelined 4 MB responses never read took a
 * bare uWS app from 89 MB to 2.07 GB, and the edge of 45a0234 up by 520-875 MB in 3 s (`npm run bench --
 * client-bounds`; this file: +4 MB). `tryEnd` writes only what the kernel takes and leaves
 * the rest to us (we keep a reference to the body, often the shared cached canvas, and continue in
 * `onWritable`); while that response is pending, uWS parses no further request on the connection, and one
 * that arrives pipelined closes it. So a connection holds at most one response, which we already hold, and
 * uWS's 10 s HTTP timeout closes a reader that never drains it. On top, an address may have at most
 * `maxPendingPerIp` large responses unread at once (more connections each waiting on one): past it a
 * small 503 `rate_limited` with `Retry-After`, and the connection is closed.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type {
  HttpRequest as UwsRequest,
  HttpResponse as UwsResponse,
  TemplatedApp,
} from '@trufflesuite/uws-js-unofficial';
import type { HttpRequest, HttpResponse, HttpRoute } from '../../app/http.ts';
import { jsonError } from '../../app/http.ts';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { Logger } from '../logger.ts';

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  201: 'Created',
  204: 'No Content',
  301: 'Moved Permanently',
  302: 'Found',
  304: 'Not Modified',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};
const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webmanifest': 'application/manifest+json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};
/** Largest body of a route that does not state `maxBodyBytes`. */
const DEFAULT_MAX_BODY = 0;
/** Bodies at least this large count against an address's unread-response cap (smaller ones fit the kernel's buffers). */
export const LARGE_BODY_BYTES = 64 * 1024;

export interface HttpLimits {
  /** Large responses one client address may have written but not yet read, across its connections. */
  readonly maxPendingPerIp: number;
  /** The client address of a request (per-address limits): the connection's peer unless a trusted proxy says otherwise. */
  readonly clientIp?: (remoteAddress: string, header: (name: string) => string | undefined) => string;
  /** Called once per refusal, with the limit's name (metrics). */
  readonly onRefused?: (limit: string) => void;
  /** Pending responses across every address changed (metrics). */
  readonly onPending?: (pending: number) => void;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = { maxPendingPerIp: 8 };

interface RequestState {
  aborted: boolean;
  /** Resumes a streamed body waiting for uWS to drain. */
  wake?: (() => void) | undefined;
  /** The client address, and the unread-response accounting it shares with its other requests. */
  ip: string;
  pending: PendingResponses;
  /** Releases this response's pending slot (on completion or abort); at most once. */
  done?: (() => void) | undefined;
}

/** Large responses written but not yet read, per client address. */
class PendingResponses {
  readonly #byIp = new Map<string, number>();
  #total = 0;
  readonly limits: HttpLimits;

  constructor(limits: HttpLimits) {
    this.limits = limits;
  }

  full(ip: string): boolean {
    return (this.#byIp.get(ip) ?? 0) >= this.limits.maxPendingPerIp;
  }

  /** Counts a pending response; returns its release (idempotent). */
  add(ip: string): () => void {
    this.#byIp.set(ip, (this.#byIp.get(ip) ?? 0) + 1);
    this.limits.onPending?.(++this.#total);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = this.#byIp.get(ip) ?? 0;
      if (n <= 1) this.#byIp.delete(ip);
      else this.#byIp.set(ip, n - 1);
      this.limits.onPending?.(--this.#total);
    };
  }
}

export function statusLine(status: number): string {
  return `${status} ${STATUS_TEXT[status] ?? 'Status'}`;
}

export function mountHttpRoutes(
  app: TemplatedApp,
  routes: readonly HttpRoute[],
  staticDir: string,
  logger: Logger,
  limits: HttpLimits = DEFAULT_HTTP_LIMITS,
): void {
  const pending = new PendingResponses(limits);
  const table = new Map<string, HttpRoute>();
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    if (table.has(key)) throw new Error(`two HTTP routes for ${key}`);
    table.set(key, route);
  }
  const paths = new Set(routes.map((r) => r.path));

  app.any('/*', (res, req) => {
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const request = copyRequest(res, req, method, path, limits.clientIp);
    const state: RequestState = { aborted: false, ip: request.remoteAddress, pending };
    res.onAborted(() => {
      state.aborted = true;
      state.wake?.();
      state.done?.();
    });
    const route = table.get(`${method === 'HEAD' ? 'GET' : method} ${path}`);
    if (!route) {
      if ((method === 'GET' || method === 'HEAD') && !paths.has(path) && !path.startsWith('/api/')) {
        void serveStatic(res, state, staticDir, path, method === 'HEAD');
      } else {
        send(
          res,
          state,
          paths.has(path)
            ? jsonError(ErrorCode.bad_request, `${method} not allowed on ${path}`, {}, 405)
            : jsonError(ErrorCode.not_found, `no route ${method} ${path}`),
          false,
        );
      }
      return;
    }
    const limit = route.maxBodyBytes ?? DEFAULT_MAX_BODY;
    const declared = Number(request.headers['content-length'] ?? '0');
    if (declared > limit) {
      send(res, state, jsonError(ErrorCode.too_large, `request body over ${limit} bytes`), false);
      return;
    }
    const run = (body: Uint8Array | undefined) => {
      route.handle(body ? { ...request, body } : request).then(
        (response) => send(res, state, response, method === 'HEAD'),
        (error: unknown) => {
          logger.error({ err: error, path }, 'HTTP route failed');
          send(res, state, jsonError(ErrorCode.internal, 'internal error'), false);
        },
      );
    };
    if (method === 'GET' || method === 'HEAD' || method === 'DELETE') {
      run(undefined);
      return;
    }
    readBody(res, limit, state).then(run, () =>
      send(res, state, jsonError(ErrorCode.too_large, `request body over ${limit} bytes`), false),
    );
  });
}

function copyRequest(
  res: UwsResponse,
  req: UwsRequest,
  method: string,
  path: string,
  clientIp: HttpLimits['clientIp'],
): HttpRequest {
  const headers: Record<string, string> = {};
  req.forEach((key, value) => {
    headers[key] = value;
  });
  const peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  return {
    method,
    path,
    query: new URLSearchParams(req.getQuery() ?? ''),
    headers,
    remoteAddress: clientIp ? clientIp(peer, (name) => headers[name]) : peer,
  };
}

function readBody(res: UwsResponse, limit: number, state: RequestState): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    res.onData((chunk, isLast) => {
      if (failed || state.aborted) return;
      size += chunk.byteLength;
      if (size > limit) {
        failed = true;
        reject(new Error('body too large'));
        return;
      }
      chunks.push(Buffer.from(chunk.slice(0))); // uWS neuters the chunk on return: copy it
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}

/**
 * Writes a response unless the request was aborted; whole bodies go out with `tryEnd` (uWS keeps no copy of
 * what the kernel does not take, see the header), `AsyncIterable` bodies are streamed with backpressure.
 */
export function send(res: UwsResponse, state: RequestState, response: HttpResponse, headOnly: boolean): void {
  const body = response.body;
  if (state.aborted) {
    // The client left before the answer was ready: end a streamed body so it frees what it holds (a timelapse slot).
    if (body !== undefined && typeof body !== 'string' && !(body instanceof Uint8Array))
      void body[Symbol.asyncIterator]().return?.();
    return;
  }
  const writeHead = () => {
    res.writeStatus(statusLine(response.status));
    for (const [key, value] of Object.entries(response.headers ?? {})) res.writeHeader(key, value);
  };
  if (body === undefined || typeof body === 'string' || body instanceof Uint8Array) {
    const bytes = typeof body === 'string' ? Buffer.from(body) : (body ?? new Uint8Array(0));
    if (headOnly || bytes.byteLength === 0) {
      res.cork(() => {
        writeHead();
        if (headOnly) res.endWithoutBody(bytes.byteLength);
        else res.end();
      });
      return;
    }
    if (bytes.byteLength >= LARGE_BODY_BYTES && state.pending.full(state.ip)) {
      state.pending.limits.onRefused?.('http_unread_responses');
      refuseAndClose(res, state);
      return;
    }
    writeWhole(res, state, writeHead, bytes);
    return;
  }
  void streamBody(res, state, writeHead, body);
}

/** 503 with a small body and `Connection: close`: the client has too many large responses unread. */
function refuseAndClose(res: UwsResponse, state: RequestState): void {
  const busy = jsonError(
    ErrorCode.rate_limited,
    `more than ${state.pending.limits.maxPendingPerIp} large responses to your address are unread; read them, then retry`,
    {},
    503,
  );
  res.cork(() => {
    res.writeStatus(statusLine(503)).writeHeader('retry-after', '1');
    for (const [key, value] of Object.entries(busy.headers ?? {})) res.writeHeader(key, value);
    res.end(busy.body as string, true);
  });
}

function writeWhole(res: UwsResponse, state: RequestState, writeHead: () => void, bytes: Uint8Array): void {
  const total = bytes.byteLength;
  let done = false;
  res.cork(() => {
    writeHead();
    [, done] = res.tryEnd(bytes, total);
  });
  if (done) return;
  if (total >= LARGE_BODY_BYTES) state.done = state.pending.add(state.ip);
  res.onWritable((offset) => {
    if (state.aborted) return true;
    const [ok, finished] = res.tryEnd(bytes.subarray(offset), total);
    if (finished) state.done?.();
    return ok;
  });
}

async function streamBody(
  res: UwsResponse,
  state: RequestState,
  writeHead: () => void,
  body: AsyncIterable<Uint8Array>,
): Promise<void> {
  let started = false;
  res.onWritable(() => {
    state.wake?.();
    return true;
  });
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await iterator.next();
      if (state.aborted) break;
      if (next.done) {
        res.cork(() => {
          if (!started) writeHead();
          res.end();
        });
        return;
      }
      let ok = true;
      res.cork(() => {
        if (!started) writeHead();
        started = true;
        ok = res.write(next.value);
      });
      // uWS buffered the chunk: wait until it drains (or the client goes away) before producing more.
      if (!ok) await new Promise<void>((resolve) => (state.wake = resolve));
      state.wake = undefined;
      if (state.aborted) break;
    }
  } catch {
    if (!state.aborted) res.cork(() => res.close());
  }
  await iterator.return?.();
}

async function serveStatic(
  res: UwsResponse,
  state: RequestState,
  dir: string,
  path: string,
  headOnly: boolean,
): Promise<void> {
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(path === '/' ? '/index.html' : path));
  } catch {
    send(res, state, jsonError(ErrorCode.bad_request, 'bad path'), false);
    return;
  }
  const file = join(dir, relative);
  if (!file.startsWith(dir + sep) || relative.includes('\0')) {
    send(res, state, jsonError(ErrorCode.not_found, 'not found'), false);
    return;
  }
  try {
    const bytes = await readFile(file);
    const immutable = relative.startsWith(`${sep}assets${sep}`);
    send(
      res,
      state,
      {
        status: 200,
        headers: {
          'content-type': CONTENT_TYPES[extname(file)] ?? 'application/octet-stream',
          'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
        },
        body: bytes,
      },
      headOnly,
    );
  } catch {
    if (relative === `${sep}index.html`) {
      send(
        res,
        state,
        {
          status: 503,
          headers: { 'content-type': 'text/plain; charset=utf-8' },
          body: `The web client is not built: run \`npm run build:web\` (it builds into ${dir}).\n`,
        },
        headOnly,
      );
    } else {
      send(res, state, jsonError(ErrorCode.not_found, `no file ${path}`), false);
    }
  }
}
