/**
 * The live bitmap projection: keeps the bitmap store exactly equal to a replay of the stream.
 *
 * - Resumes from the store's own sequence (the truth; the durable consumer is re-pointed at it).
 * - Each delivered batch is applied with its sequence atomically; the store skips sequences it already
 *   holds, so redeliveries (after a crash mid-batch, a failed ack, a NATS reconnect) never double-apply.
 * - When the store turns out wiped (Redis restarted empty: it keeps nothing on disk), the projection
 *   rebuilds the canvas in memory (newest verified snapshot + tail, or the whole stream: ./recover-canvas.ts), writes
 *   it with its sequence in one step, and carries on. When it went back to an older consistent state (a
 *   CLI rebuild that landed behind the live projection, a restored dump), only the gap is replayed. It
 *   notices both on the next write (`SequenceConflict`) and, while idle, with a periodic check.
 */
import type { CanvasSpec } from '../domain/canvas.ts';
import { SequenceConflict } from '../ports/errors.ts';
import type { ProjectionLog } from '../ports/logger.ts';
import type { BitmapWriter, SequencedPixel } from '../ports/bitmap.ts';
import type { EventStream, ProjectionSource, StoredEvent } from '../ports/event-log.ts';
import { EventKind } from '../../proto/event-codec.ts';
import {
  describeRecovery,
  recoverCanvas,
  type RecoverOptions,
  type RecoveryPath,
  type SnapshotSource,
} from './recover-canvas.ts';

export interface RebuildProgress {
  /** Last sequence replayed so far. */
  readonly seq: number;
  /** Sequence the rebuild goes up to. */
  readonly targetSeq: number;
  readonly events: number;
}

export interface RebuildResult {
  readonly seq: number;
  readonly events: number;
  readonly ms: number;
  /** Which path the rebuild took (src/app/recover-canvas.ts); `describeRecovery` prints it. */
  readonly path: RecoveryPath;
}

export interface RebuildDeps {
  readonly stream: EventStream;
  readonly store: Pick<BitmapWriter, 'replaceAll'>;
  readonly spec: Pick<CanvasSpec, 'width' | 'height'> & Partial<Pick<CanvasSpec, 'palette'>>;
  /** History snapshots to start from (newest verified one + the tail); without, a full replay. */
  readonly snapshots?: SnapshotSource;
}

export class RebuildAborted extends Error {
  override readonly name = 'RebuildAborted';
}

/**
 * Recovers the canvas at `untilSeq` (default: the stream's last sequence now) from the newest verified
 * snapshot plus the tail, or by a full replay (`full`, or no snapshot verifies), then replaces the stored
 * canvas and sequence in one step. Byte-identical to the live projection at that sequence either way
 * (src/app/recover-canvas.ts says why).
 */
export async function rebuildBitmap(
  deps: RebuildDeps,
  options: Omit<RecoverOptions, 'onProgress'> & { readonly onProgress?: (progress: RebuildProgress) => void } = {},
): Promise<RebuildResult> {
  const started = performance.now();
  const recovered = await recoverCanvas(deps, options);
  if (options.signal?.aborted) throw new RebuildAborted(`rebuild aborted at sequence ${recovered.seq}`);
  await deps.store.replaceAll(recovered.canvas, recovered.seq, recovered);
  return { seq: recovered.seq, events: recovered.events, ms: performance.now() - started, path: recovered.path };
}

/**
 * Writes a batch in order: its pixels in as few `apply` calls as there are resizes + 1, each resize between
 * them (`BitmapWriter.resize`). Resolves to the stored sequence.
 */
