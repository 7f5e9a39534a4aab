/**
 * Timelapse frames: the canvas (cropped to a region) at `frames` evenly spaced instants from `from` to `to`,
 * each exactly `canvasAt(t)` by the prefix rule (src/ports/history.ts), produced incrementally: a frame starts from the
 * previous frame's canvas and replays only the events in between (one read of the packed chunks, filtered to
 * the region), except when a snapshot lies further ahead, in which case it jumps to that snapshot (inflate
 * ~4 MB, or a copy from `cache`) instead of replaying up to a snapshot interval.
 *
 * Across a resize each frame has the size in force at its instant: the history projector snapshots AT every
 * resize, so the first frame after it jumps to that snapshot (a tail never crosses a resize), and a region
 * that reaches past the canvas of an earlier instant shows colour 0 there (that area did not exist yet).
 */
import { createCanvas, replay } from '../../domain/canvas.ts';
import { cropRegion, sizeOf, snapshotCanvas } from './point-in-time.ts';
import type { HistoryStore } from '../../ports/history.ts';
import type { Region } from '../../domain/region.ts';
import type { SnapshotCache } from '../../domain/history/snapshot-cache.ts';

export interface TimelapseRequest {
  readonly from: number;
  readonly to: number;
  readonly frames: number;
  readonly region: Region;
}

export interface TimelapseFrame {
  readonly index: number;
  readonly time: number;
  readonly seq: number;
  /** `region.w × region.h` palette indices; valid until the next frame is requested. */
  readonly pixels: Uint8Array;
}

export function frameTimes(from: number, to: number, frames: number): number[] {
  if (frames === 1) return [to];
  return Array.from({ length: frames }, (_, i) => Math.round(from + ((to - from) * i) / (frames - 1)));
}

export async function* timelapseFrames(
  store: HistoryStore,
  spec: { readonly width: number; readonly height: number },
  _projection: string,
  request: TimelapseRequest,
  signal?: AbortSignal,
  cache?: SnapshotCache,
): AsyncGenerator<TimelapseFrame> {
  let { width, height } = spec;
  const times = frameTimes(request.from, request.to, request.frames);
  let canvas = createCanvas(spec);
  let seq = 0;
  const out = new Uint8Array(request.region.w * request.region.h);
  for (const [index, time] of times.entries()) {
    if (signal?.aborted) return;
    const snap = await store.snapshotFor(time);
    if (snap && snap.seq > seq) {
      canvas = await snapshotCanvas(store, spec, snap, cache);
      ({ width, height } = sizeOf(spec, snap));
      seq = snap.seq;
    }
    // Region-filtered tail: pixels outside the region are never shown, and a jump to a snapshot brings
    // the whole canvas back, so skipping them is exact.
    const tail = await store.tail(seq, Number.POSITIVE_INFINITY, time, request.region);
    replay(canvas, width, tail.changes);
    seq = tail.lastSeq;
    yield { index, time, seq, pixels: cropClipped(canvas, { width, height }, request.region, out) };
  }
}

/** `cropRegion` of a region that may reach past the canvas (an instant before a resize): colour 0 there. */
function cropClipped(
  canvas: Uint8Array,
  size: { readonly width: number; readonly height: number },
  region: Region,
  out: Uint8Array<ArrayBuffer>,
): Uint8Array {
  if (region.x + region.w <= size.width && region.y + region.h <= size.height)
    return cropRegion(canvas, size.width, region, out);
  out.fill(0);
  const w = Math.max(0, Math.min(region.w, size.width - region.x));
  for (let row = 0; row < region.h && region.y + row < size.height; row++) {
    const start = (region.y + row) * size.width + region.x;
    if (w > 0) out.set(canvas.subarray(start, start + w), row * region.w);
  }
  return out;
}
