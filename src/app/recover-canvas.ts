/**
 * Recovering a canvas (the bitmap rebuild, the projector's self-rebuild, an edge's start) from the newest
 * VERIFIED history snapshot plus the tail of the stream, or by a full replay from sequence 1.
 *
 * Invariant (test/recover-canvas.test.ts, the golden test): whichever path is taken, the canvas and sequence
 * are byte for byte those of a full replay through the same sequence. It holds because a snapshot at S is the
 * history projector's replay of events 1..S under the one skip rule (src/adapters/nats/stored-event.ts), and
 * the tail is read under the same rule; a rejected event is skipped on both paths.
 *
 * A snapshot is used only when it verifies, otherwise the next older one is tried (at most `maxCandidates`),
 * then the full replay:
 * - its width, height and byte length are those the log says were in force at its sequence (the initial size, or
 *   the last resize at or before it: `EventStream.sizeAt`), and no byte is outside the palette (a corrupt row);
 * - its checksum matches: the SHA-256 of the loaded raw canvas equals the row's `canvas_sha256`, written with
 *   the canvas (migrations/0009_snapshot_checksum.ts; rows from before it have none and skip this check);
 * - its sequence is not past the stream's end (a snapshot of an older stream with the same canvas id);
 * - the stream still holds S+1: the tail's first delivered sequence is exactly S+1 (a stream trimmed past it
 *   cannot give the tail). A rejected event at S+1 still counts: `readPixels` keeps it as an entry that
 *   sets no pixel.
 * Every snapshot skipped is named with its reason in `path.rejected`, which `describeRecovery` (the line the
 * CLI prints and the roles log) includes.
 *
 * The replay reads `readPixels` (columns, no object or string per event): that decode was the limit of the
 * old full replay (profile in BENCHMARKS.md "Recovery").
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CanvasSpec } from '../domain/canvas.ts';
import { growCanvas, type CanvasSize } from '../domain/resize.ts';
import type { EventStream, PixelBatch } from '../ports/event-log.ts';
import type { HistoryStore } from '../ports/history.ts';

/** The snapshot reads recovery needs (the history store's, src/adapters/pg/history-snapshots.ts). */
export type SnapshotSource = Pick<HistoryStore, 'latestSnapshot' | 'loadSnapshot'>;

/** Which path a recovery took, and why. */
export type RecoveryPath =
  | {
      readonly kind: 'snapshot';
      readonly snapshotSeq: number;
      readonly ageMs: number;
      readonly tailEvents: number;
      readonly rejected: readonly string[];
    }
  | { readonly kind: 'full'; readonly reason: string; readonly rejected: readonly string[] };

export interface RecoveredCanvas {
  readonly canvas: Uint8Array;
  /** The size in force at `seq` (resizes in the replayed range included). */
  readonly width: number;
  readonly height: number;
  /** Last sequence the canvas reflects: the last one delivered (the snapshot's when the tail is empty). */
  readonly seq: number;
  /** Events replayed (tail only on the snapshot path). */
  readonly events: number;
  readonly path: RecoveryPath;
}

export interface RecoverDeps {
  readonly stream: EventStream;
  /** The INITIAL size (before any resize in the log); with `palette`, a snapshot byte outside it fails verification. */
  readonly spec: Pick<CanvasSpec, 'width' | 'height'> & Partial<Pick<CanvasSpec, 'palette'>>;
  readonly snapshots?: SnapshotSource;
  /** ms since the epoch, for the snapshot's age (default Date.now). */
  readonly now?: () => number;
}

export interface RecoverOptions {
  /** Last sequence to recover (default: the stream's last sequence now). */
  readonly untilSeq?: number;
  /** Skip snapshots: replay the whole stream. */
  readonly full?: boolean;
  readonly signal?: AbortSignal;
  /** Older snapshots tried after the newest fails to verify (default 3 candidates in all). */
  readonly maxCandidates?: number;
  readonly onProgress?: (progress: {
    readonly seq: number;
    readonly targetSeq: number;
    readonly events: number;
  }) => void;
}

class TailGap extends Error {}

/** Recovers the canvas at `untilSeq` (see the module comment for the path rule). */
export async function recoverCanvas(deps: RecoverDeps, options: RecoverOptions = {}): Promise<RecoveredCanvas> {
  const { spec } = deps;
  const targetSeq = options.untilSeq ?? (await deps.stream.lastSeq());
  const rejected: string[] = [];
  let reason = options.full
    ? 'asked for (--full)'
    : deps.snapshots
      ? 'no snapshot at or before the target'
      : 'no snapshot store';
  if (!options.full && deps.snapshots && targetSeq > 0) {
    let maxSeq = targetSeq;
    for (let tried = 0; tried < (options.maxCandidates ?? 3); tried++) {
      let meta;
      try {
        meta = await deps.snapshots.latestSnapshot(maxSeq);
      } catch (error) {
        // No history schema yet, Postgres down: a rebuild must still work, from the stream alone.
        rejected.push(`snapshot store unavailable (${(error as Error).message})`);
        break;
      }
      if (meta === null) break;
      maxSeq = meta.seq - 1;
      const fail = (why: string) => rejected.push(`snapshot seq ${meta.seq}: ${why}`);
      const size = (await deps.stream.sizeAt(meta.seq)).size;
      if (meta.width !== size.width || meta.height !== size.height) {
        fail(`is ${meta.width}×${meta.height}, not ${size.width}×${size.height} (the size at its sequence)`);
        continue;
      }
      let canvas: Uint8Array;
      try {
        canvas = (await deps.snapshots.loadSnapshot(meta.seq)).slice();
      } catch (error) {
        fail(`does not load (${(error as Error).message})`);
        continue;
      }
      const bad = badByte(canvas, size, spec.palette?.length) ?? badChecksum(canvas, meta.canvasSha256);
      if (bad !== null) {
        fail(bad);
        continue;
      }
      try {
        if (meta.seq > (await deps.stream.lastSeq())) {
          fail('is past the end of the stream (a snapshot of another stream?)');
          continue;
        }
        const state = { canvas, width: size.width, height: size.height };
        const { events, last } = await replayInto(state, deps.stream, meta.seq, targetSeq, options);
        return {
          ...state,
          seq: last,
          events,
          path: {
            kind: 'snapshot',
            snapshotSeq: meta.seq,
            ageMs: Math.max(0, (deps.now ?? Date.now)() - meta.capturedAt),
            tailEvents: events,
            rejected,
          },
        };
      } catch (error) {
        if (!(error instanceof TailGap)) throw error;
        fail(error.message);
      }
    }
    if (rejected.length > 0) reason = `no snapshot verified (${rejected.join('; ')})`;
  }
  const state = { canvas: new Uint8Array(spec.width * spec.height), width: spec.width, height: spec.height };
  const { events, last } = await replayInto(state, deps.stream, 0, targetSeq, options);
  return { ...state, seq: last, events, path: { kind: 'full', reason, rejected } };
}

