/**
 * The canvas size at any stream sequence, read from the log: the initial size (config) and every resize
 * stored under `names.resizeSubject`, checked exactly as an in-order reader checks them (`checkStoredEvent`,
 * then the resize rule against the size before it), so a reader starting at any sequence starts with the size
 * every other reader has there.
 *
 * Resizes are rare (two in r/place 2022), so they are fetched one by one with `STREAM.MSG.GET next_by_subj`
 * (nats-server ≥ 2.9) from the first sequence not yet known, and cached: the log never changes below its end.
 */
import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import {
  checkStoredEvent,
  EventDecodeError,
  resizeOf,
  SubjectClass,
  type EventBounds,
} from '../../../proto/event-codec.ts';
import { type CanvasSize, type SequencedResize, SizeTimeline } from '../../domain/resize.ts';
import type { Names } from '../../domain/names.ts';
import { LogUnavailable } from '../../ports/errors.ts';

export interface ResizeTimeline {
  /** The size after the event at `seq`, and the last accepted resize at or before it. */
  sizeAt(seq: number): Promise<{ readonly size: CanvasSize; readonly lastResize: SequencedResize | null }>;
}

export function createResizeTimeline(
  /** The connection's manager (`jetStreamManagerOf`: a failed creation is asked again, never cached). */
  manager: () => Promise<JetStreamManager>,
  names: Names,
  bounds: EventBounds,
  lastSeq: () => Promise<number>,
): ResizeTimeline {
  const timeline = new SizeTimeline(bounds);
  /** Every resize with a sequence ≤ this is in `timeline`. */
  let knownThrough = 0;
  let loading: Promise<void> | null = null;

  async function load(): Promise<void> {
    const through = await lastSeq();
    let from = knownThrough + 1;
    while (from <= through) {
      let msg: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>;
      try {
        // nats.js 3.4 types `getMessage` without `next_by_subj`, which the server's STREAM.MSG.GET takes (≥ 2.9).
        const query = { seq: from, next_by_subj: names.resizeSubject } as unknown as MsgRequest;
        msg = await (await manager()).streams.getMessage(names.stream, query);
      } catch (cause) {
        throw new LogUnavailable(`cannot read the resizes of ${names.stream}: ${(cause as Error).message}`, {
          cause,
        });
      }
      if (msg === null || msg.seq > through) break;
      const size = timeline.sizeAt(msg.seq - 1);
      try {
        checkStoredEvent(msg.data, { ...size, colors: bounds.colors }, Date.parse(msg.timestamp), SubjectClass.Resize);
        timeline.record(msg.seq, resizeOf(msg.data)); // the rule refusing it: skipped, as every reader does
      } catch (error) {
        if (!(error instanceof EventDecodeError)) throw error;
      }
      from = msg.seq + 1;
    }
    knownThrough = Math.max(knownThrough, through);
  }

  return {
    async sizeAt(seq) {
      while (seq > knownThrough) {
        loading ??= load().finally(() => {
          loading = null;
        });
        const before = knownThrough;
        await loading;
        if (knownThrough === before) break; // the stream ends before `seq`: what is known is the answer
      }
      const size = timeline.sizeAt(seq);
      let lastResize: SequencedResize | null = null;
      for (const r of timeline.resizes) if (r.seq <= seq) lastResize = r;
      return { size, lastResize };
    },
  };
}
