/**
 * The edge's live tail: reads the stream's pixels (`readPixels`: no object per event) from `state.receivedSeq + 1`, buffers events into the
 * `EdgeCanvas` and, once per window, runs one flush cycle over the live send groups (src/domain/edge/send-groups.ts):
 * one group per event-loop turn, each turn applying what arrived since (`publish`) and sending the group every
 * event it lacks (`send`), so each group's frame is cut just before that group is written. On any read failure
 * (NATS restart, a gap) it re-reads from the next sequence it needs after a short pause, so the edge's copy
 * never misses or double-applies an event.
 */
import type { EventStream } from '../../ports/event-log.ts';
import { flushDelay, type EdgeCanvas } from '../../domain/edge/edge-canvas.ts';
import { FlushWindow } from '../../domain/edge/flush-window.ts';
import { SendGroups } from '../../domain/edge/send-groups.ts';
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
  /** Live send groups flushed in turn (default 1: one frame to every socket per window). See `SendGroups`. */
  readonly sendGroups?: number;
  /**
   * Called with each batch of events as it is applied (one frame of exactly them), synchronously after the state
   * reflects it: what follows every event once (viewport tiles, metrics).
   */
  publish(frame: Uint8Array, firstSeq: number, lastSeq: number, events: number): void;
  /**
   * Called with one send group's frame: every event after the group's last frame up to the state's `seq`
   * (with one group, the frame `publish` was just given). Default: nothing (a feed without sockets).
   */
  send?(group: number, frame: Uint8Array): void;
  /** Called after each flush cycle with the time its flushes took (ms, their synchronous part) and the next window. */
  onCycle?(flushMs: number, windowMs: number): void;
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

  const groups = new SendGroups(Math.max(1, Math.floor(deps.sendGroups ?? 1)), state.seq);
  // A group never lags the canvas by more than one largest batch, so its frame stays within that bound and
  // within what the ring holds (`frameSince` then always has it).
  const maxLag = Math.max(1, Math.min(state.maxBatchEvents, state.ringCapacity));
  let cycleFlushMs = 0;
  // Between two turns of a cycle: first the group just published is written (uWS.js 20.30 drains its topics in
  // the loop's check phase before the immediates run: a probe measured the writes of one publish to 5,000 sockets
  // inside the next setImmediate), then the next turn is due and runs with the stream's next read, so that what
  // arrived while the sockets were written goes into the next group's frame. Two more immediates let that read
  // happen (an immediate pending keeps the loop's poll from sleeping: a 1 ms timer here let a starved edge
  // sleep and wait for the CPU at every turn); the last one runs the turn when nothing arrived.
  let nextTurn: ReturnType<typeof setImmediate> | undefined;
  let hops = 0;
  let turnDue = false;
  const cancelTurn = () => {
    if (nextTurn) clearImmediate(nextTurn);
    nextTurn = undefined;
    turnDue = false;
  };
  const hop = () => {
    nextTurn = undefined;
    hops += 1;
    turnDue = true;
    if (hops < 3) nextTurn = setImmediate(hop);
    else turn();
  };

  /** Something to send: events pending, or a group that has not had all the applied ones yet. */
  const behind = () => state.hasPending || groups.oldestSeq < state.seq;
  /** Applies what is pending (one frame of exactly those events to `publish`); returns that frame. */
  const apply = (): Uint8Array | null => {
    const firstSeq = state.seq + 1;
    const events = state.pendingCount;
    const frame = state.flush();
    if (frame) deps.publish(frame, firstSeq, state.seq, events);
    return frame;
  };
  /** Sends the group of this turn everything it lacks; `applied` is the frame just applied, if any. */
  const sendTurn = (applied: Uint8Array | null, appliedFrom: number) => {
    const group = groups.next;
    const since = groups.lastSeq(group);
    if (since < state.seq) {
      const frame = applied !== null && since + 1 === appliedFrom ? applied : state.frameSince(since);
      if (frame) deps.send?.(group, frame);
    }
    groups.sent(state.seq);
  };
  /** One turn of the cycle: apply, send one group; the next group in the next event-loop turn. */
  const turn = () => {
    cancelTurn();
    if (timer) clearTimeout(timer);
    timer = undefined;
    const startedAt = performance.now();
    if (groups.atCycleStart) {
      lastFlushAt = Date.now();
      cycleFlushMs = 0;
    }
    const appliedFrom = state.seq + 1;
    sendTurn(apply(), appliedFrom);
    cycleFlushMs += performance.now() - startedAt;
    if (groups.atCycleStart) {
      const windowMs = flushWindow.observe(cycleFlushMs);
      deps.onCycle?.(cycleFlushMs, windowMs);
      // A cycle already overdue starts after these writes too, not in this tick (it would merge two groups).
      if (!behind()) return;
      const delay = flushDelay(Date.now(), lastFlushAt, windowMs, state.pendingCount, state.maxBatchEvents);
      if (delay > 0) {
        timer = setTimeout(turn, delay);
        return;
      }
    }
    hops = 0;
    nextTurn = setImmediate(hop);
  };
  /** Applies and sends every group at once: before a resize, on a full batch, and when stopping. */
  const flushAll = () => {
    cancelTurn();
    if (timer) clearTimeout(timer);
    timer = undefined;
    const appliedFrom = state.seq + 1;
    const applied = apply();
    for (let g = 0; g < groups.count; g++) sendTurn(applied, appliedFrom);
    groups.allAt(state.seq);
    lastFlushAt = Date.now();
  };
  const schedule = () => {
    if (turnDue) return turn(); // the cycle's next turn, with what this read brought
    if (!behind() || nextTurn) return;
    const delay = flushDelay(Date.now(), lastFlushAt, flushWindow.windowMs, state.pendingCount, state.maxBatchEvents);
    if (delay === 0) turn();
    else timer ??= setTimeout(turn, delay);
  };

  const readLoop = async () => {
    while (!abort.signal.aborted) {
      try {
        reading = true;
        for await (const batch of deps.stream.readPixels(state.receivedSeq + 1, { signal: abort.signal })) {
          const { count, seqs, setsPixel, xs, ys, colors, resizes } = batch;
          let nextResize = 0;
          let oldest = groups.oldestSeq;
          for (let i = 0; i < count; i++) {
            const seq = seqs[i] as number;
            if (setsPixel[i] === 1) state.pushPixel(seq, xs[i] as number, ys[i] as number, colors[i] as number);
            else if (resizes[nextResize]?.index === i) {
              const { resize } = resizes[nextResize++] as { resize: Resize };
              flushAll(); // every event before the resize goes out in the old size, to every group
              if (state.resize(seq, resize)) {
                groups.allAt(state.seq);
                deps.resized?.(seq, resize);
              }
              oldest = groups.oldestSeq;
            } else state.pushOther(seq);
            if (state.receivedSeq - oldest >= maxLag) {
              flushAll();
              oldest = groups.oldestSeq;
            }
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
      cancelTurn();
      await loop;
      if (state.hasPending || groups.oldestSeq < state.seq) flushAll();
    },
  };
}
