/**
 * Timelapse frames: the canvas (cropped to a region) at `frames` evenly spaced instants from `from` to `to`,
 * each exactly `canvasAt(t)` by the prefix rule (./ports.ts), produced incrementally: a frame starts from the
 * previous frame's canvas and replays only the events in between, except when a snapshot lies further ahead,
 * in which case it jumps to that snapshot (inflate ~4 MB) instead of replaying up to a snapshot interval.
 */
import { createCanvas, replay } from '../../domain/canvas.ts';
import { cropRegion } from './point-in-time.ts';
import type { HistoryStore, Region } from './ports.ts';

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
  projection: string,
  request: TimelapseRequest,
  signal?: AbortSignal,
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
      canvas = await store.loadSnapshot(snap.seq);
      seq = snap.seq;
    }
    const until = (await store.nextSnapshotSeq(seq)) ?? (await store.position(projection));
    // Whole-canvas tail: later frames start from this canvas, so events outside the region still matter
    // only inside it; filtering by region is exact because pixels outside are never shown.
    const tail = await store.tail(seq, until, time, request.region);
    replay(canvas, width, tail.changes);
    seq = tail.lastSeq;
    yield { index, time, seq, pixels: cropRegion(canvas, width, request.region, out) };
  }
}
