/**
 * The in-memory stream behind the log fakes: one ordered array of stored events, as one JetStream stream
 * is behind `EventLog`, `EventStream`, `ModerationLog` and `ProjectionSource`. Build the fakes of those
 * ports over one `MemoryStream` (event-log.ts, event-stream.ts, moderation-log.ts, projection-source.ts).
 *
 * What it keeps of the real stream (the contract suites in test/contract/ pin it against JetStream):
 * - sequences start at 1 and have no gaps;
 * - a message id seen within `duplicateWindowMs` is not stored again: the append answers the ORIGINAL
 *   sequence with `duplicate: true`;
 * - events go through the wire codec, so an event the codec refuses is refused here too, and readers get
 *   a decoded copy, never the caller's object.
 * Fault injection: `failAppends(error)` makes every append reject with it until `failAppends(null)`.
 */
import { decodeEvent, encodeEvent, type LogEvent } from '../../../proto/event-codec.ts';
import { DUPLICATE_WINDOW_MS } from '../../../src/app/place-pixel.ts';
import type { AppendResult, StoredEvent } from '../../../src/ports/event-log.ts';
import type { Clock } from '../../../src/ports/clock.ts';

export interface MemoryStreamOptions {
  readonly clock?: Clock;
  readonly duplicateWindowMs?: number;
}

export class MemoryStream {
  readonly events: StoredEvent[] = [];
  /** Appends that reached the stream, stored or deduplicated (what a test asserts "no second append" with). */
  appendCalls = 0;
  private readonly ids = new Map<string, { seq: number; at: number }>();
  private readonly listeners = new Set<() => void>();
  private failure: Error | null = null;
  readonly clock: Clock;
  private readonly duplicateWindowMs: number;

  constructor(options: MemoryStreamOptions = {}) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.duplicateWindowMs = options.duplicateWindowMs ?? DUPLICATE_WINDOW_MS;
  }

  get lastSeq(): number {
    return this.events.length;
  }

  failAppends(error: Error | null): void {
    this.failure = error;
  }

  /** Stores `event` unless `messageId` was stored within the duplicate window; `check` may refuse first. */
  append(event: LogEvent, messageId: string, check?: (lastSeq: number) => Error | null): AppendResult {
    if (this.failure) throw this.failure;
    const bytes = encodeEvent(event);
    this.appendCalls++;
    const now = this.clock.now();
    const seen = this.ids.get(messageId);
    if (seen && now - seen.at < this.duplicateWindowMs) return { seq: seen.seq, duplicate: true };
    const refused = check?.(this.lastSeq);
    if (refused) throw refused;
    const seq = this.events.length + 1;
    this.events.push({ seq, storedAt: now, event: decodeEvent(bytes) });
    this.ids.set(messageId, { seq, at: now });
    for (const wake of [...this.listeners]) wake();
    return { seq, duplicate: false };
  }

  /** Events with `fromSeq ≤ seq ≤ untilSeq`. */
  slice(fromSeq: number, untilSeq = Number.POSITIVE_INFINITY): StoredEvent[] {
    return this.events.slice(Math.max(0, fromSeq - 1), Number.isFinite(untilSeq) ? Math.max(0, untilSeq) : undefined);
  }

  /** Resolves on the next stored event or when `signal` aborts. */
  next(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const done = () => {
        this.listeners.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.listeners.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
