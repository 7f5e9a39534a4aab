/**
 * Planning against the live stream and executing a plan as compensating `PixelRestored` events.
 *
 * Execution is exact against concurrent placements: each event is appended only if the stream has not
 * moved since the moderator last looked (`appendIfLast`). When it has moved, the new events are read,
 * any planned pixel they touched is dropped (someone placed there since), and the append is retried.
 * A pixel that stays contended for `maxAttemptsPerChange` tries is reported as skipped; re-running the
 * rollback is safe because the restores already written end the user's claim on their pixels.
 */
import { EventKind, isPixelEvent } from '../../../proto/event-codec.ts';
import type { EventStream } from '../../ports/event-log.ts';
import { dropTouched, type ModerationPlan, type PlannedChange, type Planner } from '../../domain/moderation/plan.ts';
import type { ModerationLog } from '../../ports/moderation.ts';

/** Feeds the whole stream (up to its current end) through a planner. */
export async function planFromStream(stream: EventStream, planner: Planner): Promise<ModerationPlan> {
  const last = await stream.lastSeq();
  if (last > 0) {
    for await (const batch of stream.read(1, { untilSeq: last })) {
      // A resize sets no pixel; planners are sized to the canvas now (src/domain/resize.ts: the old area keeps its
      // coordinates when the origin is (0, 0), the only growth moderation plans across).
      for (const stored of batch) if (isPixelEvent(stored.event)) planner.add(stored.seq, stored.event);
    }
  }
  const plan = planner.finish();
  return { ...plan, throughSeq: Math.max(plan.throughSeq, last) };
}

export interface ExecuteOptions {
  readonly width: number;
  readonly moderatorId: string;
  /** The rollback id: every event's `requestId`, and part of its message id. */
  readonly rollbackId: string;
  readonly now: () => number;
  readonly maxAttemptsPerChange?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ExecuteResult {
  readonly applied: number;
  /** Changes dropped because someone placed on the pixel after the plan was made. */
  readonly superseded: number;
  /** Changes given up after too many conflicts with concurrent placements. */
  readonly contended: readonly PlannedChange[];
  readonly lastSeq: number;
}

export async function executePlan(
  plan: ModerationPlan,
  stream: EventStream,
  log: ModerationLog,
  options: ExecuteOptions,
): Promise<ExecuteResult> {
  const maxAttempts = options.maxAttemptsPerChange ?? 50;
  let pending: PlannedChange[] = [...plan.changes];
  let expected = plan.throughSeq;
  let applied = 0;
  let superseded = 0;
  const contended: PlannedChange[] = [];
  const total = pending.length;

  const catchUp = async (lastSeq: number): Promise<void> => {
    const later: { x: number; y: number }[] = [];
    for await (const batch of stream.read(expected + 1, { untilSeq: lastSeq })) {
      for (const stored of batch) if (isPixelEvent(stored.event)) later.push(stored.event);
    }
    const before = pending.length;
    pending = dropTouched(pending, options.width, later);
    superseded += before - pending.length;
    expected = lastSeq;
  };

  while (pending.length > 0) {
    const change = pending[0] as PlannedChange;
    let attempts = 0;
    for (;;) {
      const result = await log.appendIfLast(
        {
          kind: EventKind.PixelRestored,
          x: change.x,
          y: change.y,
          color: change.to,
          userId: options.moderatorId,
          requestId: options.rollbackId,
          placedAt: options.now(),
        },
        `mod/${options.rollbackId}/${change.x}.${change.y}`,
        expected,
      );
      if (result.ok) {
        pending.shift();
        expected = result.seq;
        applied++;
        break;
      }
      await catchUp(result.lastSeq);
      if (pending[0] !== change) break; // this pixel was superseded
      if (++attempts >= maxAttempts) {
        contended.push(change);
        pending.shift();
        break;
      }
    }
    options.onProgress?.(applied + superseded + contended.length, total);
  }
  return { applied, superseded, contended, lastSeq: expected };
}
