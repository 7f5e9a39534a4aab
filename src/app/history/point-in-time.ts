/**
 * The canvas at instant T (rule in src/ports/history.ts): the usable snapshot with the largest sequence, loaded (or
 * copied from the LRU of recently loaded snapshots), plus the tail up to the first event placed after T, read
 * at the same time and replayed with the shared `replay`. The tail is read in one statement from the packed
 * chunks; it stops before the next snapshot's sequence (whose `maxPlacedAt` is > T by choice of the
 * snapshot), so its length is at most one snapshot interval of events.
 */
import { createCanvas, replay } from '../../domain/canvas.ts';
import type { HistoryStore, SnapshotMeta } from '../../ports/history.ts';
import type { Region } from '../../domain/region.ts';
import type { SnapshotCache } from '../../domain/history/snapshot-cache.ts';

export interface CanvasAt {
  readonly canvas: Uint8Array;
  /** The size in force at that instant. */
  readonly width: number;
  readonly height: number;
  /** Last stream sequence included. */
  readonly seq: number;
  readonly snapshotSeq: number | null;
  readonly replayed: number;
}

/**
 * The size a point-in-time answer has: its snapshot's (the projector snapshots at every resize, so a tail never
 * crosses one), else the initial size.
 */
export function sizeOf(
  spec: { readonly width: number; readonly height: number },
  snap: SnapshotMeta | null,
): { width: number; height: number } {
  return snap ? { width: snap.width, height: snap.height } : { width: spec.width, height: spec.height };
}

/** The snapshot's canvas, from `cache` when there (a fresh copy either way: the caller may mutate it). */
export async function snapshotCanvas(
  store: HistoryStore,
  initial: { readonly width: number; readonly height: number },
  snap: SnapshotMeta | null,
  cache?: SnapshotCache,
): Promise<Uint8Array> {
  const spec = sizeOf(initial, snap);
  if (!snap) return createCanvas(spec);
  let canvas = cache?.take(snap.seq);
  if (!canvas) {
    canvas = await store.loadSnapshot(snap.seq);
    cache?.put(snap.seq, canvas);
  }
  if (canvas.length !== spec.width * spec.height)
    throw new Error(`snapshot is ${canvas.length} bytes, canvas is ${spec.width}×${spec.height}`);
  return canvas;
}

export async function canvasAt(
  store: HistoryStore,
  spec: { readonly width: number; readonly height: number },
  _projection: string,
  time: number,
  cache?: SnapshotCache,
): Promise<CanvasAt> {
  const snap = await store.snapshotFor(time);
  const from = snap?.seq ?? 0;
  // The tail needs only the snapshot's sequence: both reads run at once (two pool connections).
  const [canvas, tail] = await Promise.all([
    snapshotCanvas(store, spec, snap, cache),
    store.tail(from, Number.POSITIVE_INFINITY, time),
  ]);
  const size = sizeOf(spec, snap);
  replay(canvas, size.width, tail.changes);
  // A resize is no history row, so a prefix that ends just past one reads as including it; the projector's
  // snapshot AT the resize says where the old size ended (one indexed lookup, only when the tail moved on).
  let seq = tail.lastSeq;
  if (seq > (snap?.seq ?? 0)) {
    const next = await store.latestSnapshot(seq);
    if (next && next.seq > (snap?.seq ?? 0) && (next.width !== size.width || next.height !== size.height))
      seq = Math.min(seq, next.seq - 1);
  }
  return { canvas, ...size, seq, snapshotSeq: snap?.seq ?? null, replayed: tail.changes.length };
}

/** Copies a region out of a row-major canvas. */
export function cropRegion(
  canvas: Uint8Array,
  width: number,
  region: Region,
  out = new Uint8Array(region.w * region.h),
): Uint8Array {
  for (let row = 0; row < region.h; row++) {
    const start = (region.y + row) * width + region.x;
    out.set(canvas.subarray(start, start + region.w), row * region.w);
  }
  return out;
}
