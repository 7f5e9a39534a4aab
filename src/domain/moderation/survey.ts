/**
 * Pure folds over the event stream for the moderator console (no I/O; fed in stream order like a planner):
 *
 * - a survey: who placed inside a rectangle (or anywhere, for one user) within a time range: per user the
 *   number of placements and the first and last placement time, biggest placer first;
 * - the rollback audit: every rollback / restore a moderator wrote, one entry per rollback id (the
 *   `requestId` every `PixelRestored` of one execution shares), with its moderator, size and times;
 * - the current canvas (the preview's "before" picture), folded by the same `applyPixel` as every projection.
 */
import { applyPixel } from '../canvas.ts';
import { EventKind, type CanvasEvent } from '../../../proto/event-codec.ts';
import { inRegion } from './plan.ts';
import type { Region } from '../region.ts';

export interface SurveyCriteria {
  readonly region?: Region;
  readonly userId?: string;
  /** ms since the epoch, inclusive. */
  readonly since: number;
  /** ms since the epoch, inclusive; open when absent. */
  readonly until?: number;
}

export interface PlacerSummary {
  readonly userId: string;
  readonly placements: number;
  readonly firstAt: number;
  readonly lastAt: number;
}

export interface Survey {
  /** Biggest placer first, at most `maxUsers`. */
  readonly users: readonly PlacerSummary[];
  /** Distinct users that matched (may exceed `users.length`). */
  readonly userCount: number;
  readonly placements: number;
  /** Distinct pixels those placements touched. */
  readonly pixels: number;
  readonly throughSeq: number;
}

export interface Fold<T> {
  add(seq: number, event: CanvasEvent): void;
  finish(): T;
}

/** Counts placements (not moderator restores) matching the criteria. Memory: one entry per distinct user, one bit per pixel. */
export function createSurvey(width: number, height: number, criteria: SurveyCriteria, maxUsers = 100): Fold<Survey> {
  const byUser = new Map<string, { placements: number; firstAt: number; lastAt: number }>();
  const touched = new Uint8Array(width * height);
  let placements = 0;
  let pixels = 0;
  let throughSeq = 0;
  return {
    add(seq, event) {
      throughSeq = seq;
      if (event.kind !== EventKind.PixelPlaced) return;
      if (event.placedAt < criteria.since || (criteria.until !== undefined && event.placedAt > criteria.until)) return;
      if (criteria.userId !== undefined && event.userId !== criteria.userId) return;
      if (!inRegion(criteria.region, event.x, event.y)) return;
      placements++;
      const offset = event.y * width + event.x;
      if (touched[offset] === 0) {
        touched[offset] = 1;
        pixels++;
      }
      const entry = byUser.get(event.userId);
      if (entry === undefined)
        byUser.set(event.userId, { placements: 1, firstAt: event.placedAt, lastAt: event.placedAt });
      else {
        entry.placements++;
        entry.firstAt = Math.min(entry.firstAt, event.placedAt);
        entry.lastAt = Math.max(entry.lastAt, event.placedAt);
      }
    },
    finish() {
      const users = [...byUser].map(([userId, e]) => ({ userId, ...e }));
      users.sort((a, b) => b.placements - a.placements || a.firstAt - b.firstAt);
      return { users: users.slice(0, maxUsers), userCount: users.length, placements, pixels, throughSeq };
    },
  };
}

export interface RollbackAudit {
  readonly rollbackId: string;
  readonly moderatorId: string;
  /** `PixelRestored` events the rollback wrote. */
  readonly pixels: number;
  readonly firstAt: number;
  readonly lastAt: number;
  readonly firstSeq: number;
}

/** One entry per rollback id, newest (by first sequence) first, at most `max` (older ones are dropped as the fold goes). */
export function createRollbackAudit(max = 200): Fold<readonly RollbackAudit[]> {
  const entries = new Map<
    string,
    { moderatorId: string; pixels: number; firstAt: number; lastAt: number; firstSeq: number }
  >();
  return {
    add(seq, event) {
      if (event.kind !== EventKind.PixelRestored) return;
      const entry = entries.get(event.requestId);
      if (entry !== undefined) {
        entry.pixels++;
        entry.lastAt = Math.max(entry.lastAt, event.placedAt);
        return;
      }
      entries.set(event.requestId, {
        moderatorId: event.userId,
        pixels: 1,
        firstAt: event.placedAt,
        lastAt: event.placedAt,
        firstSeq: seq,
      });
      // Map order is insertion order, i.e. first sequence: the first key is the oldest rollback.
      if (entries.size > max) entries.delete(entries.keys().next().value as string);
    },
    finish() {
      return [...entries].map(([rollbackId, e]) => ({ rollbackId, ...e })).reverse();
    },
  };
}

/** The canvas as of the last event fed. */
export function createCanvasFold(width: number, height: number): Fold<Uint8Array> {
  const canvas = new Uint8Array(width * height);
  return {
    add(_seq, event) {
      applyPixel(canvas, width, event);
    },
    finish: () => canvas,
  };
}

/** Feeds every event to several folds (one read of the stream for all of them). */
export function fanOut(folds: readonly Fold<unknown>[]): Fold<void> {
  return {
    add(seq, event) {
      for (const f of folds) f.add(seq, event);
    },
    finish() {},
  };
}

/** The `w × h` rectangle of `region` cut out of a canvas (row-major palette indices). */
export function cropRegion(canvas: Uint8Array, canvasWidth: number, region: Region): Uint8Array {
  const out = new Uint8Array(region.w * region.h);
  for (let row = 0; row < region.h; row++) {
    const start = (region.y + row) * canvasWidth + region.x;
    out.set(canvas.subarray(start, start + region.w), row * region.w);
  }
  return out;
}
