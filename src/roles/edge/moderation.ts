/**
 * Wires the moderator console into an edge (issue 15): the moderator HTTP API over the canvas stream (plans
 * and compensating events through the same use case as `rplace mod`), the Postgres roles and action log,
 * the durable bans and the PNG encoder. Called by accounts.ts with the stores it already holds, so the
 * routes are mounted (and guarded) with the auth routes.
 *
 * Under authenticated NATS the edge identity may not publish moderation events or user revocations
 * (streams/permissions.ts): there, applying a rollback answers 503 and a ban does not close sockets until
 * the edge is given a moderation identity; the read-only routes work everywhere.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type pg from 'pg';
import { encodePng } from '../../adapters/image/png.ts';
import { createNatsEventStream } from '../../adapters/nats/event-stream.ts';
import { createNatsModerationLog } from '../../adapters/nats/moderation-log.ts';
import { createNatsRevocations } from '../../adapters/nats/revocations.ts';
import { createPgModeratorActions, createPgModeratorRoles } from '../../adapters/pg/moderators.ts';
import type { OriginPolicy } from '../../domain/auth/origin.ts';
import type { BanStore, SessionStore, UserStore } from '../../ports/auth.ts';
import type { SessionCookies } from '../../app/auth/sessions.ts';
import type { HttpRoute } from '../../app/http.ts';
import { createModeratorConsole } from '../../app/moderation/console.ts';
import { createModRoutes } from '../../app/moderation/routes.ts';
import type { Clock } from '../../ports/clock.ts';
import type { CanvasSpec } from '../../domain/canvas.ts';
import { eventBoundsOf } from '../../config/common.ts';
import type { Names } from '../../domain/names.ts';

export interface EdgeModerationDeps {
  readonly nc: NatsConnection;
  readonly names: Names;
  /** The initial size (what the moderation reader starts from). */
  readonly spec: CanvasSpec;
  /** The size in force now (the edge's canvas follows every resize): what plans are made on. */
  readonly liveSize: { readonly width: number; readonly height: number };
  readonly pool: pg.Pool;
  readonly users: UserStore;
  readonly sessions: SessionStore;
  readonly bans: BanStore;
  readonly cookies: SessionCookies;
  readonly origins: OriginPolicy;
  readonly clock: Clock;
}

export function edgeModerationRoutes(deps: EdgeModerationDeps): HttpRoute[] {
  const { nc, names, spec, pool } = deps;
  const moderation = createModeratorConsole({
    stream: createNatsEventStream(nc, names, { canvas: eventBoundsOf(spec), reader: 'moderation' }),
    log: createNatsModerationLog(nc, names),
    // Getters: a resize grows the size moderation plans on (a grown canvas keeps old coordinates at origin 0, 0).
    get width() {
      return deps.liveSize.width;
    },
    get height() {
      return deps.liveSize.height;
    },
    palette: spec.palette,
    encodePng,
    bans: deps.bans,
    revocations: createNatsRevocations(nc, names.canvasId),
    actions: createPgModeratorActions(pool, names.pgSchema),
    clock: deps.clock,
  });
  return createModRoutes({
    console: moderation,
    roles: createPgModeratorRoles(pool, names.pgSchema),
    sessions: deps.sessions,
    cookies: deps.cookies,
    origins: deps.origins,
    users: deps.users,
  });
}
