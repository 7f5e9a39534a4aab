/**
 * The canvas at instant T (rule in ./ports.ts): the usable snapshot with the largest sequence, decompressed,
 * plus the tail up to the first event placed after T, replayed with the shared `replay`. The tail is bounded
 * by the next snapshot's sequence (whose `maxPlacedAt` is > T by choice of the snapshot), so its length is at
 * most one snapshot interval of events.
 */
import { createCanvas, replay } from '../../domain/canvas.ts';
import type { HistoryStore, Region } from './ports.ts';

export interface CanvasAt {
  readonly canvas: Uint8Array;
  /** Last stream sequence included. */
  readonly seq: number;
  readonly snapshotSeq: number | null;
  readonly replayed: number;
}

export async function canvasAt(
  store: HistoryStore,
  spec: { readonly width: number; readonly height: number },
  projection: string,
  time: number,
): Promise<CanvasAt> {
  const snap = await store.snapshotFor(time);
  const canvas = snap ? await store.loadSnapshot(snap.seq) : createCanvas(spec);
  if (canvas.length !== spec.width * spec.height) throw new Error(`snapshot is ${canvas.length} bytes, canvas is ${spec.width}×${spec.height}`);
  const from = snap?.seq ?? 0;
  const until = (await store.nextSnapshotSeq(from)) ?? (await store.position(projection));
  const tail = await store.tail(from, until, time);
  replay(canvas, spec.width, tail.changes);
  return { canvas, seq: tail.lastSeq, snapshotSeq: snap?.seq ?? null, replayed: tail.changes.length };
}

/** Copies a region out of a row-major canvas. */
export function cropRegion(canvas: Uint8Array, width: number, region: Region, out = new Uint8Array(region.w * region.h)): Uint8Array {
  for (let row = 0; row < region.h; row++) {
    const start = (region.y + row) * width + region.x;
    out.set(canvas.subarray(start, start + region.w), row * region.w);
  }
  return out;
}
