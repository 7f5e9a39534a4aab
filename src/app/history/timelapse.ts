/**
 * Timelapse frames: the canvas (cropped to a region) at `frames` evenly spaced instants from `from` to `to`,
 * each exactly `canvasAt(t)` by the prefix rule (src/ports/history.ts), produced incrementally: a frame starts from the
 * previous frame's canvas and replays only the events in between (one read of the packed chunks, filtered to
 * the region), except when a snapshot lies further ahead, in which case it jumps to that snapshot (inflate
 * ~4 MB, or a copy from `cache`) instead of replaying up to a snapshot interval.
 */
import { createCanvas, replay } from '../../domain/canvas.ts';
import { cropRegion, snapshotCanvas } from './point-in-time.ts';
import type { HistoryStore } from '../../ports/history.ts';
import type { Region } from '../../domain/region.ts';
import type { SnapshotCache } from './snapshot-cache.ts';

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
  const { width } = spec;
  const times = frameTimes(request.from, request.to, request.frames);
  let canvas = createCanvas(spec);
  let seq = 0;
  const out = new Uint8Array(request.region.w * request.region.h);
  for (const [index, time] of times.entries()) {
    if (signal?.aborted) return;
    const snap = await store.snapshotFor(time);
    if (snap && snap.seq > seq) {
      canvas = await snapshotCanvas(store, spec, snap, cache);
      seq = snap.seq;
    }
    // Region-filtered tail: pixels outside the region are never shown, and a jump to a snapshot brings
    // the whole canvas back, so skipping them is exact.
    const tail = await store.tail(seq, Number.POSITIVE_INFINITY, time, request.region);
    replay(canvas, width, tail.changes);
    seq = tail.lastSeq;
    yield { index, time, seq, pixels: cropRegion(canvas, width, request.region, out) };
  }
}
