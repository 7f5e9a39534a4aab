import type { ErrorCode } from '../../proto/error-codes.js';

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

/**
 * The one map from a wire error code to its HTTP status, so every route answers the same code with the same
 * status. `challenge_required` is 403: not a refusal of the caller's input, but the request must carry a
 * solved challenge. `cooldown` is 429 like any other "too soon".
 */
export const HTTP_STATUS_OF_ERROR = {
  cooldown: 429,
  invalid_coordinates: 400,
  invalid_color: 400,
  bad_request: 400,
  too_large: 413,
  unavailable: 503,
  unsupported_version: 400,
  unauthorized: 401,
  forbidden: 403,
  rate_limited: 429,
  not_found: 404,
  banned: 403,
  challenge_required: 403,
  invalid_credentials: 401,
  username_taken: 409,
  internal: 500,
} as const satisfies Record<ErrorCode, number>;

/**
 * `{ code, message }` JSON error bodies, the same shape as the WebSocket `error` message, with the status
 * from {@link HTTP_STATUS_OF_ERROR}. `status` overrides it only where HTTP itself says something more
 * precise than the code (405 for a known path with the wrong method, 503 when the server, not the caller, is
 * the bottleneck).
 */
export function jsonError(
  code: ErrorCode,
  message: string,
  extra: Record<string, unknown> = {},
  status: number = HTTP_STATUS_OF_ERROR[code],
): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code, message, ...extra }) };
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(value) };
}
