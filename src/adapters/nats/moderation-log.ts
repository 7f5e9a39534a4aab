/**
 * `ModerationLog` on JetStream: a moderation event is published with `Nats-Expected-Last-Sequence`, so the
 * server stores it only if nothing was appended since the moderator's plan last looked. JetStream answers a
 * mismatch with error 10071 (wrong last sequence), which becomes `{ ok: false, lastSeq }`. Other failures
 * are `LogUnavailable`. Moderation is rare and operator-driven, so the plain `js.publish` request is fine.
 */
import { jetstream, jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeEvent } from '../../../proto/event-codec.ts';
import { LogUnavailable } from '../../ports/errors.ts';
import type { ModerationLog } from '../../ports/moderation.ts';
import type { Names } from '../../domain/names.ts';

export function createNatsModerationLog(nc: NatsConnection, names: Names, timeoutMs = 5_000): ModerationLog {
  const js = jetstream(nc, { timeout: timeoutMs });
  return {
    async appendIfLast(event, messageId, expectedLastSeq) {
      try {
        const ack = await js.publish(names.moderationSubject(event.x, event.y), encodeEvent(event), {
          msgID: messageId,
          expect: { lastSequence: expectedLastSeq },
        });
        return { ok: true, seq: ack.seq };
      } catch (cause) {
        if (cause instanceof JetStreamApiError && cause.code === JetStreamApiCodes.StreamWrongLastSequence) {
          const info = await (await jetstreamManager(nc)).streams.info(names.stream);
          return { ok: false, lastSeq: info.state.last_seq };
        }
        throw new LogUnavailable(`moderation append to ${names.stream} failed: ${(cause as Error).message}`, { cause });
      }
    },
  };
}
