/**
 * The JetStream stream and consumers, as code. `applyStreams` (streams/apply.ts) creates or updates them
 * idempotently; it runs from `rplace streams apply` (the operator's NATS identity, the only one allowed to
 * create or update it: streams/permissions.ts) and at the start of every role, which only checks it there.
 *
 * Choices for a multi-day event (~1.15B events of ~50 bytes, ~60 GB):
 * - file storage, limits retention, and `discard: new`: when a limit is reached the stream refuses new
 *   placements (they fail as `unavailable`) instead of silently deleting history.
 * - no `max_age`: the history is the product; nothing ages out. `max_bytes` defaults to -1 (bounded by the
 *   server's JetStream store) because nats-server reserves a stream's `max_bytes` up front; production sets
 *   it explicitly (`STREAM_MAX_BYTES`, e.g. 200 GiB for a 4-day event).
 * - `duplicate_window` 5 minutes: a retry of a `place` whose outcome the edge does not know is re-appended
 *   with the same `Nats-Msg-Id` only well inside this window, so the server stores it once; a later retry
 *   is answered from the cooldown (src/app/place-pixel.ts), so the cooldown does not depend on the window.
 * - `max_msg_size` 1 KiB: an event is ~50 bytes; anything bigger is a bug or an attack.
 * - `deny_delete`/`deny_purge`: no API call can quietly remove an acknowledged placement.
 */
import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, StreamConfig } from '@nats-io/jetstream';
import type { Names } from '../src/domain/names.ts';
// The placement command's contract with the log: it re-appends a retry only well inside this window.
import { DUPLICATE_WINDOW_MS } from '../src/app/place-pixel.ts';

const NS_PER_MS = 1_000_000;

export interface StreamOptions {
  /** 1 on a single server; 3 on the clustered topology. */
  readonly replicas: number;
  /** -1: limited only by the server's store. */
  readonly maxBytes?: number;
}

export function streamConfig(names: Names, options: StreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: names.stream,
    description: `rplace canvas "${names.canvasId}": every placement, in order`,
    subjects: [names.subjects],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    max_bytes: options.maxBytes ?? -1,
    max_msgs: -1,
    max_age: 0,
    max_msg_size: 1024,
    duplicate_window: DUPLICATE_WINDOW_MS * NS_PER_MS,
    num_replicas: options.replicas,
    deny_delete: true,
    deny_purge: true,
    allow_rollup_hdrs: false,
  };
}

/**
 * One durable pull consumer per projection. Each projection stores its own position next to its data
 * (Redis, Postgres) and is idempotent on the stream sequence, so the consumer is only a delivery cursor:
 * at start a projector re-points it at (stored sequence + 1) if it disagrees.
 *
 * AckAll: a projection handles its events in order, as batches, with one process per projection, so acking
 * a batch's last message acknowledges the whole batch in one message instead of one ack per event
 * (AckExplicit would require acking each message: acking only the last would leave the rest to redeliver).
 */
export function projectionConsumerConfig(
  name: string,
  names: Names,
  startSeq: number,
): Partial<ConsumerConfig> & { durable_name: string } {
  return {
    durable_name: name,
    description: `rplace projection ${name} of ${names.stream}`,
    ack_policy: AckPolicy.All,
    deliver_policy: startSeq <= 1 ? DeliverPolicy.All : DeliverPolicy.StartSequence,
    ...(startSeq > 1 ? { opt_start_seq: startSeq } : {}),
    filter_subject: names.subjects,
    max_ack_pending: 100_000,
    ack_wait: 30_000 * NS_PER_MS,
  };
}
