/** `EventLog` over a `MemoryStream`: appends store and acknowledge at once (see memory-stream.ts). */
import type { EventLog } from '../../../src/ports/event-log.ts';
import type { MemoryStream } from './memory-stream.ts';

export function createFakeEventLog(stream: MemoryStream): EventLog {
  return {
    async append(event, messageId) {
      return stream.append(event, messageId);
    },
  };
}
