/**
 * The edge's starting point: the Redis bitmap together with the sequence it reflects (read atomically),
 * or, when Redis holds no projection yet, a replay of the stream from 1 through the shared `replay`.
 * The edge then tails the stream from `seq + 1`.
 */
import { createCanvas, replay, type CanvasSpec } from '../../domain/canvas.ts';
import type { BitmapStore } from '../../ports/bitmap.ts';
import type { EventStream } from '../../ports/event-log.ts';

export async function loadEdgeCanvas(
  deps: { readonly bitmap: Pick<BitmapStore, 'load'>; readonly stream: EventStream; readonly spec: Pick<CanvasSpec, 'width' | 'height'> },
  signal?: AbortSignal,
): Promise<{ canvas: Uint8Array; seq: number; source: 'bitmap' | 'replay' }> {
  const stored = await deps.bitmap.load();
  if (stored && stored.canvas.length === deps.spec.width * deps.spec.height) {
    return { canvas: stored.canvas, seq: stored.seq, source: 'bitmap' };
  }
  const canvas = createCanvas(deps.spec);
  const until = await deps.stream.lastSeq();
  let seq = 0;
  for await (const batch of deps.stream.read(1, { untilSeq: until, ...(signal ? { signal } : {}) })) {
    replay(canvas, deps.spec.width, batch.map((stored) => stored.event));
    const last = batch[batch.length - 1];
    if (last) seq = last.seq;
  }
  return { canvas, seq: Math.max(seq, until), source: 'replay' };
}
