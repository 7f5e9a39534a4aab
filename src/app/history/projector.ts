/**
 * The history projector: a durable consumer of the stream that writes every event to the history store
 * and keeps its OWN in-memory canvas (through the shared `replay`/`applyPixel`), from which it takes
 * snapshots. Snapshots are therefore consistent by construction: a copy of one canvas labelled with the one
 * sequence it reflects, written in the same transaction as the rows up to that sequence.
 *
 * Snapshot cadence (all configurable): every `snapshotIntervalMs` of wall-clock time (`snapshotIfDue`,
 * called by a timer between batches), and while consuming, whenever the events since the last snapshot span
 * `snapshotIntervalMs` of EVENT time or number `snapshotMaxEvents`. The event-time rule makes a catch-up or a
 * rebuild leave the same snapshot density as live running did, which bounds every point-in-time tail.
 *
 * Store outages: the batch is held and its commit retried with backoff until it succeeds (nothing is acked
 * meanwhile, so nothing is lost); the outage and the recovery are reported through `observer`.
 * A `SequenceConflict` (someone else moved or wiped the position) makes the projector reload its state
 * from the store and resume from the stored position. A `StoreRejected` (the store refuses the data itself:
 * retrying can never help) halts the projector loudly with `ProjectionHalted` instead of wedging it in a
 * retry loop; events reach it only after `checkStoredEvent`, so this is a bug or a schema change, not input.
 *
 * A resize (`CanvasResized`) is not a history row: the projector grows its canvas (src/domain/resize.ts) and
 * takes a snapshot AT the resize's sequence, in the same commit. So every point-in-time at or after the resize
 * starts from a snapshot of the new size, every one before it from an older snapshot whose tail ends before
 * the resize (rule in src/ports/history.ts), and each answers with the size in force at its instant.
 */
import { ProjectionHalted, SequenceConflict, StoreRejected, StoreUnavailable } from '../../ports/errors.ts';
import { applyPixel, createCanvas, replay } from '../../domain/canvas.ts';
import { growCanvas } from '../../domain/resize.ts';
import { EventKind } from '../../../proto/event-codec.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ProjectionSource, StoredEvent } from '../../ports/event-log.ts';
import type { HistoryRow, HistoryStore, SnapshotInput } from '../../ports/history.ts';
import { sleep } from '../sleep.ts';

export interface ProjectorObserver {
  committed?(info: {
    readonly seq: number;
    readonly events: number;
    readonly snapshots: number;
    readonly ms: number;
  }): void;
  snapshot?(info: { readonly seq: number; readonly maxPlacedAt: number; readonly pixelCount: number }): void;
  storeDown?(info: { readonly error: Error; readonly heldFromSeq: number }): void;
  storeBack?(info: { readonly downMs: number; readonly attempts: number; readonly seq: number }): void;
  reloaded?(info: {
    readonly seq: number;
    readonly snapshotSeq: number | null;
    readonly replayed: number;
    readonly reason: string;
  }): void;
  error?(info: { readonly error: Error; readonly what: string }): void;
  /** The projection stopped for good on a permanent failure (`run` then rejects with the same error). */
  halted?(info: { readonly error: ProjectionHalted }): void;
}

export interface HistoryProjectorOptions {
  readonly store: HistoryStore;
  readonly source: ProjectionSource;
  readonly clock: Clock;
  /** The INITIAL size (before any resize in the log); after a reload, the size of the snapshot it starts from. */
  readonly width: number;
  readonly height: number;
  /** Name of the position row (`names.consumers.history`). */
  readonly projection: string;
  readonly snapshotIntervalMs: number;
  readonly snapshotMaxEvents: number;
  readonly retryInitialMs?: number;
  readonly retryMaxMs?: number;
  /**
   * Least time from one batch commit's start to the next's (ms; default 0): the events that arrive meanwhile
   * wait in the source and go in the next commit. Batching by time as well as size: a transaction costs
   * Postgres about the same for 5 events as for 500, and at a steady rate the source hands over whatever
   * came while the last commit ran, a few events each. A batch of PACED_BELOW_EVENTS or more is not held
   * back: the projector is behind (a catch-up) and its commits are amortised already.
   */
  readonly minCommitIntervalMs?: number;
  readonly observer?: ProjectorObserver;
}

/** Batches at least this large are committed back to back, whatever `minCommitIntervalMs` says. */
export const PACED_BELOW_EVENTS = 1_000;