/** The one line a CLI prints or a role logs about the path taken (and any snapshot it skipped, and why). */
export function describeRecovery(result: Pick<RecoveredCanvas, 'path' | 'events' | 'seq'>): string {
  const p = result.path;
  if (p.kind === 'snapshot')
    return `from snapshot seq ${p.snapshotSeq} (age ${formatAge(p.ageMs)}) + ${p.tailEvents} events, through seq ${result.seq}${p.rejected.length > 0 ? `; skipped ${p.rejected.join('; ')}` : ''}`;
  return `full replay: ${p.reason}; ${result.events} events through seq ${result.seq}`;
}

function formatAge(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function badByte(canvas: Uint8Array, size: CanvasSize, colors: number | undefined): string | null {
  if (canvas.length !== size.width * size.height)
    return `holds ${canvas.length} bytes, not ${size.width * size.height}`;
  if (colors === undefined) return null;
  for (let i = 0; i < canvas.length; i++) {
    if ((canvas[i] as number) >= colors)
      return `byte ${i} is colour ${canvas[i]}, outside the ${colors}-colour palette (corrupt)`;
  }
  return null;
}

/** The snapshot row's checksum against the loaded canvas (the writer's: SHA-256 of the raw canvas). */
function badChecksum(canvas: Uint8Array, expected: Uint8Array | null | undefined): string | null {
  if (expected === null || expected === undefined) return null;
  const actual = createHash('sha256').update(canvas).digest();
  if (expected.length === actual.length && timingSafeEqual(actual, expected)) return null;
  return `checksum mismatch (canvas_sha256 ${Buffer.from(expected).toString('hex').slice(0, 16)}…, canvas hashes to ${actual.toString('hex').slice(0, 16)}…): corrupt, skipped`;
}

/**
 * Applies events `afterSeq+1 .. targetSeq` to `canvas`; resolves with the count read and the last sequence
 * delivered (`afterSeq` when none). Throws `TailGap` when the stream does not start at `afterSeq+1`.
 */
async function replayInto(
  state: ColumnsCanvas,
  stream: EventStream,
  afterSeq: number,
  targetSeq: number,
  options: RecoverOptions,
): Promise<{ events: number; last: number }> {
  let last = afterSeq;
  if (targetSeq <= afterSeq) return { events: 0, last };
  const readOptions = options.signal ? { untilSeq: targetSeq, signal: options.signal } : { untilSeq: targetSeq };
  let events = 0;
  let first = true;
  for await (const batch of stream.readPixels(afterSeq + 1, readOptions)) {
    if (first && afterSeq > 0 && batch.count > 0 && batch.seqs[0] !== afterSeq + 1) {
      throw new TailGap(`the stream no longer holds seq ${afterSeq + 1} (its tail starts at ${batch.seqs[0]})`);
    }
    first = false;
    applyColumns(state, batch);
    last = batch.count > 0 ? (batch.seqs[batch.count - 1] as number) : last;
    events += batch.count;
    options.onProgress?.({ seq: last, targetSeq, events });
  }
  return { events, last };
}

/** A canvas that columns are applied to; a resize replaces `canvas` and the size. */
export interface ColumnsCanvas {
  canvas: Uint8Array;
  width: number;
  height: number;
}

/**
 * The shared replay rule (src/domain/canvas.ts `replay`) on columns: the last write to a pixel wins, and a
 * resize grows the canvas between the entries around it (src/domain/resize.ts `growCanvas`).
 */
export function applyColumns(state: ColumnsCanvas, batch: PixelBatch): void {
  const { count, setsPixel, xs, ys, colors, resizes } = batch;
  let from = 0;
  for (let r = 0; r <= resizes.length; r++) {
    const resize = resizes[r];
    const to = resize ? resize.index : count;
    const canvas = state.canvas;
    const stride = state.width;
    for (let i = from; i < to; i++) {
      if (setsPixel[i] === 1) canvas[(ys[i] as number) * stride + (xs[i] as number)] = colors[i] as number;
    }
    if (resize) {
      state.canvas = growCanvas(state.canvas, state, resize.resize);
      state.width = resize.resize.width;
      state.height = resize.resize.height;
      from = resize.index + 1;
    }
  }
}
