/**
 * The dataset export (issue 16): every placement of a time range, in stream order, as CSV (Reddit's r/place
 * 2022 shape), NDJSON or Parquet.
 *
 * ## Which placements a range holds
 * Times follow the point-in-time rule of src/ports/history.ts: `seqAt(T)` is the last sequence of canvas(T)'s prefix.
 * An export of `from..to` holds exactly the events with `seqAt(from) < seq ≤ seqAt(to)` (no `from`: from the
 * first event; no `to`: up to the history's position), so replaying it onto canvas(from) gives canvas(to), byte
 * for byte, and an export with no `from` replayed onto a blank canvas IS canvas(to). `afterSeq` resumes an
 * interrupted export: it starts after that sequence (the last one the previous run wrote).
 */
import type { Region } from '../../domain/region.ts';
import type { HistoryStore } from '../../ports/history.ts';
import type { ExportFormat, RowFormatter } from '../../domain/history/export-format.ts';
import { csvFormatter, ndjsonFormatter } from '../../domain/history/export-format.ts';
import type { ParquetEncoder, PlacementLog } from '../../ports/export.ts';
import type { PlacementBatch } from '../../domain/history/placement-batch.ts';

const utf8 = new TextEncoder();

export interface ExportQuery {
  readonly from?: number;
  readonly to?: number;
  readonly afterSeq?: number;
  readonly region?: Region;
}

/** A parsed query's optional time bounds as an `ExportQuery` (an absent bound stays absent, not `undefined`). */
export function timeBoundsOf(q: { readonly from?: number | undefined; readonly to?: number | undefined }): {
  readonly from?: number;
  readonly to?: number;
} {
  return { ...(q.from === undefined ? {} : { from: q.from }), ...(q.to === undefined ? {} : { to: q.to }) };
}

export interface ExportPlan {
  /** `seqAt(from)` (0 without `from`). */
  readonly fromSeq: number;
  /** `seqAt(to)`, or the history's position without `to`. */
  readonly toSeq: number;
  /** The export holds events with `startSeq < seq ≤ toSeq`: `max(fromSeq, afterSeq)`. */
  readonly startSeq: number;
  readonly region?: Region;
}

/** The last sequence of canvas(time)'s prefix (src/ports/history.ts), from the usable snapshot plus its tail. */
export async function seqAt(store: HistoryStore, time: number): Promise<number> {
  const snap = await store.snapshotFor(time);
  return (await store.tail(snap?.seq ?? 0, Number.POSITIVE_INFINITY, time)).lastSeq;
}

/**
 * Checks a query against the canvas and the history, and resolves its sequences. Every problem is listed
 * (the caller answers 400 / exits 2 with them); a store failure rejects with `StoreUnavailable`.
 */
export async function planExport(
  store: HistoryStore,
  log: PlacementLog,
  canvas: { readonly width: number; readonly height: number },
  query: ExportQuery,
  now: number,
): Promise<
  { readonly ok: true; readonly plan: ExportPlan } | { readonly ok: false; readonly problems: readonly string[] }
> {
  const { from, to, afterSeq, region } = query;
  const problems: string[] = [];
  if (to !== undefined && to > now) problems.push(`to ${new Date(to).toISOString()} is in the future`);
  if (from !== undefined && from > now) problems.push(`from ${new Date(from).toISOString()} is in the future`);
  if (from !== undefined && to !== undefined && to <= from) problems.push('to must be after from');
  if (
    region &&
    (region.w < 1 ||
      region.h < 1 ||
      region.x < 0 ||
      region.y < 0 ||
      region.x + region.w > canvas.width ||
      region.y + region.h > canvas.height)
  ) {
    problems.push(
      `region ${region.w}×${region.h} at (${region.x},${region.y}) leaves the ${canvas.width}×${canvas.height} canvas`,
    );
  }
  if (afterSeq !== undefined && (!Number.isSafeInteger(afterSeq) || afterSeq < 0))
    problems.push('after-seq must be a non-negative integer');
  if (problems.length > 0) return { ok: false, problems };
  const last = await log.lastSeq();
  if (afterSeq !== undefined && afterSeq > last)
    return { ok: false, problems: [`after-seq ${afterSeq} is beyond the history, which ends at seq ${last}`] };
  const [fromSeq, toSeq] = await Promise.all([
    from === undefined ? 0 : seqAt(store, from),
    to === undefined ? last : seqAt(store, to),
  ]);
  return {
    ok: true,
    plan: { fromSeq, toSeq, startSeq: Math.max(fromSeq, afterSeq ?? 0), ...(region ? { region } : {}) },
  };
}

