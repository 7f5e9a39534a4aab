/**
 * Wires accounts and abuse resistance into an edge: Postgres users and bans (migrated at start, but an edge
 * whose Postgres is down still serves the canvas and existing sessions; only register/login answer
 * `unavailable`, and placements too if Redis lost its copy of the bans meanwhile), Redis sessions, the
 * Redis copy of the bans, rate buckets, the guarded placement, and the revocation
 * subscription that closes sockets on logout and ban (from any edge). Wiring only: the policy (attempt
 * windows, 503 on a store failure, client addresses, which sockets a revocation closes) is in
 * src/app/auth/edge-account-policy.ts.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import pg from 'pg';
import { quoteIdent, survivePgDisconnects } from '../../adapters/pg/connect.ts';
import { migrateToLatest } from '../../adapters/pg/migrate.ts';
import { createPgUserStore } from '../../adapters/pg/user-store.ts';
import { createNatsRevocations, subscribeRevocations } from '../../adapters/nats/revocations.ts';
import { createDurableBanStore } from '../../adapters/redis/ban-store.ts';
import { createPgBanRecords } from '../../adapters/pg/ban-records.ts';
import { createRedisRateLimiter } from '../../adapters/redis/rate-limits.ts';
import { metrics } from '../../adapters/metrics.ts';
import { createRedisSessionStore } from '../../adapters/redis/session-store.ts';
import { createAccounts } from '../../app/auth/accounts.ts';
import type { EdgeAccess } from '../../app/auth/edge-access.ts';
import {
  accountLimits,
  clientAddressResolver,
  closeRevoked,
  edgeAccess,
  unavailableOnFailure,
} from '../../app/auth/edge-account-policy.ts';
import { createAccountIdentity, type AccountIdentity } from '../../app/auth/identity.ts';
import { originPolicy } from '../../domain/auth/origin.ts';
import type { PlacementAdmission } from '../../ports/admission.ts';
import { createPlacementGuard } from '../../app/auth/placement-guard.ts';
import { accountAgeRiskRule, noChallengeGate, type ChallengeGate, type RiskRule } from '../../app/auth/risk.ts';
import { proofOfWorkGate, proofOfWorkRoutes } from '../../app/auth/proof-of-work.ts';
import { createRedisChallengeStore } from '../../adapters/redis/challenge-store.ts';
import { createAuthRoutes } from '../../app/auth/routes.ts';
import { createLoginChallenges } from '../../app/auth/login-challenge.ts';
import type { HttpRoute } from '../../app/http.ts';
import type { PlacePixelDeps } from '../../app/place-pixel.ts';
import type { IdentityProvider } from '../../ports/identity.ts';
import type { AuthConfig } from '../../config/auth.ts';
import { sessionCookies } from '../../app/auth/sessions.ts';
import { canvasSpecOf, type CommonConfig } from '../../config/common.ts';
import type { Names } from '../../domain/names.ts';
import { edgeModerationRoutes } from './moderation.ts';
import { createPgModeratorRoles } from '../../adapters/pg/moderators.ts';
import { createPgUserPlacements } from '../../adapters/pg/user-history.ts';
import { userHistoryRoutes } from '../../app/history/user-route.ts';

export interface EdgeAccountsDeps {
  readonly logger: Logger;
  readonly nc: NatsConnection;
  readonly redis: Redis;
  readonly names: Names;
  readonly guest: IdentityProvider;
  readonly place: PlacePixelDeps;
  /** The guard's checks and the cooldowns in one call (the Redis cooldown store); absent: port by port. */
  readonly admission?: PlacementAdmission;
  readonly currentSeq: () => number;
  readonly cookieSecure: boolean;
  /** Pluggable risk rule and challenge (defaults: account age + attempt budget; no challenge provider). */
  readonly risk?: RiskRule;
  readonly challenge?: ChallengeGate;
}

export interface EdgeAccounts {
  readonly identity: IdentityProvider;
  readonly routes: readonly HttpRoute[];
  readonly access: EdgeAccess;
  /** Starts closing sockets on revocations; call once the server exists. */
  follow(closeWhere: (matches: (identity: AccountIdentity) => boolean, code: number, reason: string) => number): void;
  close(): Promise<void>;
}

