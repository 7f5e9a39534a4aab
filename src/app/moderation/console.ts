/**
 * The moderator console's use cases, over ports: survey a selection, preview its rollback, apply it (through
 * the SAME planners and `executePlan` as `rplace mod rollback|restore`), ban / shadow-ban / unban, and the
 * audit log. Every call is made on behalf of a moderator already checked by the routes (routes.ts).
 *
 * A selection is a rectangle and/or one user's placements, and a time range starting at `since`:
 * - with a user: the rollback of that user's placements since `since` (inside the rectangle when one is
 *   given; anywhere otherwise: the CLI's `mod rollback --user --since [--region]`), "unless someone else
 *   placed there since";
 * - without: the rectangle restored to how it was at `since` (the CLI's `mod restore --region --at`).
 * `until` narrows only the survey (who placed between the two times); a rollback always undoes everything
 * after `since`, because undoing a middle slice would resurrect pixels later placements already covered.
 *
 * Cost: each call folds the whole stream once (as the CLI does), so at most `maxConcurrentScans` run at a
 * time per edge; more answer `busy` rather than queue behind each other.
 *
 * Idempotency: `apply` takes a key chosen by the client per confirmed action. The rollback id (every event's
 * `requestId`, and part of its JetStream message id `mod/<rollbackId>/<x>.<y>`) is derived from the
 * moderator and the key, so a retry of the same action on any edge writes nothing twice (the stream's
 * duplicate window), and one edge answers a double submit with the first submit's result (kept for
 * `resultTtlMs`). A rollback re-run after the window is a no-op anyway: its restores end every claim.
 */
import { createHash } from 'node:crypto';
import type { RollbackApplied } from '../../../proto/mod-api.ts';
import { isPixelEvent } from '../../../proto/event-codec.ts';
import type { PaletteColor } from '../../domain/palette.ts';
import type { BanMode, BanStore, Revocations } from '../../ports/auth.ts';
import type { Clock } from '../../ports/clock.ts';
import type { EventStream } from '../../ports/event-log.ts';
import { executePlan, planFromStream, type ExecuteResult } from './execute.ts';
import {
  clipRegion,
  createRestorePlanner,
  createRollbackPlanner,
  type ModerationPlan,
  type Planner,
} from '../../domain/moderation/plan.ts';
import type { Region } from '../../domain/region.ts';
import type { ModerationLog, ModeratorAction, ModeratorActions } from '../../ports/moderation.ts';
import {
  createCanvasFold,
  createRollbackAudit,
  createSurvey,
  cropRegion,
  fanOut,
  type RollbackAudit,
  type Survey,
} from '../../domain/moderation/survey.ts';

/** A rectangle, or a user (then the rectangle is optional). */
export interface Selection {
  readonly region?: Region;
  readonly since: number;
  readonly until?: number;
  readonly userId?: string;
}

export interface ConsoleDeps {
  readonly stream: EventStream;
  readonly log: ModerationLog;
  readonly width: number;
  readonly height: number;
  readonly palette: readonly PaletteColor[];
  /** Encodes palette indices as a PNG (src/adapters/image/png.ts). */
  readonly encodePng: (
    indices: Uint8Array,
    width: number,
    height: number,
    palette: readonly PaletteColor[],
  ) => Promise<Uint8Array>;
  readonly bans: BanStore;
  readonly revocations: Pick<Revocations, 'userBanned'>;
  readonly actions: ModeratorActions;
  readonly clock: Clock;
  readonly maxConcurrentScans?: number;
  readonly resultTtlMs?: number;
  /** Largest preview image, in pixels (default 1024 × 1024). */
  readonly maxPreviewPixels?: number;
}

export interface Preview {
  readonly region: Region;
  /** Pixels the rollback changes ("restores N pixels"). */
  readonly pixels: number;
  readonly matchedEvents: number;
  readonly throughSeq: number;
  readonly beforePng: Uint8Array;
  readonly afterPng: Uint8Array;
}

