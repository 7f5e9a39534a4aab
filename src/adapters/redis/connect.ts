/**
 * Connecting to Redis: one place that turns "nothing listening" into a prompt `ServiceUnreachable`
 * (ioredis would otherwise retry forever at start-up and every command would hang), and that sets the
 * reconnect policy every role uses once connected (reconnect forever, backing off to 2 s).
 */
import { Redis } from 'ioredis';
import { ServiceUnreachable, StoreUnavailable } from '../../ports/errors.ts';

/**
 * For `.catch(...)` on a Redis command: every failure (connection lost, retries exhausted, script error)
 * becomes a `StoreUnavailable`, which the use cases answer as `unavailable` instead of `internal`.
 */
export const storeUnavailable =
  (what: string) =>
  (cause: unknown): never => {
    throw new StoreUnavailable(`Redis could not ${what}: ${(cause as Error).message}`, { cause });
  };

export async function connectRedis(url: string, name: string): Promise<Redis> {
  let everReady = false;
  const redis = new Redis(url, {
    connectionName: name.replace(/[^A-Za-z0-9_.:-]/g, '_'),
    lazyConnect: true,
    connectTimeout: 5_000,
    // Before the first successful connection: give up at once, so start-up fails fast with a clear error.
    // After it: keep reconnecting; commands queue while offline and fail after a few attempts.
    retryStrategy: (times) => (everReady ? Math.min(times * 50, 2_000) : null),
    maxRetriesPerRequest: 3,
    enableAutoPipelining: true,
  });
  // Without a listener ioredis prints every connection error to stderr; callers observe failures
  // through rejected commands instead, and the reconnect is automatic.
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  redis.once('ready', () => {
    everReady = true;
  });
  try {
    await redis.connect();
  } catch (cause) {
    redis.disconnect();
    // ioredis rejects with "Connection is closed"; the socket error that caused it came as an event.
    const reason = lastError ?? (cause as Error);
    // Never the password (redis://:secret@host) in a message that ends up in logs.
    throw new ServiceUnreachable(`cannot reach Redis at ${url.replace(/\/\/[^@/]*@/, '//***@')}: ${reason.message}`, {
      cause: reason,
    });
  }
  return redis;
}
