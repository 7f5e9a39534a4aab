/**
 * Ports the moderation use cases run against, beyond the shared `EventStream` (src/ports/event-log.ts).
 */
import type { PixelRestored } from '../../proto/event-codec.ts';

/** `ok: false` when the stream moved past `expectedLastSeq` (`lastSeq` is where it is now): re-plan and retry. */
export type ConditionalAppend =
  | { readonly ok: true; readonly seq: number }
  | { readonly ok: false; readonly lastSeq: number };

/**
 * Appends a moderation event only if the stream's last sequence is still `expectedLastSeq`
 * (JetStream `Nats-Expected-Last-Sequence`), so a compensating event never overwrites a placement the
 * plan has not seen. `messageId` deduplicates a re-run within the stream's duplicate window.
 * Rejects with `LogUnavailable` when the log cannot confirm the append.
 */
export interface ModerationLog {
  appendIfLast(event: PixelRestored, messageId: string, expectedLastSeq: number): Promise<ConditionalAppend>;
}

/**
 * Who holds the moderator role (Postgres `account_roles`). Read on every moderator request: no cache, so a
 * revoke takes effect on the next request. Rejects with `StoreUnavailable` when the store is down (the
 * request is then refused, never waved through).
 */
export interface ModeratorRoles {
  isModerator(userId: string): Promise<boolean>;
  /** `false` when `userId` has no account (guests cannot be moderators). Idempotent. */
  grant(userId: string, grantedBy: string): Promise<boolean>;
  /** `true` when the role was held and is now removed. */
  revoke(userId: string): Promise<boolean>;
}

export type ModeratorActionKind = 'ban' | 'shadow' | 'unban' | 'grant' | 'revoke';

export interface ModeratorAction {
  readonly at: number;
  readonly moderatorId: string;
  readonly action: ModeratorActionKind;
  readonly targetId: string;
}

/**
 * The audit record of moderator actions that are not canvas events (bans, unbans, grants). `record` with an
 * `idempotencyKey` already recorded changes nothing and answers `false`.
 */
export interface ModeratorActions {
  record(action: Omit<ModeratorAction, 'at'>, idempotencyKey?: string): Promise<boolean>;
  /** The newest `limit` actions, newest first. */
  recent(limit: number): Promise<readonly ModeratorAction[]>;
}