/** The apply answer is sent as is (routes.ts): its shape is the wire's. */
export type Applied = RollbackApplied;

export type AuditEntry =
  | ({ readonly kind: 'rollback' } & RollbackAudit)
  | ({ readonly kind: 'action' } & ModeratorAction);

/** A user's rollback spans more than the preview's bound; the routes answer 413 `too_large`. */
export class PreviewTooLarge extends Error {
  override readonly name = 'PreviewTooLarge';
}

/** Thrown when every scan slot is taken; the routes answer 503 `unavailable`. */
export class ConsoleBusy extends Error {
  override readonly name = 'ConsoleBusy';
}

const MAX_KEPT_RESULTS = 1_000;

export function createModeratorConsole(deps: ConsoleDeps) {
  const maxScans = deps.maxConcurrentScans ?? 2;
  const ttl = deps.resultTtlMs ?? 10 * 60_000;
  const maxPreviewPixels = deps.maxPreviewPixels ?? 1 << 20;
  let scans = 0;
  const results = new Map<string, { at: number; result: Promise<Omit<Applied, 'repeated'>> }>();

  async function scan<T>(run: () => Promise<T>): Promise<T> {
    if (scans >= maxScans)
      throw new ConsoleBusy(`${maxScans} moderator scans of the stream are already running; try again in a moment`);
    scans++;
    try {
      return await run();
    } finally {
      scans--;
    }
  }

  const clip = (region: Region) => clipRegion(region, deps.width, deps.height);

  function planner(selection: Selection): Planner {
    const region = selection.region === undefined ? undefined : clip(selection.region);
    if (selection.userId !== undefined)
      return createRollbackPlanner(deps.width, deps.height, {
        userId: selection.userId,
        since: selection.since,
        ...(region ? { region } : {}),
      });
    if (region === undefined) throw new RangeError('a selection needs a rectangle or a user');
    return createRestorePlanner(deps.width, deps.height, { at: selection.since, region });
  }

  /** The rectangle the preview shows: the selection's, or the box around a user's planned changes. */
  function previewRegion(selection: Selection, plan: ModerationPlan): Region {
    if (selection.region !== undefined) return clip(selection.region);
    if (plan.changes.length === 0) return { x: 0, y: 0, w: 1, h: 1 };
    let [x0, y0, x1, y1] = [deps.width, deps.height, 0, 0];
    for (const c of plan.changes)
      [x0, y0, x1, y1] = [Math.min(x0, c.x), Math.min(y0, c.y), Math.max(x1, c.x + 1), Math.max(y1, c.y + 1)];
    return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }

  /** Feeds the stream (to its current end) through `fold`; the sequence read through. */
  async function feed(fold: { add: Planner['add'] }): Promise<number> {
    const last = await deps.stream.lastSeq();
    if (last > 0) {
      for await (const batch of deps.stream.read(1, { untilSeq: last }))
        for (const s of batch) if (isPixelEvent(s.event)) fold.add(s.seq, s.event);
    }
    return last;
  }

  function afterImage(before: Uint8Array, region: Region, plan: ModerationPlan): Uint8Array {
    const after = before.slice();
    for (const c of plan.changes) after[(c.y - region.y) * region.w + (c.x - region.x)] = c.to;
    return after;
  }

  async function runApply(
    selection: Selection,
    moderatorId: string,
    rollbackId: string,
  ): Promise<Omit<Applied, 'repeated'>> {
    const plan = await scan(() => planFromStream(deps.stream, planner(selection)));
    const result: ExecuteResult = await executePlan(plan, deps.stream, deps.log, {
      width: deps.width,
      moderatorId,
      rollbackId,
      now: deps.clock.now,
    });
    return {
      rollbackId,
      planned: plan.changes.length,
      applied: result.applied,
      superseded: result.superseded,
      contended: result.contended.length,
    };
  }

  return {
    clip,

    survey: (selection: Selection): Promise<Survey> =>
      scan(async () => {
        const fold = createSurvey(deps.width, deps.height, {
          ...(selection.region === undefined ? {} : { region: clip(selection.region) }),
          since: selection.since,
          ...(selection.until === undefined ? {} : { until: selection.until }),
          ...(selection.userId === undefined ? {} : { userId: selection.userId }),
        });
        await feed(fold);
        return fold.finish();
      }),

    preview: (selection: Selection): Promise<Preview> =>
      scan(async () => {
        const plan = planner(selection);
        const canvas = createCanvasFold(deps.width, deps.height);
        const last = await feed(fanOut([plan, canvas]));
        const planned = plan.finish();
        const region = previewRegion(selection, planned);
        if (region.w * region.h > maxPreviewPixels)
          throw new PreviewTooLarge(
            `the rollback spans ${region.w}×${region.h} pixels; preview at most ${maxPreviewPixels} at once (select a rectangle)`,
          );
        const before = cropRegion(canvas.finish(), deps.width, region);
        const [beforePng, afterPng] = await Promise.all([
          deps.encodePng(before, region.w, region.h, deps.palette),
          deps.encodePng(afterImage(before, region, planned), region.w, region.h, deps.palette),
        ]);
        return {
          region,
          pixels: planned.changes.length,
          matchedEvents: planned.matchedEvents,
          throughSeq: Math.max(planned.throughSeq, last),
          beforePng,
          afterPng,
        };
      }),

    async apply(selection: Selection, moderatorId: string, idempotencyKey: string): Promise<Applied> {
      const now = deps.clock.now();
      for (const [key, kept] of results) if (now - kept.at > ttl) results.delete(key);
      const rollbackId = `rb_${createHash('sha256').update(`${moderatorId}\u0000${idempotencyKey}`).digest('base64url').slice(0, 16)}`;
      const kept = results.get(rollbackId);
      if (kept !== undefined) return { ...(await kept.result), repeated: true };
      const result = runApply(selection, moderatorId, rollbackId);
      results.set(rollbackId, { at: now, result });
      if (results.size > MAX_KEPT_RESULTS) results.delete(results.keys().next().value as string);
      // A failed apply is not remembered: its retry runs again (and the message ids keep it exact).
      result.catch(() => results.delete(rollbackId));
      return { ...(await result), repeated: false };
    },

    /** Bans (closing the user's sockets on every edge) or shadow-bans; recorded once per key. */
    async ban(
      userId: string,
      mode: BanMode,
      moderatorId: string,
      idempotencyKey: string,
    ): Promise<{ readonly repeated: boolean }> {
      await deps.bans.set(userId, mode);
      if (mode === 'ban') await deps.revocations.userBanned(userId);
      const recorded = await deps.actions.record(
        { moderatorId, action: mode, targetId: userId },
        `${moderatorId}:${idempotencyKey}`,
      );
      return { repeated: !recorded };
    },

    async unban(
      userId: string,
      moderatorId: string,
      idempotencyKey: string,
    ): Promise<{ readonly lifted: boolean; readonly repeated: boolean }> {
      const lifted = await deps.bans.clear(userId);
      const recorded = await deps.actions.record(
        { moderatorId, action: 'unban', targetId: userId },
        `${moderatorId}:${idempotencyKey}`,
      );
      return { lifted, repeated: !recorded };
    },

    /** Rollbacks from the stream and the other actions from their record, newest first, at most `limit`. */
    audit: (limit: number): Promise<readonly AuditEntry[]> =>
      scan(async () => {
        const fold = createRollbackAudit(limit);
        const [, actions] = await Promise.all([feed(fold), deps.actions.recent(limit)]);
        const entries: AuditEntry[] = [
          ...fold.finish().map((r) => ({ kind: 'rollback' as const, ...r })),
          ...actions.map((a) => ({ kind: 'action' as const, ...a })),
        ];
        entries.sort((a, b) => (b.kind === 'rollback' ? b.firstAt : b.at) - (a.kind === 'rollback' ? a.firstAt : a.at));
        return entries.slice(0, limit);
      }),
  };
}

export type ModeratorConsole = ReturnType<typeof createModeratorConsole>;
