/**
 * The edge's starting point: the Redis bitmap together with the sequence it reflects (read atomically),
 * or, when Redis holds no projection yet, a recovery (src/app/recover-canvas.ts): the newest verified
 * history snapshot plus the tail when `snapshots` is given, else a replay of the stream from 1.
 * The edge then tails the stream from `seq + 1`.
 */
import type { CanvasSpec } from '../../domain/canvas.ts';
import type { BitmapStore } from '../../ports/bitmap.ts';
import type { EventStream } from '../../ports/event-log.ts';
import { describeRecovery, recoverCanvas, type SnapshotSource } from '../recover-canvas.ts';

export async function loadEdgeCanvas(
  deps: {
    readonly bitmap: Pick<BitmapStore, 'load'>;
    readonly stream: EventStream;
    readonly spec: Pick<CanvasSpec, 'width' | 'height'> & Partial<Pick<CanvasSpec, 'palette'>>;
    readonly snapshots?: SnapshotSource;
  },
  signal?: AbortSignal,
): Promise<{
  canvas: Uint8Array;
  seq: number;
  width: number;
  height: number;
  source: 'bitmap' | 'replay' | 'snapshot';
  detail?: string;
}> {
  const stored = await deps.bitmap.load();
  // The bitmap's size is stored with it (atomically with its sequence): the size in force at that sequence.
  if (stored && stored.canvas.length === stored.width * stored.height) {
    return { canvas: stored.canvas, seq: stored.seq, width: stored.width, height: stored.height, source: 'bitmap' };
  }
  const until = await deps.stream.lastSeq();
  const recovered = await recoverCanvas(deps, { untilSeq: until, ...(signal ? { signal } : {}) });
  const source = recovered.path.kind === 'snapshot' ? 'snapshot' : 'replay';
  return {
    canvas: recovered.canvas,
    seq: Math.max(recovered.seq, until),
    width: recovered.width,
    height: recovered.height,
    source,
    detail: describeRecovery(recovered),
  };
}
