/**
 * The edge's live tail: reads the stream's pixels (`readPixels`: no object per event) from `state.receivedSeq + 1`, buffers events into the
 * `EdgeCanvas` and flushes one `pixels` frame per window through `publish`. On any read failure (NATS
 * restart, a gap) it re-reads from the next sequence it needs after a short pause, so the edge's copy
 * never misses or double-applies an event.
 */
import type { EventStream } from '../../ports/event-log.ts';
import { flushDelay, type EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import { FlushWindow } from '../../domain/edge/flush-window.ts';
import { sleep } from '../sleep.ts';
import type { Resize } from '../../domain/resize.ts';

export interface EdgeFeedDeps {
  readonly stream: EventStream;
  readonly state: EdgeCanvas;
  /** Wait between a received event and its frame when quiet (ms); an idle edge publishes at once. */
  readonly windowMs: number;
  /**
   * The latency budget: under load the window grows with the cost of a flush up to this (ms; default
   * `windowMs`, a fixed window). See `FlushWindow`.
   */
  readonly maxWindowMs?: number;
  /** Called with each frame, synchronously after the state reflects it. */
  publish(frame: Uint8Array, firstSeq: number, lastSeq: number, events: number): void;
  /**
   * Called when the canvas grew (the resize at `seq`), synchronously after the state reflects it and after the
   * frame of every event before it was published: what clients receive next is in the new size.
   */
  resized?(seq: number, resize: Resize): void;
  /** Called when a read fails (it is retried). */
  onReadError?(error: unknown): void;
  /** The edge counts as caught up when at most this many events behind the stream's end (default 1,000). */
  readonly readyLagEvents?: number;
  /** How often to compare with the stream's end (default 1,000 ms). */
  readonly lagCheckMs?: number;
}

export interface EdgeFeed {
  /** Reading and within `readyLagEvents` of the stream's end at the last check. */
  readonly caughtUp: boolean;
  /** Events behind the stream's end at the last check. */
  readonly lag: number;
  /** The current flush window (ms). */
  readonly windowMs: number;
  stop(): Promise<void>;
}

export function startEdgeFeed(deps: EdgeFeedDeps): EdgeFeed {
  const { state } = deps;
  const abort = new AbortController();
  let lastFlushAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lag = Number.POSITIVE_INFINITY;
  let reading = false;
  const flushWindow = new FlushWindow({
    minMs: deps.windowMs,
    maxMs: Math.max(deps.windowMs, deps.maxWindowMs ?? deps.windowMs),
  });

  const flush = () => {
    timer = undefined;
    const startedAt = performance.now();
    const firstSeq = state.seq + 1;
    const events = state.pendingCount;
    const frame = state.flush();
    lastFlushAt = Date.now();
    if (frame) deps.publish(frame, firstSeq, state.seq, events);
    flushWindow.observe(performance.now() - startedAt);
  };
  const schedule = () => {
    if (!state.hasPending) return;
    const delay = flushDelay(Date.now(), lastFlushAt, flushWindow.windowMs, state.pendingCount, state.maxBatchEvents);
    if (delay === 0) {
      if (timer) clearTimeout(timer);
      flush();
    } else {
      timer ??= setTimeout(flush, delay);
    }
  };

  const readLoop = async () => {
    while (!abort.signal.aborted) {
      try {
        reading = true;
        for await (const batch of deps.stream.readPixels(state.receivedSeq + 1, { signal: abort.signal })) {
          const { count, seqs, setsPixel, xs, ys, colors, resizes } = batch;
          let nextResize = 0;
          for (let i = 0; i < count; i++) {
            const seq = seqs[i] as number;
            if (setsPixel[i] === 1) state.pushPixel(seq, xs[i] as number, ys[i] as number, colors[i] as number);
            else if (resizes[nextResize]?.index === i) {
              const { resize } = resizes[nextResize++] as { resize: Resize };
              if (timer) clearTimeout(timer);
              flush(); // every event before the resize goes out in the old size
              if (state.resize(seq, resize)) deps.resized?.(seq, resize);
            } else state.pushOther(seq);
            if (state.pendingCount >= state.maxBatchEvents) flush();
          }
          schedule();
        }
      } catch (error) {
        if (abort.signal.aborted) break;
        deps.onReadError?.(error);
      }
      reading = false;
      if (!abort.signal.aborted) await sleep(500, abort.signal);
    }
    reading = false;
  };

  const checkLag = async () => {
    try {
      const last = await deps.stream.lastSeq();
      lag = Math.max(0, last - state.receivedSeq);
    } catch {
      lag = Number.POSITIVE_INFINITY;
    }
  };
  void checkLag();
  const lagTimer = setInterval(() => void checkLag(), deps.lagCheckMs ?? 1_000);
  const loop = readLoop();

  return {
    get caughtUp() {
      return reading && lag <= (deps.readyLagEvents ?? 1_000);
    },
    get lag() {
      return lag;
    },
    get windowMs() {
      return flushWindow.windowMs;
    },
    async stop() {
      abort.abort();
      clearInterval(lagTimer);
      if (timer) clearTimeout(timer);
      await loop;
      if (state.hasPending) flush();
    },
  };
}
