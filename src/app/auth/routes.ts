/**
 * The account HTTP API as framework-free routes (mounted by the edge's uWS adapter):
 * `POST /api/v1/auth/register`, `POST /api/v1/auth/login`, `POST /api/v1/auth/logout`, `GET /api/v1/auth/me`.
 * Every POST is CSRF-checked (see origin.ts); every body is bounded and zod-validated; every refusal is a
 * `{ code, message }` body with a code from proto/error-codes.ts.
 */
import { ErrorCode } from '../../../proto/error-codes.ts';
import { json, jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import type { Accounts, Refusal, SignedIn } from './accounts.ts';
import { checkCsrf, type OriginPolicy } from '../../domain/auth/origin.ts';
import { MAX_AUTH_BODY_BYTES } from './schemas.ts';
import { clearedSessionCookie, sessionCookie, type SessionCookies } from './sessions.ts';

export interface AuthRoutesDeps {
  readonly accounts: Accounts;
  readonly origins: OriginPolicy;
  /** Always mark the cookie Secure (set when the edge is served over TLS, directly or behind a proxy). */
  readonly cookieSecure: boolean;
  readonly sessionTtlSeconds: number;
  /** Signs the session cookie and checks its MAC before any session lookup. */
  readonly cookies: SessionCookies;
  /** The guest identity (the edge's signed guest cookie) answered by `me` without a session; it may mint the cookie. */
  readonly guest?: IdentityProvider;
}

function refusal(r: Refusal): HttpResponse {
  const response = jsonError(
    r.code,
    r.message,
    r.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: r.retryAfterSeconds },
  );
  return r.retryAfterSeconds === undefined
    ? response
    : { ...response, headers: { ...response.headers, 'retry-after': String(r.retryAfterSeconds) } };
}

function parseBody(request: HttpRequest): { ok: true; value: unknown } | { ok: false; response: HttpResponse } {
  const body = request.body ?? new Uint8Array();
  if (body.length > MAX_AUTH_BODY_BYTES)
    return { ok: false, response: jsonError(ErrorCode.too_large, `body over ${MAX_AUTH_BODY_BYTES} bytes`) };
  try {
    return { ok: true, value: JSON.parse(Buffer.from(body).toString('utf8')) as unknown };
  } catch {
    return {
      ok: false,
      response: jsonError(ErrorCode.bad_request, 'body must be JSON: {"username": "...", "password": "..."}'),
    };
  }
}

export function createAuthRoutes(deps: AuthRoutesDeps): HttpRoute[] {
  const secure = (request: HttpRequest) => deps.cookieSecure || request.headers['x-forwarded-proto'] === 'https';
  const noStore = { 'cache-control': 'no-store' };

  const signedIn = (request: HttpRequest, status: number, result: SignedIn): HttpResponse =>
    json(
      status,
      { success: true, userId: result.session.userId, username: result.session.username, isGuest: false },
      {
        ...noStore,
        'set-cookie': sessionCookie(deps.cookies, result.sessionId, {
          secure: secure(request),
          maxAgeSeconds: deps.sessionTtlSeconds,
        }),
      },
    );

  const credentialsRoute = (path: string, status: number, run: Accounts['login']): HttpRoute => ({
    method: 'POST',
    path,
    maxBodyBytes: MAX_AUTH_BODY_BYTES,
    async handle(request) {
      const csrf = checkCsrf(deps.origins, request.headers);
      if (csrf !== null) return jsonError(ErrorCode.forbidden, csrf);
      const body = parseBody(request);
      if (!body.ok) return body.response;
      const result = await run(body.value, request.remoteAddress, deps.cookies.idFrom(request.headers['cookie']));
      return result.ok ? signedIn(request, status, result) : refusal(result);
    },
  });

  return [
    credentialsRoute('/api/v1/auth/register', 201, deps.accounts.register),
    credentialsRoute('/api/v1/auth/login', 200, deps.accounts.login),
    {
      method: 'POST',
      path: '/api/v1/auth/logout',
      maxBodyBytes: MAX_AUTH_BODY_BYTES,
      async handle(request) {
        const csrf = checkCsrf(deps.origins, request.headers);
        if (csrf !== null) return jsonError(ErrorCode.forbidden, csrf);
        const sessionId = deps.cookies.idFrom(request.headers['cookie']);
        if (sessionId !== undefined) await deps.accounts.logout(sessionId);
        return json(200, { success: true }, { ...noStore, 'set-cookie': clearedSessionCookie(secure(request)) });
      },
    },
    {
      method: 'GET',
      path: '/api/v1/auth/me',
      maxBodyBytes: 0,
      async handle(request) {
        const sessionId = deps.cookies.idFrom(request.headers['cookie']);
        const session = sessionId === undefined ? null : await deps.accounts.session(sessionId);
        if (session !== null)
          return json(200, { userId: session.userId, username: session.username, isGuest: false }, noStore);
        const who = await deps.guest?.identify(request.headers);
        return json(
          200,
          { userId: who?.identity.userId ?? null, username: null, isGuest: true },
          { ...noStore, ...(who?.setCookie ? { 'set-cookie': who.setCookie } : {}) },
        );
      },
    },
  ];
}
