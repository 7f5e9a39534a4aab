/**
 * The operator's resize command (`rplace canvas resize`): reads the size in force at the end of the log, applies
 * the resize rule (src/domain/resize.ts: it only grows, the old area fits), and appends one `CanvasResized`
 * only if no other resize was stored since (`ResizeLog`), so a stale size can never be grown from.
 *
 * Outcomes are values: `refused` (the rule's code and message: shrink, unchanged, origin outside, too large);
 * `resized` with the sequence from which the new size is in force. The log's failures reject
 * (`LogUnavailable`, `SequenceConflict` when another resize raced this one).
 */
import { EventKind } from '../../proto/event-codec.ts';
import { checkResize, type CanvasSize, type Resize, type ResizeRefusal } from '../domain/resize.ts';
import type { Clock } from '../ports/clock.ts';
import type { EventStream, ResizeLog } from '../ports/event-log.ts';

export type ResizeOutcome =
  | { readonly kind: 'refused'; readonly code: ResizeRefusal; readonly message: string; readonly size: CanvasSize }
  | {
      readonly kind: 'resized';
      readonly seq: number;
      readonly from: CanvasSize;
      readonly to: Resize;
      readonly duplicate: boolean;
    };

export interface ResizeCanvasDeps {
  readonly stream: Pick<EventStream, 'lastSeq' | 'sizeAt'>;
  readonly log: ResizeLog;
  readonly clock: Clock;
}

/** The size in force now (after the log's last event). */
export async function currentSize(stream: Pick<EventStream, 'lastSeq' | 'sizeAt'>): Promise<CanvasSize> {
  return (await stream.sizeAt(await stream.lastSeq())).size;
}

export async function resizeCanvas(
  deps: ResizeCanvasDeps,
  request: Resize & { readonly operator: string; readonly requestId: string },
): Promise<ResizeOutcome> {
  const { size, lastResize } = await deps.stream.sizeAt(await deps.stream.lastSeq());
  const verdict = checkResize(size, request);
  if (!verdict.ok) return { kind: 'refused', code: verdict.code, message: verdict.message, size };
  const to: Resize = {
    width: request.width,
    height: request.height,
    originX: request.originX,
    originY: request.originY,
  };
  const result = await deps.log.appendResize(
    {
      kind: EventKind.CanvasResized,
      ...to,
      userId: request.operator,
      requestId: request.requestId,
      placedAt: deps.clock.now(),
    },
    request.requestId,
    lastResize?.seq ?? 0,
  );
  return { kind: 'resized', seq: result.seq, from: size, to, duplicate: result.duplicate };
}
