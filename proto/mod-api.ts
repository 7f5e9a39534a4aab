/**
 * Wire shapes of the moderator HTTP API (`/api/v1/mod/…`, src/app/moderation/routes.ts) that the server's
 * use case returns as is and the web console (web/src/mod-api.ts) reads: one declaration for both sides.
 */

/** `POST /api/v1/mod/apply`: what a confirmed rollback did. */
export interface RollbackApplied {
  readonly rollbackId: string;
  /** Changes the plan held. */
  readonly planned: number;
  /** Compensating events written. */
  readonly applied: number;
  /** Changes dropped because someone placed on the pixel after the plan was made. */
  readonly superseded: number;
  /** Changes given up after too many conflicts with concurrent placements. */
  readonly contended: number;
  /** `true` when this answer is a repeat of an earlier submit with the same key. */
  readonly repeated: boolean;
}
