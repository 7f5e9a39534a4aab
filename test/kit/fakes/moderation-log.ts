/**
 * `ModerationLog` over a `MemoryStream`: `appendIfLast` stores only while the stream's last sequence is
 * the expected one (JetStream `Nats-Expected-Last-Sequence`), else answers the current last sequence.
 * `beforeAppend` lets a test place concurrently, between the moderator's look and the write.
 */
import type { ModerationLog } from '../../../src/ports/moderation.ts';
import type { MemoryStream } from './memory-stream.ts';

class WrongLastSequence extends Error {
  override readonly name = 'WrongLastSequence';
}

export function createFakeModerationLog(
  stream: MemoryStream,
  hooks: { beforeAppend?: () => void } = {},
): ModerationLog & { calls: number } {
  const log = {
    calls: 0,
    async appendIfLast(
      event: Parameters<ModerationLog['appendIfLast']>[0],
      messageId: string,
      expectedLastSeq: number,
    ) {
      log.calls++;
      hooks.beforeAppend?.();
      try {
        const appended = stream.append(event, messageId, (last) =>
          last === expectedLastSeq ? null : new WrongLastSequence(),
        );
        return { ok: true as const, seq: appended.seq };
      } catch (error) {
        if (error instanceof WrongLastSequence) return { ok: false as const, lastSeq: stream.lastSeq };
        throw error;
      }
    },
  };
  return log;
}
