/**
 * A user's placements, newest first, paged by sequence (`nextCursor`): `GET /api/v1/history/user`
 * (docs/HISTORY-API.md). A player (signed in, or a guest by their signed guest cookie) reads their own; a
 * moderator (the role read per request, as the moderator API does) reads anyone's with `user=` (a username or a
 * user id). Anyone else naming another user gets 403 before any read, so the route cannot be used to follow a
 * player around the canvas. Mounted by the edge with the accounts, where sessions and the role store are.
 */
import { z } from 'zod';
import { ErrorCode } from '../../../proto/error-codes.ts';
import type { UserStore } from '../../ports/auth.ts';
import type { UserPlacement, UserPlacements } from '../../ports/history.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import type { ModeratorRoles } from '../../ports/moderation.ts';
import { userIdOf } from '../auth/user-ref.ts';
import { json, jsonError, type HttpRoute } from '../http.ts';
import { cursorParam, int, parse, storeFailure } from './route-query.ts';

/** One placement as the route and `rplace user-history --json` write it. */
export function userPlacementJson(p: UserPlacement) {
  return {
    seq: p.seq,
    x: p.x,
    y: p.y,
    color: p.color,
    placedAt: new Date(p.placedAt).toISOString(),
    kind: p.kind === 2 ? 'restored' : 'placed',
  };
}

export interface UserHistoryRouteDeps {
  readonly identity: IdentityProvider;
  readonly roles: Pick<ModeratorRoles, 'isModerator'>;
  readonly users: Pick<UserStore, 'findByUsername' | 'usernamesOf'>;
  readonly placements: UserPlacements;
  readonly onError?: (error: Error, what: string) => void;
}

const query = z.strictObject({
  user: z.string().min(1).max(64).optional(),
  limit: int(1, 100).default(50),
  cursor: cursorParam.optional(),
});

export function userHistoryRoutes(deps: UserHistoryRouteDeps): HttpRoute[] {
  const noStore = { 'cache-control': 'no-store' };
  return [
    {
      method: 'GET',
      path: '/api/v1/history/user',
      maxBodyBytes: 0,
      async handle(request) {
        const parsed = parse(query, request.query);
        if (!parsed.ok) return parsed.response;
        const { user, limit, cursor } = parsed.value;
        try {
          // A first visit mints a guest here (its cookie is not sent: a read sets nothing); it has placed nothing.
          const who = await deps.identity.identify(request.headers);
          if (who === null) return jsonError(ErrorCode.unauthorized, 'not signed in');
          const me = who.identity;
          let userId = me.userId;
          if (user !== undefined) {
            const named = await userIdOf(deps.users, user);
            if (named !== me.userId) {
              if (me.isGuest || !(await deps.roles.isModerator(me.userId)))
                return jsonError(
                  ErrorCode.forbidden,
                  'moderators only: a player reads their own placements (no user=)',
                );
              if (named === null) return jsonError(ErrorCode.not_found, `no such user: ${user}`);
              userId = named;
            }
          }
          const rows = await deps.placements(userId, cursor ?? Number.MAX_SAFE_INTEGER, limit + 1);
          const page = rows.slice(0, limit);
          const last = page[page.length - 1];
          const username = (await deps.users.usernamesOf([userId])).get(userId) ?? null;
          return json(
            200,
            {
              userId,
              username,
              placements: page.map(userPlacementJson),
              nextCursor: rows.length > limit && last ? String(last.seq) : null,
            },
            noStore,
          );
        } catch (error) {
          return storeFailure(error, 'user history', deps.onError);
        }
      },
    },
  ];
}