async function applyBatch(
  store: BitmapWriter,
  batch: readonly StoredEvent[],
  expected: number | null,
): Promise<number> {
  let pixels: SequencedPixel[] = [];
  let stored = expected;
  for (const { seq, event } of batch) {
    if (event.kind !== EventKind.CanvasResized) {
      pixels.push({ seq, x: event.x, y: event.y, color: event.color });
      continue;
    }
    if (pixels.length > 0 || stored === null) stored = await store.apply(pixels, stored);
    pixels = [];
    stored = await store.resize(seq, event, stored);
  }
  if (pixels.length > 0 || stored === expected) stored = await store.apply(pixels, stored);
  return stored as number;
}

export interface BitmapProjectionDeps {
  readonly store: BitmapWriter;
  readonly source: ProjectionSource;
  readonly stream: EventStream;
  readonly spec: Pick<CanvasSpec, 'width' | 'height'> & Partial<Pick<CanvasSpec, 'palette'>>;
  readonly snapshots?: SnapshotSource;
  readonly log: ProjectionLog;
  /** How often an idle projection checks that the store still holds its sequence (default 1000 ms). */
  readonly wipeCheckMs?: number;
  /** Called after every applied batch with the stored sequence (metrics, tests). */
  readonly onApplied?: (seq: number, events: number) => void;
}

/** Runs the projection until `signal` aborts; resolves once the batch in progress (if any) has finished. */
export async function runBitmapProjection(deps: BitmapProjectionDeps, signal: AbortSignal): Promise<void> {
  const { store, source, log } = deps;
  let expected = await store.seq();
  if (expected === null && (await deps.stream.lastSeq()) > 0) {
    expected = (await rebuild('store holds no bitmap')).seq;
  }

  // The batch handler and the idle wipe check never run at the same time.
  let tail: Promise<unknown> = Promise.resolve();
  function serial<T>(task: () => Promise<T>): Promise<T> {
    const run = tail.then(task);
    tail = run.catch(() => undefined);
    return run;
  }

  async function rebuild(reason: string): Promise<RebuildResult> {
    log.warn({ reason, expectedSeq: expected }, 'rebuilding the bitmap from the stream');
    const result = await rebuildBitmap(deps, { signal });
    log.info(
      { seq: result.seq, events: result.events, ms: Math.round(result.ms), path: result.path.kind },
      `bitmap rebuilt ${describeRecovery(result)}`,
    );
    return result;
  }

  /**
   * Brings a store that lost writes back to `expected`: a store that went back to an older consistent state
   * (`found`: a `rplace rebuild bitmap` landing behind us, a restored dump) only needs the gap replayed;
   * one with nothing usable (`found` null: Redis restarted empty) is rebuilt from the whole stream.
   */
  async function repair(found: number | null, reason: string): Promise<number> {
    if (found === null || expected === null || found > expected) return (await rebuild(reason)).seq;
    log.warn({ reason, foundSeq: found, expectedSeq: expected }, 'replaying the gap the bitmap store lost');
    let seq = found;
    for await (const batch of deps.stream.read(found + 1, { untilSeq: expected, signal })) {
      seq = await applyBatch(store, batch, seq);
    }
    return seq;
  }

  async function handle(batch: readonly StoredEvent[]): Promise<void> {
    await serial(async () => {
      try {
        expected = await applyBatch(store, batch, expected);
      } catch (error) {
        if (!(error instanceof SequenceConflict)) throw error;
        expected = await repair(error.found, error.message);
        expected = await applyBatch(store, batch, expected);
      }
      deps.onApplied?.(expected, batch.length);
    });
  }

  const check = setInterval(() => {
    if (expected === null) return;
    serial(async () => {
      const found = await store.seq();
      if (expected !== null && (found === null || found < expected)) {
        expected = await repair(
          found,
          found === null ? 'store holds no bitmap (wiped)' : `store went back to sequence ${found}`,
        );
      }
    }).catch((error: unknown) => log.warn({ err: error }, 'bitmap store check failed'));
  }, deps.wipeCheckMs ?? 1000);
  try {
    await source.run((expected ?? 0) + 1, handle, signal);
    await tail;
  } finally {
    clearInterval(check);
  }
}
