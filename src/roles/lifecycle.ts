/**
 * The one connect/close discipline of every composition root (the roles' `start*`, the history API, the CLI
 * commands): resources are opened in order through a `Lifecycle`, and closed in the REVERSE order, once,
 * whether the root is shut down (SIGTERM) or failed half-way through starting.
 *
 * Invariants:
 * - `close()` runs every registered close exactly once, last opened first, even when an earlier one fails;
 *   a second `close()` waits for the first and does nothing more.
 * - Each close is bounded by `closeTimeoutMs`: a close that hangs (a NATS drain with a stuck subscriber, a
 *   Redis QUIT to a dead server) is abandoned, its `force` (if any: `nc.close()`, `redis.disconnect()`) is
 *   run instead, and the next close starts. The whole shutdown is therefore bounded by the number of
 *   resources × the timeout, below the 10 s run-role.ts gives a process.
 * - A close failure is logged once (with the resource's name) and never thrown: it cannot mask the start-up
 *   error that triggered the close, and the remaining resources are still closed.
 * - `startWith` closes whatever was opened when the build step throws, then rethrows that error unchanged
 *   (so exit codes in src/exit-codes.ts still see `ServiceUnreachable`/`ConfigError`).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { connectNats } from '../adapters/nats/connect.ts';
import { connectPg, type PgConnection, type PgOptions } from '../adapters/pg/connect.ts';
import { connectRedis } from '../adapters/redis/connect.ts';
import type { NatsAuth } from '../adapters/nats/connect.ts';
import type { Shutdown } from './run-role.ts';
import type { SharedRead } from '../app/shared-read.ts';

/** Each close's bound unless the caller says otherwise: a drain or QUIT that takes longer is stuck. */
export const DEFAULT_CLOSE_TIMEOUT_MS = 3_000;

/**
 * The bound of a step that is itself a whole role's shutdown (a main.ts wrapping `start<Role>`, whose own
 * steps are bounded by the default): under the 10 s after which run-role.ts exits anyway.
 */
export const ROLE_CLOSE_TIMEOUT_MS = 9_000;

type CloseLog = Pick<Logger, 'warn'>;

export interface CloseStep {
  /** Shown in the log line when this step fails or times out (`nats`, `redis`, `postgres`, `edge server`…). */
  readonly name: string;
  readonly close: () => Promise<unknown> | unknown;
  /** Run instead when `close` times out or fails: the abrupt version (drop the socket). */
  readonly force?: () => Promise<unknown> | unknown;
}

export interface Lifecycle {
  /** Registers a close for something already started; it runs before everything registered earlier. */
  defer(step: CloseStep): void;
  /** Runs `connect`, and registers `close(resource)` once it resolved (a failed connect registers nothing). */
  open<T>(
    name: string,
    connect: () => Promise<T>,
    close: (resource: T) => Promise<unknown> | unknown,
    force?: (resource: T) => Promise<unknown> | unknown,
  ): Promise<T>;
  /** Closes everything, last registered first (see the invariants above). */
  close(): Promise<void>;
}

export interface LifecycleOptions {
  readonly closeTimeoutMs?: number;
}

const TIMED_OUT = Symbol('timed out');

async function bounded(run: () => Promise<unknown> | unknown, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(run),
      new Promise((resolve) => {
        timer = setTimeout(() => resolve(TIMED_OUT), ms);
        timer.unref();
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function createLifecycle(log: CloseLog, options: LifecycleOptions = {}): Lifecycle {
  const timeoutMs = options.closeTimeoutMs ?? DEFAULT_CLOSE_TIMEOUT_MS;
  const steps: CloseStep[] = [];
  let closing: Promise<void> | null = null;

  async function runStep(step: CloseStep): Promise<void> {
    let failure: string | null = null;
    try {
      if ((await bounded(step.close, timeoutMs)) === TIMED_OUT) failure = `did not close within ${timeoutMs} ms`;
    } catch (error) {
      failure = (error as Error)?.message ?? String(error);
    }
    if (failure === null) return;
    log.warn({ resource: step.name, err: failure }, `closing ${step.name} failed${step.force ? '; forcing it' : ''}`);
    if (!step.force) return;
    try {
      await bounded(step.force, timeoutMs);
    } catch (error) {
      log.warn(
        { resource: step.name, err: (error as Error)?.message ?? String(error) },
        `forcing ${step.name} closed failed`,
      );
    }
  }

  return {
    defer(step) {
      if (closing) throw new Error(`cannot register ${step.name}: the lifecycle is already closing`);
      steps.push(step);
    },
    async open(name, connect, close, force) {
      if (closing) throw new Error(`cannot open ${name}: the lifecycle is already closing`);
      const resource = await connect();
      steps.push({ name, close: () => close(resource), ...(force ? { force: () => force(resource) } : {}) });
      return resource;
    },
    close() {
      closing ??= (async () => {
        while (steps.length > 0) await runStep(steps.pop()!);
      })();
      return closing;
    },
  };
}

/**
 * Builds a root: `build` opens and starts things through the lifecycle. On success, the lifecycle's close is
 * the root's shutdown; on failure, what was opened is closed and the error rethrown as it was.
 */
export async function startWith(
  log: CloseLog,
  build: (life: Lifecycle) => Promise<void>,
  options: LifecycleOptions = {},
): Promise<Shutdown> {
  const life = createLifecycle(log, options);
  try {
    await build(life);
  } catch (error) {
    await life.close();
    throw error;
  }
  return () => life.close();
}

/** Runs `use` with a fresh lifecycle and closes it afterwards, whatever happened (one CLI command). */
export async function withLifecycle<T>(
  log: CloseLog,
  use: (life: Lifecycle) => Promise<T>,
  options: LifecycleOptions = {},
): Promise<T> {
  const life = createLifecycle(log, options);
  try {
    return await use(life);
  } finally {
    await life.close();
  }
}

// The adapters' connects, each with the close (and the abrupt fallback) every root uses for it.

/** NATS: drained on close (pending publishes flushed, subscriptions ended), dropped if the drain hangs. */
export function openNats(
  life: Lifecycle,
  url: string,
  name: string,
  auth: NatsAuth,
  logger?: Pick<Logger, 'warn'>,
): Promise<NatsConnection> {
  return life.open(
    'nats',
    () => connectNats(url, name, auth, logger),
    (nc) => nc.drain(),
    (nc) => nc.close(),
  );
}

/**
 * What a process running several roles gives each of them to share (`npm start`, src/roles/dev/roles.ts):
 * one NATS connection instead of one per role, so the server writes every role's deliveries, PubAcks and
 * API replies to one socket and the process reads them in one go (issue 13). Owned and drained by the caller.
 */
export interface SharedConnections {
  readonly nc?: NatsConnection;
  /** One live read of the stream for every projection of the process, instead of a durable consumer each. */
  readonly projections?: SharedRead;
}

/** Redis: QUIT on close (queued commands answered first), the socket dropped if that hangs. */
export function openRedis(life: Lifecycle, url: string, name: string): Promise<Redis> {
  return life.open(
    'redis',
    () => connectRedis(url, name),
    (redis) => redis.quit(),
    (redis) => redis.disconnect(),
  );
}

/** Postgres: the pool is ended on close (idle clients closed; a checked-out one ends when released). */
export function openPg(
  life: Lifecycle,
  url: string,
  schema: string,
  logger: Logger,
  options: PgOptions = {},
): Promise<PgConnection> {
  return life.open(
    'postgres',
    () => connectPg(url, schema, logger, options),
    (pg) => pg.close(),
  );
}
