/**
 * Creates or updates the canvas stream idempotently. Never deletes: an update changes limits and
 * settings in place; settings JetStream cannot change (storage, retention) are reported, not forced.
 */
import { jetstreamManager, JetStreamApiCodes, JetStreamApiError, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Names } from '../src/config/names.ts';
import { streamConfig, type StreamOptions } from './definitions.ts';

export type ApplyOutcome = 'created' | 'updated' | 'unchanged';

export async function applyStreams(nc: NatsConnection, names: Names, options: StreamOptions = { replicas: 1 }): Promise<{ outcome: ApplyOutcome; info: StreamInfo }> {
  const jsm = await jetstreamManager(nc);
  const wanted = streamConfig(names, options);
  let current: StreamInfo;
  try {
    current = await jsm.streams.info(wanted.name);
  } catch (error) {
    if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
      return { outcome: 'created', info: await jsm.streams.add(wanted) };
    }
    throw error;
  }
  const differs = (Object.keys(wanted) as (keyof typeof wanted)[]).some(
    (key) => JSON.stringify(current.config[key]) !== JSON.stringify(wanted[key]),
  );
  if (!differs) return { outcome: 'unchanged', info: current };
  const { name, storage: _storage, retention: _retention, ...mutable } = wanted;
  return { outcome: 'updated', info: await jsm.streams.update(name, mutable) };
}
