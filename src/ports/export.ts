/**
 * Ports of the dataset export (issue 16). Implemented by `src/adapters/pg/placement-export.ts` (the history's
 * `events` table, the only store that keeps user ids) and `src/adapters/parquet/placements-parquet.ts`.
 */
import type { PlacementBatch } from '../domain/history/placement-batch.ts';
import type { Region } from '../domain/region.ts';

/** The placements the export reads (the history's `events` table). */
export interface PlacementLog {
  /** Last sequence the history holds (its projection position). */
  lastSeq(): Promise<number>;
  /**
   * Every placement with `afterSeq < seq ≤ untilSeq`, in sequence order, only those inside `region` when one
   * is given. Streams with backpressure (a batch is read when the previous one was consumed); ending the
   * iteration early stops the read in the store at once. A store failure rejects with `StoreUnavailable`.
   */
  placements(afterSeq: number, untilSeq: number, region?: Region): AsyncIterable<PlacementBatch>;
  /**
   * Optional (a log with worker threads, src/adapters/pg/export-workers.ts): the same placements as
   * `placements`, already formatted as `text.format`: byte for byte what `csvFormatter`/`ndjsonFormatter`
   * (src/domain/history/export-format.ts) write, the head first, in sequence order, in runs of whole rows.
   * With `gzipLevel`, each run is one gzip member (their concatenation is one gzip file of that text).
   * Same backpressure and early end as `placements`; at least one run, even for no rows (the head alone).
   */
  formatted?(
    afterSeq: number,
    untilSeq: number,
    region: Region | undefined,
    text: TextExport,
  ): AsyncIterable<FormattedRun>;
}

/** What a `formatted` export writes. */
export interface TextExport {
  readonly format: 'csv' | 'ndjson';
  /** The salt of published user ids (`saltedUserKey`); `null`: raw ids. */
  readonly userSalt: string | null;
  readonly colorHex: readonly string[];
  /** gzip level of each run; `null`: no compression. */
  readonly gzipLevel: number | null;
}

/** One run of a `formatted` export: the bytes of `rows` placements, the last of sequence `lastSeq` (0 if none). */
export interface FormattedRun {
  readonly bytes: Uint8Array;
  readonly rows: number;
  readonly lastSeq: number;
}

/** Encodes placements as a Parquet file, streamed a row group at a time. */
export interface ParquetEncoder {
  encode(
    batches: AsyncIterable<PlacementBatch>,
    columns: { readonly userKey: (userId: string) => string; readonly colorHex: readonly string[] },
  ): AsyncIterable<Uint8Array>;
}

/** Placements per pixel, for heatmaps and the virgin map. */
export interface PixelActivity {
  /** Placements per pixel (row-major `width × height`) among events with `afterSeq < seq ≤ untilSeq`. */
  counts(afterSeq: number, untilSeq: number, width: number, height: number): Promise<Uint32Array>;
}