export interface ExportEncoding {
  readonly format: ExportFormat;
  readonly userKey: (userId: string) => string;
  /**
   * The salt behind `userKey` (`saltedUserKey`; `null`: `rawUserKey`), so that a log's worker threads
   * (`PlacementLog.formatted`, used for gzip'd text) make the same keys. Absent: the text formats are
   * formatted on this thread.
   */
  readonly userSalt?: string | null;
  readonly colorHex: readonly string[];
  /** Needed for `parquet`. */
  readonly parquet?: ParquetEncoder;
  /**
   * Gzip the output: `stream` wraps a body (src/adapters/gzip-stream.ts) at `level`; with worker threads each
   * run is compressed there at `level` instead (one gzip member per run: the same text once gunzipped).
   */
  readonly gzip?: ExportGzip;
  /** Called after each batch was handed on, with the batch's last sequence and its row count. */
  readonly onBatch?: (lastSeq: number, rows: number) => void;
}

export interface ExportGzip {
  readonly level: number;
  readonly stream: (body: AsyncIterable<Uint8Array>, level: number) => AsyncIterable<Uint8Array>;
}

/**
 * The export's bytes, streamed: each batch is read from the log when the previous one was consumed, so
 * memory is one batch (Parquet: one row group; worker threads: a bounded number of runs in flight) whatever
 * the range. Ending the iteration early ends the read (and stops the log's workers).
 */
export async function* exportBytes(
  log: PlacementLog,
  plan: ExportPlan,
  encoding: ExportEncoding,
): AsyncGenerator<Uint8Array> {
  const { onBatch, gzip, format, userSalt } = encoding;
  // Worker threads pay only for compressed text: plain CSV/NDJSON costs ~0.75 µs a row to format on this
  // thread, less than cutting the COPY into runs and handing them across, and each worker hashes every user
  // again (npm run bench -- export, 2 cores: hashed CSV 1.32M events/s on one thread against 0.97M on two
  // workers; gzip level 1: 0.33M against 0.54M).
  if (format !== 'parquet' && gzip && log.formatted && userSalt !== undefined) {
    const runs = log.formatted(plan.startSeq, plan.toSeq, plan.region, {
      format,
      userSalt,
      colorHex: encoding.colorHex,
      gzipLevel: gzip ? gzip.level : null,
    });
    for await (const run of runs) {
      yield run.bytes;
      if (run.rows > 0) onBatch?.(run.lastSeq, run.rows);
    }
    return;
  }
  const body = oneThread(log, plan, encoding);
  yield* gzip ? gzip.stream(body, gzip.level) : body;
}

/** Every format parsed and formatted on this thread (Parquet always; text without worker threads). */
async function* oneThread(log: PlacementLog, plan: ExportPlan, encoding: ExportEncoding): AsyncGenerator<Uint8Array> {
  const { onBatch } = encoding;
  async function* batches(): AsyncGenerator<PlacementBatch> {
    for await (const batch of log.placements(plan.startSeq, plan.toSeq, plan.region)) {
      yield batch;
      if (batch.count > 0) onBatch?.(batch.seq[batch.count - 1] as number, batch.count);
    }
  }
  if (encoding.format === 'parquet') {
    if (!encoding.parquet) throw new Error('parquet export needs a Parquet encoder');
    yield* encoding.parquet.encode(batches(), { userKey: encoding.userKey, colorHex: encoding.colorHex });
    return;
  }
  const formatter: RowFormatter =
    encoding.format === 'csv'
      ? csvFormatter(encoding.userKey, encoding.colorHex)
      : ndjsonFormatter(encoding.userKey, encoding.colorHex);
  if (formatter.head) yield utf8.encode(formatter.head);
  for await (const batch of batches()) yield formatter.rows(batch);
}
