/**
 * The moderator HTTP API, `/api/v1/mod/…`, as framework-free routes (mounted by the edge with the auth routes).
 *
 * Every request is re-checked from its session: the signed session cookie → the session (Redis) → the
 * moderator role (Postgres, read per request: a revoke takes effect on the very next request). A guest, a
 * player, a logged-out or revoked moderator gets 403 `forbidden` on EVERY route, before its body is read.
 * POSTs are CSRF-checked like the auth routes. Bodies are bounded (`MAX_MOD_BODY_BYTES`) and zod-validated;
 * regions are clipped to the canvas and bounded (`MAX_REGION_PIXELS`) so a preview's images stay small; a
 * selection is a region, a user (their placements anywhere), or both.
 *
 *   GET  /api/v1/mod/me                          200 { userId, username } for a moderator
 *   POST /api/v1/mod/survey   Selection          who placed there: users, counts, first/last times
 *   POST /api/v1/mod/preview  Selection          { pixels, beforePng, afterPng (base64) }
 *   POST /api/v1/mod/apply    { selection, idempotencyKey }   the rollback, as compensating events
 *   POST /api/v1/mod/ban      { user, mode: ban|shadow, idempotencyKey }
 *   POST /api/v1/mod/unban    { user, idempotencyKey }
 *   GET  /api/v1/mod/audit?limit=N               moderator actions, newest first (N ≤ 200)
 */
import type { Region } from '../../domain/region.ts';
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { SessionCookies } from '../auth/sessions.ts';
import { checkCsrf, type OriginPolicy } from '../../domain/auth/origin.ts';
import type { SessionStore, UserStore } from '../../ports/auth.ts';
import { json, jsonError, type HttpRequest, type HttpResponse, type HttpRoute } from '../http.ts';
import { LogUnavailable, StoreUnavailable } from '../../ports/errors.ts';
import { ConsoleBusy, PreviewTooLarge, type ModeratorConsole, type Selection } from './console.ts';
import type { ModeratorRoles } from '../../ports/moderation.ts';
import { userIdOf } from '../auth/user-ref.ts';

export const MAX_MOD_BODY_BYTES = 4_096;
/** 1024 × 1024: a preview is two PNGs of the region, and a survey's pixel set is bounded by it too. */
export const MAX_REGION_PIXELS = 1 << 20;
const MAX_AUDIT = 200;

const Time = z.number().int().min(0).max(8.64e15);
const SelectionBody = z.strictObject({
  /** Optional only with `user`: then that user's placements anywhere. */
  region: z
    .strictObject({
      x: z.number().int().min(0),
      y: z.number().int().min(0),
      width: z.number().int().min(1),
      height: z.number().int().min(1),
    })
    .optional(),
  since: Time,
  until: Time.optional(),
  /** A username or a user id: only that user's placements. */
  user: z.string().min(1).max(64).optional(),
});
const Key = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'idempotencyKey: 8 to 64 of A-Z a-z 0-9 _ -');
const ApplyBody = z.strictObject({ selection: SelectionBody, idempotencyKey: Key });
const BanBody = z.strictObject({
  user: z.string().min(1).max(64),
  mode: z.enum(['ban', 'shadow']),
  idempotencyKey: Key,
});
const UnbanBody = z.strictObject({ user: z.string().min(1).max(64), idempotencyKey: Key });

export interface ModRoutesDeps {
  readonly console: ModeratorConsole;
  readonly roles: Pick<ModeratorRoles, 'isModerator'>;
  readonly sessions: Pick<SessionStore, 'get'>;
  readonly cookies: SessionCookies;
  readonly origins: OriginPolicy;
  readonly users: Pick<UserStore, 'findByUsername' | 'usernamesOf'>;
}

interface Moderator {
  readonly userId: string;
  readonly username: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; response: HttpResponse };

