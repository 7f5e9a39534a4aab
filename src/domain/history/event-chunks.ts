/**
 * Packed event chunks (table `event_chunks`, migrations/0003_event_chunks.ts): the events of one committed
 * batch as fixed-size binary records in one `bytea`, so a point-in-time tail of up to a snapshot interval
 * (~100K events) is a handful of sequential TOAST reads instead of 100K index-ordered row reads.
 *
 * ## Record layout (18 bytes, all big-endian, the byte order of Postgres's `int4send`/`int2send`/`float8send`,
 * so the migration's SQL backfill and this writer produce identical bytes)
 *
 *   offset 0  u32  seq − first_seq of the chunk (< 2^31)
 *   offset 4  i16  x
 *   offset 6  i16  y
 *   offset 8  i16  colour
 *   offset 10 f64  placedAt, ms since the epoch (an integer)
 *
 * Records are in ascending sequence order. Chunks of one schema are disjoint in sequence and cover every
 * event of `events`: a chunk is written in the same transaction as its rows and the position move, only for
 * rows after the position the transaction verified (so a redelivered batch writes no chunk).
 */
import type { PixelChange } from '../canvas.ts';
import type { Region } from '../region.ts';

export const CHUNK_RECORD_BYTES = 18;
/** Records per chunk at most: ~147 KB, one TOAST value read sequentially. */
export const CHUNK_MAX_RECORDS = 8_192;
const MAX_OFFSET = 2 ** 31 - 1;

export interface ChunkInput {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly minPlacedAt: number;
  readonly maxPlacedAt: number;
  readonly count: number;
  readonly packed: Uint8Array;
}

/** What packing reads of a history row (src/ports/history.ts `HistoryRow` is one). */
export interface ChunkRow {
  readonly seq: number;
  readonly event: { readonly x: number; readonly y: number; readonly color: number; readonly placedAt: number };
}

/**
 * Packs the rows with `seq > afterSeq` (ascending; duplicates of one sequence keep the first) into chunks of
 * at most `maxRecords` records. Rows at or before `afterSeq` are a redelivery and are left out.
 */
export function packChunks(rows: readonly ChunkRow[], afterSeq: number, maxRecords = CHUNK_MAX_RECORDS): ChunkInput[] {
  let fresh = rows.filter((r) => r.seq > afterSeq);
  for (let i = 1; i < fresh.length; i++) {
    if ((fresh[i] as ChunkRow).seq <= (fresh[i - 1] as ChunkRow).seq) {
      fresh = [...fresh]
        .sort((a, b) => a.seq - b.seq)
        .filter((r, j, all) => j === 0 || r.seq !== (all[j - 1] as ChunkRow).seq);
      break;
    }
  }
  const chunks: ChunkInput[] = [];
  let start = 0;
  while (start < fresh.length) {
    const firstSeq = (fresh[start] as ChunkRow).seq;
    let end = start;
    while (end < fresh.length && end - start < maxRecords && (fresh[end] as ChunkRow).seq - firstSeq <= MAX_OFFSET)
      end++;
    const packed = new Uint8Array((end - start) * CHUNK_RECORD_BYTES);
    const view = new DataView(packed.buffer);
    let minPlacedAt = Number.POSITIVE_INFINITY,
      maxPlacedAt = Number.NEGATIVE_INFINITY;
    for (let i = start, at = 0; i < end; i++, at += CHUNK_RECORD_BYTES) {
      const row = fresh[i] as ChunkRow;
      const placedAt = row.event.placedAt;
      view.setUint32(at, row.seq - firstSeq);
      view.setInt16(at + 4, row.event.x);
      view.setInt16(at + 6, row.event.y);
      view.setInt16(at + 8, row.event.color);
      view.setFloat64(at + 10, placedAt);
      if (placedAt < minPlacedAt) minPlacedAt = placedAt;
      if (placedAt > maxPlacedAt) maxPlacedAt = placedAt;
    }
    chunks.push({
      firstSeq,
      lastSeq: (fresh[end - 1] as ChunkRow).seq,
      minPlacedAt,
      maxPlacedAt,
      count: end - start,
      packed,
    });
    start = end;
  }
  return chunks;
}

export interface StoredChunk {
  readonly firstSeq: number;
  readonly lastSeq: number;
  readonly packed: Uint8Array;
}

export interface UnpackedTail {
  /** Changes with `afterSeq < seq ≤ untilSeq` before the stop, in order (only inside `region` when given). */
  readonly changes: PixelChange[];
  /** Sequence of the first event placed after `time` (the prefix ends just before it), or null. */
  readonly stopSeq: number | null;
}

/**
 * Reads chunks (ascending, disjoint) as the prefix rule's tail: records with `afterSeq < seq ≤ untilSeq`, in
 * order, stopping at the first one placed after `time`. Throws on a malformed chunk (a length that is not a
 * whole number of records, or records out of order), never returns a wrong tail silently.
 */
export function unpackTail(
  chunks: readonly StoredChunk[],
  afterSeq: number,
  untilSeq: number,
  time: number,
  region?: Region,
): UnpackedTail {
  const changes: PixelChange[] = [];
  let previous = afterSeq;
  const x0 = region?.x ?? 0,
    y0 = region?.y ?? 0;
  const x1 = region ? region.x + region.w : Number.POSITIVE_INFINITY,
    y1 = region ? region.y + region.h : Number.POSITIVE_INFINITY;
  for (const chunk of chunks) {
    const bytes = chunk.packed;
    if (bytes.length % CHUNK_RECORD_BYTES !== 0)
      throw new Error(
        `event chunk ${chunk.firstSeq} is ${bytes.length} bytes, not a multiple of ${CHUNK_RECORD_BYTES}`,
      );
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let at = 0; at < bytes.length; at += CHUNK_RECORD_BYTES) {
      const seq = chunk.firstSeq + view.getUint32(at);
      if (seq <= afterSeq) continue;
      if (seq > untilSeq) return { changes, stopSeq: null };
      if (seq <= previous) throw new Error(`event chunk ${chunk.firstSeq} has sequence ${seq} after ${previous}`);
      previous = seq;
      if (view.getFloat64(at + 10) > time) return { changes, stopSeq: seq };
      const x = view.getInt16(at + 4),
        y = view.getInt16(at + 6);
      if (x >= x0 && x < x1 && y >= y0 && y < y1) changes.push({ x, y, color: view.getInt16(at + 8) });
    }
  }
  return { changes, stopSeq: null };
}