export interface HistoryProjector {
  /** Loads state from the store and consumes until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
  /** Writes a snapshot when the wall-clock interval has passed and the canvas moved; serialised with batches. */
  snapshotIfDue(): Promise<void>;
  /** Sequence committed to the store (and reflected by the in-memory canvas between batches). */
  readonly seq: number;
  /** A reference to the live canvas (tests and benchmarks read it; never mutate it). */
  readonly canvas: Uint8Array;
}

export function createHistoryProjector(options: HistoryProjectorOptions): HistoryProjector {
  const { store, source, clock, projection, observer = {} } = options;
  let { width, height } = options;
  const retryInitialMs = options.retryInitialMs ?? 250;
  const retryMaxMs = options.retryMaxMs ?? 5_000;
  const minCommitIntervalMs = options.minCommitIntervalMs ?? 0;
  /** When the last batch commit started; -Infinity after a large batch (see PACED_BELOW_EVENTS): no pause. */
  let lastBatchCommitAt = Number.NEGATIVE_INFINITY;

  let canvas = createCanvas({ width, height });
  let committedSeq = 0;
  let appliedSeq = 0;
  let maxPlacedAt = 0;
  let pixelCount = 0;
  let lastSnap = { seq: 0, maxPlacedAt: 0, wallAt: clock.now(), eventsSince: 0 };
  let runSignal: AbortSignal | undefined;
  let chain: Promise<unknown> = Promise.resolve();

  /** Runs `fn` after every earlier batch/snapshot has finished: the canvas has one writer at a time. */
  function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = chain.then(fn, fn);
    chain = next.catch(() => undefined);
    return next;
  }

  async function load(reason: string, signal: AbortSignal): Promise<void> {
    for (let delay = retryInitialMs; ; delay = Math.min(delay * 2, retryMaxMs)) {
      try {
        const position = await store.position(projection);
        const snap = await store.latestSnapshot(position);
        width = snap?.width ?? options.width;
        height = snap?.height ?? options.height;
        const base = snap ? await store.loadSnapshot(snap.seq) : createCanvas({ width, height });
        if (base.length !== width * height)
          throw new Error(`stored snapshot is ${base.length} bytes, canvas is ${width}×${height}`);
        const from = snap?.seq ?? 0;
        const tail = await store.tail(from, position, Number.POSITIVE_INFINITY);
        canvas = replay(base, width, tail.changes);
        committedSeq = appliedSeq = position;
        pixelCount = (snap?.pixelCount ?? 0) + tail.changes.length;
        maxPlacedAt = Math.max(snap?.maxPlacedAt ?? 0, await store.tailMaxPlacedAt(from, position));
        lastSnap = {
          seq: from,
          maxPlacedAt: snap?.maxPlacedAt ?? (position > 0 ? maxPlacedAt : 0),
          wallAt: clock.now(),
          eventsSince: tail.changes.length,
        };
        observer.reloaded?.({ seq: position, snapshotSeq: snap?.seq ?? null, replayed: tail.changes.length, reason });
        return;
      } catch (error) {
        if (!(error instanceof StoreUnavailable) || signal.aborted) throw error;
        observer.error?.({ error, what: 'loading history state (retrying)' });
        await sleep(delay, signal);
        if (signal.aborted) throw error;
      }
    }
  }

  function capture(): SnapshotInput {
    const snap: SnapshotInput = {
      seq: appliedSeq,
      capturedAt: clock.now(),
      maxPlacedAt,
      pixelCount,
      width,
      height,
      canvas: canvas.slice(),
    };
    lastSnap = { seq: appliedSeq, maxPlacedAt, wallAt: snap.capturedAt, eventsSince: 0 };
    return snap;
  }

  async function commitWithRetry(
    rows: readonly HistoryRow[],
    snapshots: readonly SnapshotInput[],
    newSeq: number,
    signal: AbortSignal,
  ): Promise<void> {
    let downSince = 0;
    let attempts = 0;
    for (let delay = retryInitialMs; ; delay = Math.min(delay * 2, retryMaxMs)) {
      const started = clock.now();
      try {
        attempts++;
        await store.commit({ projection, expectedSeq: committedSeq, newSeq, rows, snapshots });
        committedSeq = newSeq;
        if (downSince) observer.storeBack?.({ downMs: clock.now() - downSince, attempts, seq: newSeq });
        observer.committed?.({
          seq: newSeq,
          events: rows.length,
          snapshots: snapshots.length,
          ms: clock.now() - started,
        });
        for (const s of snapshots)
          observer.snapshot?.({ seq: s.seq, maxPlacedAt: s.maxPlacedAt, pixelCount: s.pixelCount });
        return;
      } catch (error) {
        if (error instanceof StoreRejected) {
          throw new ProjectionHalted(
            `history store refused the batch ${committedSeq + 1}..${newSeq}: ${error.message}`,
            committedSeq + 1,
            { cause: error },
          );
        }
        if (!(error instanceof StoreUnavailable)) throw error;
        if (!downSince) {
          downSince = clock.now();
          observer.storeDown?.({ error, heldFromSeq: committedSeq + 1 });
        }
        await sleep(delay, signal);
        if (signal.aborted) throw error;
      }
    }
  }

  async function handle(batch: readonly StoredEvent[], signal: AbortSignal): Promise<void> {
    const rows: HistoryRow[] = [];
    const snapshots: SnapshotInput[] = [];
    let newSeq = committedSeq;
    for (const stored of batch) {
      if (stored.seq <= committedSeq) continue;
      newSeq = Math.max(newSeq, stored.seq);
      const event = stored.event;
      if (event.kind === EventKind.CanvasResized) {
        if (stored.seq <= appliedSeq) continue;
        canvas = growCanvas(canvas, { width, height }, event);
        width = event.width;
        height = event.height;
        appliedSeq = stored.seq;
        if (event.placedAt > maxPlacedAt) maxPlacedAt = event.placedAt;
        snapshots.push(capture());
        continue;
      }
      rows.push({ seq: stored.seq, storedAt: stored.storedAt, event });
      if (stored.seq <= appliedSeq) continue;
      const placedAt = event.placedAt;
      if (appliedSeq > lastSnap.seq) {
        const anchor = lastSnap.seq === 0 && lastSnap.maxPlacedAt === 0 ? placedAt : lastSnap.maxPlacedAt;
        if (placedAt - anchor >= options.snapshotIntervalMs || lastSnap.eventsSince >= options.snapshotMaxEvents)
          snapshots.push(capture());
      } else if (lastSnap.seq === 0 && lastSnap.maxPlacedAt === 0) {
        lastSnap.maxPlacedAt = placedAt;
      }
      applyPixel(canvas, width, event);
      appliedSeq = stored.seq;
      pixelCount++;
      lastSnap.eventsSince++;
      if (placedAt > maxPlacedAt) maxPlacedAt = placedAt;
    }
    if (newSeq === committedSeq) return;
    lastBatchCommitAt = batch.length >= PACED_BELOW_EVENTS ? Number.NEGATIVE_INFINITY : clock.now();
    await commitWithRetry(rows, snapshots, newSeq, signal);
  }

  /** Holds the next batch back until `minCommitIntervalMs` after the last commit started (outside `exclusive`). */
  async function pace(signal: AbortSignal): Promise<void> {
    const wait = lastBatchCommitAt + minCommitIntervalMs - clock.now();
    if (wait > 0 && !signal.aborted) await sleep(wait, signal);
  }

  const projector: HistoryProjector = {
    get seq() {
      return committedSeq;
    },
    get canvas() {
      return canvas;
    },

    async run(signal) {
      runSignal = signal;
      let reason = 'start';
      while (!signal.aborted) {
        await exclusive(() => load(reason, signal));
        const inner = new AbortController();
        const forward = () => inner.abort();
        signal.addEventListener('abort', forward, { once: true });
        if (signal.aborted) inner.abort(); // aborted during `load`: a listener added now would never fire
        let conflict: SequenceConflict | null = null;
        try {
          await source.run(
            committedSeq + 1,
            async (batch) => {
              await exclusive(async () => {
                try {
                  await handle(batch, inner.signal);
                } catch (error) {
                  if (error instanceof SequenceConflict) {
                    conflict = error;
                    inner.abort();
                  }
                  throw error;
                }
              });
              await pace(inner.signal);
            },
            inner.signal,
          );
        } catch (error) {
          if (error instanceof ProjectionHalted) {
            observer.halted?.({ error });
            throw error;
          }
          if (!signal.aborted && !conflict) {
            observer.error?.({ error: error as Error, what: 'consuming the stream (restarting)' });
            await sleep(retryMaxMs, signal);
          }
        } finally {
          signal.removeEventListener('abort', forward);
        }
        reason = conflict ? `position conflict: ${(conflict as SequenceConflict).message}` : 'consumer ended';
      }
      await chain;
    },

    snapshotIfDue() {
      return exclusive(async () => {
        if (appliedSeq !== committedSeq || committedSeq <= lastSnap.seq) return;
        if (clock.now() - lastSnap.wallAt < options.snapshotIntervalMs) return;
        const previous = lastSnap;
        const snap = capture();
        try {
          await commitWithRetry([], [snap], committedSeq, runSignal ?? new AbortController().signal);
        } catch (error) {
          lastSnap = previous;
          if (!(error instanceof StoreUnavailable)) throw error;
        }
      });
    },
  };
  return projector;
}