function parse<T>(schema: z.ZodType<T>, request: HttpRequest): Parsed<T> {
  const body = request.body ?? new Uint8Array();
  if (body.length > MAX_MOD_BODY_BYTES)
    return { ok: false, response: jsonError(ErrorCode.too_large, `body over ${MAX_MOD_BODY_BYTES} bytes`) };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return { ok: false, response: jsonError(ErrorCode.bad_request, 'body must be JSON') };
  }
  const result = schema.safeParse(value);
  if (!result.success)
    return {
      ok: false,
      response: jsonError(
        ErrorCode.bad_request,
        result.error.issues
          .map((i) => `${i.path.join('.') || 'body'}: ${i.message}`)
          .join('; ')
          .slice(0, 300),
      ),
    };
  return { ok: true, value: result.data };
}

export function createModRoutes(deps: ModRoutesDeps): HttpRoute[] {
  const noStore = { 'cache-control': 'no-store' };

  async function moderatorOf(request: HttpRequest): Promise<Moderator | null> {
    const sessionId = deps.cookies.idFrom(request.headers['cookie']);
    if (sessionId === undefined) return null;
    const session = await deps.sessions.get(sessionId);
    if (session === null) return null;
    return (await deps.roles.isModerator(session.userId))
      ? { userId: session.userId, username: session.username }
      : null;
  }

  const resolveUser = (user: string) => userIdOf(deps.users, user);

  async function selectionOf(body: z.infer<typeof SelectionBody>): Promise<Selection | HttpResponse> {
    if (body.region === undefined && body.user === undefined)
      return jsonError(ErrorCode.bad_request, 'select a region, a user, or both');
    let region;
    try {
      region =
        body.region === undefined
          ? undefined
          : deps.console.clip({ x: body.region.x, y: body.region.y, w: body.region.width, h: body.region.height });
    } catch (error) {
      return jsonError(ErrorCode.invalid_coordinates, (error as Error).message);
    }
    if (region !== undefined && region.w * region.h > MAX_REGION_PIXELS)
      return jsonError(
        ErrorCode.too_large,
        `the region has ${region.w * region.h} pixels; at most ${MAX_REGION_PIXELS} (1024×1024) per action`,
      );
    if (body.until !== undefined && body.until < body.since)
      return jsonError(ErrorCode.bad_request, 'until is before since');
    const userId = body.user === undefined ? undefined : await resolveUser(body.user);
    if (userId === null) return jsonError(ErrorCode.not_found, `no such user: ${body.user}`);
    return {
      ...(region === undefined ? {} : { region }),
      since: body.since,
      ...(body.until === undefined ? {} : { until: body.until }),
      ...(userId === undefined ? {} : { userId }),
    };
  }

  /** The check every route makes first; then CSRF for POSTs; failures of the stores are 503. */
  const route = (
    method: 'GET' | 'POST',
    path: string,
    run: (request: HttpRequest, moderator: Moderator) => Promise<HttpResponse>,
  ): HttpRoute => ({
    method,
    path,
    maxBodyBytes: method === 'POST' ? MAX_MOD_BODY_BYTES : 0,
    async handle(request) {
      const moderator = await moderatorOf(request);
      if (moderator === null)
        return jsonError(ErrorCode.forbidden, 'moderators only: sign in with an account that holds the moderator role');
      if (method === 'POST') {
        const csrf = checkCsrf(deps.origins, request.headers);
        if (csrf !== null) return jsonError(ErrorCode.forbidden, csrf);
      }
      try {
        return await run(request, moderator);
      } catch (error) {
        if (error instanceof PreviewTooLarge) return jsonError(ErrorCode.too_large, error.message);
        if (error instanceof ConsoleBusy) return jsonError(ErrorCode.unavailable, error.message);
        // Nothing of the action is lost: a retry with the same idempotency key completes it exactly once.
        if (error instanceof LogUnavailable || error instanceof StoreUnavailable)
          return jsonError(ErrorCode.unavailable, `${error.message.slice(0, 200)}; retry the action`);
        throw error;
      }
    },
  });

  const withSelection =
    (run: (selection: Selection, moderator: Moderator) => Promise<HttpResponse>) =>
    async (request: HttpRequest, moderator: Moderator) => {
      const body = parse(SelectionBody, request);
      if (!body.ok) return body.response;
      const selection = await selectionOf(body.value);
      return 'status' in selection ? selection : run(selection, moderator);
    };

  return [
    route('GET', '/api/v1/mod/me', async (_request, moderator) => json(200, moderator, noStore)),
    route(
      'POST',
      '/api/v1/mod/survey',
      withSelection(async (selection) => {
        const survey = await deps.console.survey(selection);
        const names = await deps.users.usernamesOf(survey.users.map((u) => u.userId));
        return json(
          200,
          {
            ...survey,
            region: selection.region === undefined ? undefined : wireRegion(selection.region),
            users: survey.users.map((u) => ({ ...u, username: names.get(u.userId) ?? null })),
          },
          noStore,
        );
      }),
    ),
    route(
      'POST',
      '/api/v1/mod/preview',
      withSelection(async (selection) => {
        const preview = await deps.console.preview(selection);
        return json(
          200,
          {
            ...preview,
            region: wireRegion(preview.region),
            beforePng: Buffer.from(preview.beforePng).toString('base64'),
            afterPng: Buffer.from(preview.afterPng).toString('base64'),
          },
          noStore,
        );
      }),
    ),
    route('POST', '/api/v1/mod/apply', async (request, moderator) => {
      const body = parse(ApplyBody, request);
      if (!body.ok) return body.response;
      const selection = await selectionOf(body.value.selection);
      if ('status' in selection) return selection;
      return json(200, await deps.console.apply(selection, moderator.userId, body.value.idempotencyKey), noStore);
    }),
    route('POST', '/api/v1/mod/ban', async (request, moderator) => {
      const body = parse(BanBody, request);
      if (!body.ok) return body.response;
      const userId = await resolveUser(body.value.user);
      if (userId === null) return jsonError(ErrorCode.not_found, `no such user: ${body.value.user}`);
      if (userId === moderator.userId) return jsonError(ErrorCode.bad_request, 'a moderator cannot ban themselves');
      const result = await deps.console.ban(userId, body.value.mode, moderator.userId, body.value.idempotencyKey);
      return json(200, { userId, mode: body.value.mode, ...result }, noStore);
    }),
    route('POST', '/api/v1/mod/unban', async (request, moderator) => {
      const body = parse(UnbanBody, request);
      if (!body.ok) return body.response;
      const userId = await resolveUser(body.value.user);
      if (userId === null) return jsonError(ErrorCode.not_found, `no such user: ${body.value.user}`);
      return json(
        200,
        { userId, ...(await deps.console.unban(userId, moderator.userId, body.value.idempotencyKey)) },
        noStore,
      );
    }),
    route('GET', '/api/v1/mod/audit', async (request) => {
      const raw = request.query.get('limit') ?? '50';
      const limit = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(limit >= 1 && limit <= MAX_AUDIT))
        return jsonError(ErrorCode.bad_request, `limit must be 1 to ${MAX_AUDIT}`);
      const entries = await deps.console.audit(limit);
      const ids = new Set<string>();
      for (const e of entries) {
        ids.add(e.moderatorId);
        if (e.kind === 'action') ids.add(e.targetId);
      }
      const names = await deps.users.usernamesOf([...ids]);
      const name = (id: string) => names.get(id) ?? null;
      return json(
        200,
        {
          entries: entries.map((e) => ({
            ...e,
            moderator: name(e.moderatorId),
            ...(e.kind === 'action' ? { target: name(e.targetId) } : {}),
          })),
        },
        noStore,
      );
    }),
  ];
}

/** The API speaks `{ x, y, width, height }` (what the console and tools send); the domain's `Region` is `{ x, y, w, h }`. */
function wireRegion(region: Region): { x: number; y: number; width: number; height: number } {
  return { x: region.x, y: region.y, width: region.w, height: region.h };
}
