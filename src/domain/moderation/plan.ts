/**
 * Pure planning of moderation: which pixels a rollback or a point-in-time restore changes, computed by
 * folding the stream in order through the same `applyPixel` every projection uses. No I/O: the CLI feeds
 * it batches from the event stream, the tests feed it generated histories and compare with `replay`.
 *
 * Rollback of user U (optionally only placements at or after `since`, optionally only inside `region`):
 * a pixel is affected when its LAST events form an unbroken run of U's placements that all match the
 * criteria; it is restored to the colour it had just before that run. Any later event by anyone else
 * (another user, a moderator's restore, or U's own placement outside the criteria) ends U's claim on the
 * pixel: "unless someone else has placed there since". Rolling back twice is a no-op, because the first
 * rollback's `PixelRestored` events are by the moderator and end every run.
 *
 * Restore of a region to time T: every pixel inside the region whose current colour differs from its
 * colour after the last event placed at or before T (the stream prefix up to T) is set back.
 */
import { applyPixel } from '../canvas.ts';
import type { Region } from '../region.ts';
import { EventKind, type CanvasEvent } from '../../../proto/event-codec.ts';

export interface PlannedChange {
  readonly x: number;
  readonly y: number;
  /** The pixel's colour now (at `throughSeq`). */
  readonly from: number;
  /** The colour the compensating event sets. */
  readonly to: number;
}

export interface ModerationPlan {
  /** Changes in row-major order. */
  readonly changes: readonly PlannedChange[];
  /** The stream sequence the plan was computed through. */
  readonly throughSeq: number;
  /** Events that matched the criteria (a rollback's candidate placements), for the operator's summary. */
  readonly matchedEvents: number;
}

export interface RollbackCriteria {
  readonly userId: string;
  /** ms since the epoch; placements before it are left alone. */
  readonly since?: number;
  readonly region?: Region;
}

export interface RestoreCriteria {
  /** ms since the epoch: the moment to restore to. */
  readonly at: number;
  readonly region: Region;
}

export interface Planner {
  /** Feeds one event, in stream order. */
  add(seq: number, event: CanvasEvent): void;
  finish(): ModerationPlan;
}

export function inRegion(region: Region | undefined, x: number, y: number): boolean {
  return region === undefined || (x >= region.x && y >= region.y && x < region.x + region.w && y < region.y + region.h);
}

/** Clips a region to the canvas; throws a RangeError for an empty or disjoint region. */
export function clipRegion(region: Region, width: number, height: number): Region {
  const x0 = Math.max(0, region.x);
  const y0 = Math.max(0, region.y);
  const x1 = Math.min(width, region.x + region.w);
  const y1 = Math.min(height, region.y + region.h);
  if (x1 <= x0 || y1 <= y0)
    throw new RangeError(
      `region ${region.x},${region.y},${region.w},${region.h} does not overlap the ${width}x${height} canvas`,
    );
  return { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
}

const NONE = -1;

export function createRollbackPlanner(width: number, height: number, criteria: RollbackCriteria): Planner {
  const canvas = new Uint8Array(width * height);
  // Colour before the trailing run of matching placements, or NONE when the pixel's last event is not one.
  const restoreTo = new Int16Array(width * height).fill(NONE);
  let throughSeq = 0;
  let matchedEvents = 0;
  return {
    add(seq, event) {
      const offset = event.y * width + event.x;
      const matches =
        event.kind === EventKind.PixelPlaced &&
        event.userId === criteria.userId &&
        (criteria.since === undefined || event.placedAt >= criteria.since) &&
        inRegion(criteria.region, event.x, event.y);
      if (matches) {
        matchedEvents++;
        if (restoreTo[offset] === NONE) restoreTo[offset] = canvas[offset] as number;
      } else {
        restoreTo[offset] = NONE;
      }
      applyPixel(canvas, width, event);
      throughSeq = seq;
    },
    finish() {
      const changes: PlannedChange[] = [];
      for (let offset = 0; offset < restoreTo.length; offset++) {
        const to = restoreTo[offset] as number;
        const from = canvas[offset] as number;
        if (to !== NONE && to !== from) changes.push({ x: offset % width, y: Math.floor(offset / width), from, to });
      }
      return { changes, throughSeq, matchedEvents };
    },
  };
}

export function createRestorePlanner(width: number, height: number, criteria: RestoreCriteria): Planner {
  const canvas = new Uint8Array(width * height);
  let target: Uint8Array | null = null;
  let throughSeq = 0;
  let matchedEvents = 0;
  return {
    add(seq, event) {
      // The stream prefix up to T is "the canvas at T"; the first later event freezes that picture.
      if (target === null && event.placedAt > criteria.at) target = canvas.slice();
      if (target !== null && inRegion(criteria.region, event.x, event.y)) matchedEvents++;
      applyPixel(canvas, width, event);
      throughSeq = seq;
    },
    finish() {
      const then = target ?? canvas;
      const { x: rx, y: ry, w: rw, h: rh } = clipRegion(criteria.region, width, height);
      const changes: PlannedChange[] = [];
      for (let y = ry; y < ry + rh; y++) {
        for (let x = rx; x < rx + rw; x++) {
          const offset = y * width + x;
          const from = canvas[offset] as number;
          const to = then[offset] as number;
          if (from !== to) changes.push({ x, y, from, to });
        }
      }
      return { changes, throughSeq, matchedEvents };
    },
  };
}

/**
 * Removes planned changes to pixels that events after the plan touched: someone placed there since the
 * plan was made, so the moderator's picture of that pixel is stale and it is left alone.
 */
export function dropTouched(
  changes: readonly PlannedChange[],
  width: number,
  later: Iterable<{ readonly x: number; readonly y: number }>,
): PlannedChange[] {
  const touched = new Set<number>();
  for (const e of later) touched.add(e.y * width + e.x);
  if (touched.size === 0) return [...changes];
  return changes.filter((c) => !touched.has(c.y * width + c.x));
}
