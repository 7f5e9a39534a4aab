/**
 * Creates or updates the canvas stream idempotently. Never deletes: an update changes limits and
 * settings in place; settings JetStream cannot change (storage, retention) are reported, not forced.
 * Only the operator's NATS identity may create or update (streams/permissions.ts).
 */
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { ConfigError } from '../src/ports/errors.ts';
import { isPermissionViolation } from '../src/adapters/nats/connect.ts';
import type { Names } from '../src/domain/names.ts';
import { streamConfig, type StreamOptions } from './definitions.ts';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Without `options`, the caller has no opinion on replicas: a new stream gets 1, and an existing one keeps
 * its own (so a role started without STREAM_REPLICAS never scales an R3 stream down to R1). Roles pass
 * `{ replicas: config.STREAM_REPLICAS }`.
 */
export async function applyStreams(
  nc: NatsConnection,
  names: Names,
  options?: StreamOptions,
): Promise<{ outcome: ApplyOutcome; info: StreamInfo }> {
  const jsm = await jetstreamManager(nc);
  let current: StreamInfo;
  try {
    current = await jsm.streams.info(names.stream);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return { outcome: 'created', info: await jsm.streams.add(streamConfig(names, options ?? { replicas: 1 })) };
    }
    throw error;
  }
  const wanted = streamConfig(names, options ?? { replicas: current.config.num_replicas });
  const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).some(
    (key) => JSON.stringify(current.config[key]) !== JSON.stringify(wanted[key]),
  );
  if (!differs) return { outcome: 'unchanged', info: current };
  const { name, storage: _storage, retention: _retention, ...mutable } = wanted;
  return { outcome: 'updated', info: await jsm.streams.update(name, mutable) };
}

/**
 * `applyStreams` for the roles: they run it at start so a development setup needs no separate step, but
 * their NATS identities may only read the stream's info (streams/permissions.ts). When the stream is
 * missing or differs and the identity may not fix it, this says what to do instead of a permission error.
 */
export async function ensureStream(
  nc: NatsConnection,
  names: Names,
  options?: StreamOptions,
): ReturnType<typeof applyStreams> {
  try {
    return await applyStreams(nc, names, options);
  } catch (error) {
    if (!isPermissionViolation(error)) throw error;
    throw new ConfigError(
      `stream ${names.stream} is missing or differs from its definition, and this role's NATS identity may not create or update streams: apply it as the operator first (rplace streams apply)`,
      { cause: error },
    );
  }
}