export async function startEdgeAccounts(
  config: CommonConfig & AuthConfig & { readonly SESSION_SECRET: string },
  deps: EdgeAccountsDeps,
): Promise<EdgeAccounts> {
  const log = deps.logger.child({ component: 'accounts' });
  const { names, redis } = deps;
  // A lazy pool: it connects on first use and again after Postgres comes back.
  const pool = new pg.Pool({
    connectionString: config.DATABASE_URL,
    max: 4,
    // Generous: under a login flood the event loop is busy, and a connect that loses its turn is not a failure.
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    options: `-c search_path=${quoteIdent(names.pgSchema)},public -c statement_timeout=5000`,
  });
  survivePgDisconnects(pool, (error) => log.warn({ err: error.message }, 'accounts database connection lost'));
  try {
    await migrateToLatest(pool, names.pgSchema);
  } catch (error) {
    // Keep serving: the canvas and existing sessions need no Postgres. Register/login answer 503 until it is back.
    log.warn(
      { err: error },
      'accounts database unavailable at start; register and login fail until it is reachable and migrated',
    );
  }
  const users = createPgUserStore(pool, names.pgSchema);
  const sessions = createRedisSessionStore(redis, names.redisPrefix);
  const limits = createRedisRateLimiter(redis, names.redisPrefix);
  const bans = createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema));
  // Warm the Redis copy now rather than on the first placement; a failure here is retried by that placement.
  await bans
    .ensureLoaded()
    .catch((error: unknown) =>
      log.warn({ err: error }, 'bans not loaded into Redis yet; placements rebuild them or answer unavailable'),
    );
  const origins = originPolicy(config.ALLOWED_ORIGINS);
  const clientIp = clientAddressResolver(config.TRUSTED_PROXIES, config.CLIENT_ADDRESS_HEADER ?? null);
  const cookies = sessionCookies(config.SESSION_SECRET);
  const windows = accountLimits({
    sessionTtlSeconds: config.SESSION_TTL_SECONDS,
    loginAttemptsPerAccount: config.LOGIN_ATTEMPTS_PER_ACCOUNT,
    loginAttemptsPerAccountPerIp: config.LOGIN_ATTEMPTS_PER_ACCOUNT_PER_IP,
    loginAttemptsPerIp: config.LOGIN_ATTEMPTS_PER_IP,
    registrationsPerIpPerHour: config.REGISTRATIONS_PER_IP_PER_HOUR,
    powChallengesPerIpPerMinute: config.POW_CHALLENGES_PER_IP_PER_MINUTE,
    placeAttemptsPerIpPerMinute: config.PLACE_ATTEMPTS_PER_IP_PER_MINUTE,
    placeAttemptsPerUserPer10Minutes: config.PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES,
  });
  const challengeStore = createRedisChallengeStore(redis, names.redisPrefix);
  const loginChallenges = createLoginChallenges({
    store: challengeStore,
    limits,
    difficulty: config.POW_DIFFICULTY,
    perIp: windows.auth.loginPerIp,
  });
  const accounts = createAccounts({
    loginChallenges,
    users,
    sessions,
    limits,
    revocations: createNatsRevocations(deps.nc, names.canvasId),
    clock: deps.place.clock,
    settings: windows.auth,
  });
  const identity = createAccountIdentity(sessions, deps.guest, cookies);
  const pow = { store: challengeStore, difficulty: config.POW_DIFFICULTY, clearSeconds: config.POW_CLEAR_SECONDS };
  const builtInPow = deps.challenge === undefined && config.CHALLENGE === 'pow';
  const challenge = deps.challenge ?? (builtInPow ? proofOfWorkGate(pow) : noChallengeGate);
  // The HTTP adapter already gives every route the resolved client address (edge-server passes it `clientIp`).
  const routes = [
    ...createAuthRoutes({
      accounts,
      origins,
      cookies,
      cookieSecure: deps.cookieSecure,
      sessionTtlSeconds: config.SESSION_TTL_SECONDS,
      guest: deps.guest,
    }),
    ...loginChallenges.routes,
    ...edgeModerationRoutes({
      nc: deps.nc,
      names,
      // The initial size for the reader (resize-timeline.ts grows it), the edge canvas's live size for the plans.
      spec: canvasSpecOf(config),
      liveSize: deps.place.spec,
      pool,
      users,
      sessions,
      bans,
      cookies,
      origins,
      clock: deps.place.clock,
    }),
    ...userHistoryRoutes({
      identity,
      roles: createPgModeratorRoles(pool, names.pgSchema),
      users,
      placements: createPgUserPlacements(pool, names.pgSchema),
      onError: (error, what) => log.error({ err: error }, `${what} failed`),
    }),
    ...(builtInPow
      ? proofOfWorkRoutes({
          ...pow,
          identity,
          origins,
          limits,
          issuePerIp: windows.powIssuePerIp,
          onRefused: () => metrics.limitRefusals.inc({ limit: 'pow_challenges_per_ip' }),
        })
      : []),
  ].map((route) =>
    unavailableOnFailure(route, (error, path) => log.warn({ err: error, path }, 'account request failed')),
  );
  const access = edgeAccess({
    origins,
    clientIp,
    maxConnectionsPerIp: config.WS_MAX_CONNECTIONS_PER_IP,
    place: createPlacementGuard({
      place: deps.place,
      bans,
      sessions,
      limits,
      allowGuestPlacement: config.ALLOW_GUEST_PLACEMENT === '1',
      guestCooldownPerIp: config.GUEST_COOLDOWN_PER_IP === '1',
      perIp: windows.placePerIp,
      perUser: windows.placePerUser,
      risk: deps.risk ?? accountAgeRiskRule(config.RISK_MIN_ACCOUNT_AGE_HOURS * 3_600_000),
      challenge,
      currentSeq: deps.currentSeq,
      ...(deps.admission ? { admission: deps.admission } : {}),
    }),
  });
  let subscription: ReturnType<typeof subscribeRevocations> | undefined;
  return {
    identity,
    routes,
    access,
    follow(closeWhere) {
      subscription = subscribeRevocations(deps.nc, names.canvasId, (revocation) => {
        const { closed, reason } = closeRevoked(revocation, closeWhere);
        if (closed > 0) log.info({ closed, reason }, 'closed sockets on revocation');
      });
    },
    async close() {
      subscription?.unsubscribe();
      await pool.end();
    },
  };
}
