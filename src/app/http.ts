/**
 * A framework-free HTTP route, so use cases (history, auth, canvas info) are written once and mounted by
 * the uWebSockets.js adapter. The adapter handles aborts, backpressure and size limits.
 */
export interface HttpRequest {
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  /** Lower-cased header names, copied out of uWS before any await. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Uint8Array;
  readonly remoteAddress: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** A whole body, or chunks streamed as they are produced (timelapses). */
  readonly body?: Uint8Array | string | AsyncIterable<Uint8Array>;
}

export interface HttpRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Exact path, e.g. `/api/v1/history/pixel`. */
  readonly path: string;
  /** Largest accepted request body in bytes (0 for none). */
  readonly maxBodyBytes?: number;
  handle(request: HttpRequest): Promise<HttpResponse>;
}

/** `{ code, message }` JSON error bodies, the same shape as the WebSocket `error` message. */
export function jsonError(status: number, code: string, message: string, extra: Record<string, unknown> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, message, ...extra }) };
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}
