/**
 * Ports the moderation use cases run against, beyond the shared `EventStream` (src/ports/event-log.ts).
 */
import type { PixelRestored } from '../../proto/event-codec.ts';

/** `ok: false` when the stream moved past `expectedLastSeq` (`lastSeq` is where it is now): re-plan and retry. */
export type ConditionalAppend = { readonly ok: true; readonly seq: number } | { readonly ok: false; readonly lastSeq: number };

/**
 * Appends a moderation event only if the stream's last sequence is still `expectedLastSeq`
 * (JetStream `Nats-Expected-Last-Sequence`), so a compensating event never overwrites a placement the
 * plan has not seen. `messageId` deduplicates a re-run within the stream's duplicate window.
 * Rejects with `LogUnavailable` when the log cannot confirm the append.
 */
export interface ModerationLog {
  appendIfLast(event: PixelRestored, messageId: string, expectedLastSeq: number): Promise<ConditionalAppend>;
}
