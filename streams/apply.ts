/**
 * Creates or updates the canvas stream idempotently. Never deletes: an update changes limits and
 * settings in place; settings JetStream cannot change (storage, retention) are reported, not forced.
 */
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../src/config/names.ts';
import { streamConfig, type StreamOptions } from './definitions.ts';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

/**
 * Without `options`, the caller has no opinion on replicas: a new stream gets 1, and an existing one keeps
 * its own (so a role started without STREAM_REPLICAS never scales an R3 stream down to R1). Roles pass
 * `{ replicas: config.STREAM_REPLICAS }`.
 */
export async function applyStreams(nc: NatsConnection, names: Names, options?: StreamOptions): Promise<{ outcome: ApplyOutcome; info: StreamInfo }> {
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
