/**
 * `ResizeLog` on JetStream: a `CanvasResized` is published to `names.resizeSubject` (only the operator identity
 * may: streams/permissions.ts) with `Nats-Expected-Last-Subject-Sequence`, so it is stored only if no other
 * resize was stored since the one the operator's size was computed from. JetStream answers a mismatch with
 * error 10071 (wrong last sequence), which becomes `SequenceConflict`; other failures are `LogUnavailable`.
 */
import { jetstream, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeEvent } from '../../../proto/event-codec.ts';
import { LogUnavailable, SequenceConflict } from '../../ports/errors.ts';
import type { ResizeLog } from '../../ports/event-log.ts';
import type { Names } from '../../domain/names.ts';

export function createNatsResizeLog(nc: NatsConnection, names: Names, timeoutMs = 5_000): ResizeLog {
  const js = jetstream(nc, { timeout: timeoutMs });
  return {
    async appendResize(event, messageId, afterResizeSeq) {
      try {
        const ack = await js.publish(names.resizeSubject, encodeEvent(event), {
          msgID: messageId,
          expect: { lastSubjectSequence: afterResizeSeq },
        });
        return { seq: ack.seq, duplicate: ack.duplicate };
      } catch (cause) {
        if (cause instanceof JetStreamApiError && cause.code === JetStreamApiCodes.StreamWrongLastSequence) {
          throw new SequenceConflict(
            `another resize was stored after sequence ${afterResizeSeq}: read the size again`,
            afterResizeSeq,
            null,
          );
        }
        throw new LogUnavailable(`resize append to ${names.stream} failed: ${(cause as Error).message}`, { cause });
      }
    },
  };
}
