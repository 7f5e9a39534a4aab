/**
 * The export's binary COPY rows (the layout in ./placement-export.ts), parsed or only cut at row boundaries.
 * Pure (Buffer only): the parser runs on the main thread for Parquet and the one-thread path, and inside each
 * export worker (./export-worker.ts) on the rows the splitter cut for it.
 */
import type { PlacementBatch } from '../../domain/history/placement-batch.ts';
import { COPY_BINARY_SIGNATURE, CopyFormatError } from '../../domain/codecs/copy-binary.ts';
import { MAX_USER_ID_BYTES, UserInterner } from '../../domain/history/user-interner.ts';

const PG_EPOCH_MS = 946_684_800_000;
const FIXED_BEFORE_USER = 38;
const ROW_OVERHEAD = 54;

// Big-endian reads by hand: Buffer#readInt*BE validate their offset on every call, ~7 % of the parse's time
// (a CPU profile of the export bench); every offset here is within the bytes already checked.
const u32 = (b: Buffer, at: number): number =>
  (b[at] as number) * 0x1000000 +
  (((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number));
const i32 = (b: Buffer, at: number): number =>
  ((b[at] as number) << 24) | ((b[at + 1] as number) << 16) | ((b[at + 2] as number) << 8) | (b[at + 3] as number);
const i16 = (b: Buffer, at: number): number => (((b[at] as number) << 24) >> 16) | (b[at + 1] as number);

/** A batch the reader fills (`count` rows of `capacity`), handed out as a `PlacementBatch`. */
export type ParseBatch = { -readonly [K in keyof PlacementBatch]-?: PlacementBatch[K] } & { readonly capacity: number };

export function newParseBatch(capacity: number): ParseBatch {
  return {
    count: 0,
    capacity,
    seq: new Float64Array(capacity),
    kind: new Uint8Array(capacity),
    x: new Uint16Array(capacity),
    y: new Uint16Array(capacity),
    color: new Uint8Array(capacity),
    placedAt: new Float64Array(capacity),
    userId: new Array<string>(capacity),
    userIndex: new Uint32Array(capacity),
    userGeneration: 0,
  };
}

/**
 * Incremental parser of this COPY's output: `push(chunk)` parses every complete row into `batch`, keeps a
 * partial row for the next chunk, and stops early (returning the offset reached) when the batch is full.
 * Pure; exported for unit tests.
 */
export class PlacementCopyParser {
  private headerDone = false;
  private readonly users: UserInterner;
  ended = false;

  /**
   * `users`: the interner of user ids (a small one in tests, to cross generations). `headerless`: the input
   * is rows only, cut by a `CopyRowSplitter` (which read the header itself).
   */
  constructor(users: UserInterner = new UserInterner(), headerless = false) {
    this.headerDone = headerless;
    this.users = users;
  }
  private rest: Buffer = Buffer.alloc(0);
  /** Where each row's user id lies in the input, for the batch being filled. */
  private userStarts = new Int32Array(0);
  private userEnds = new Int32Array(0);

  /** Appends `chunk`; call `parse` until it returns false before pushing again. */
  push(chunk: Buffer): void {
    this.rest = this.rest.length === 0 ? chunk : Buffer.concat([this.rest, chunk]);
  }

  /** Parses rows into `batch` until it is full (true: call again) or the input runs out (false). */
  parse(batch: ParseBatch): boolean {
    const b = this.rest;
    let at = 0;
    if (!this.headerDone) {
      if (b.length < 19) return false;
      for (let i = 0; i < COPY_BINARY_SIGNATURE.length; i++)
        if (b[i] !== COPY_BINARY_SIGNATURE[i]) throw new CopyFormatError('not binary COPY output (bad signature)');
      if ((b.readUInt32BE(11) & 0x1ffff) !== 0) throw new CopyFormatError('binary COPY header has unsupported flags');
      const extension = b.readUInt32BE(15);
      if (b.length < 19 + extension) return false;
      at = 19 + extension;
      this.headerDone = true;
    }
    let full = false;
    if (this.userStarts.length < batch.capacity) {
      this.userStarts = new Int32Array(batch.capacity);
      this.userEnds = new Int32Array(batch.capacity);
    }
    const { userStarts, userEnds } = this;
    const firstRow = batch.count;
    while (at + 2 <= b.length) {
      const fields = i16(b, at);
      if (fields === -1) {
        if (at + 2 !== b.length)
          throw new CopyFormatError(`binary COPY output has ${b.length - at - 2} bytes after its trailer`);
        this.ended = true;
        at += 2;
        break;
      }
      if (batch.count === batch.capacity) {
        full = true;
        break;
      }
      if (batch.count === 0) {
        this.users.startBatch(batch.capacity);
        batch.userGeneration = this.users.generation;
      }
      if (at + FIXED_BEFORE_USER + 4 > b.length) break;
      if (
        fields !== 7 ||
        i32(b, at + 2) !== 8 ||
        i32(b, at + 14) !== 2 ||
        i32(b, at + 20) !== 2 ||
        i32(b, at + 26) !== 2 ||
        i32(b, at + 32) !== 2
      ) {
        throw new CopyFormatError(`unexpected export row layout at offset ${at}`);
      }
      const userBytes = i32(b, at + FIXED_BEFORE_USER);
      if (userBytes < 0 || userBytes > MAX_USER_ID_BYTES)
        throw new CopyFormatError(`user_id field of ${userBytes} bytes`);
      const end = at + ROW_OVERHEAD + userBytes;
      if (end > b.length) break;
      const tsAt = at + FIXED_BEFORE_USER + 4 + userBytes;
      if (i32(b, tsAt) !== 8) throw new CopyFormatError(`placed_at field is not 8 bytes at offset ${tsAt}`);
      const i = batch.count++;
      batch.seq[i] = u32(b, at + 6) * 4_294_967_296 + u32(b, at + 10);
      batch.kind[i] = i16(b, at + 18);
      batch.x[i] = i16(b, at + 24);
      batch.y[i] = i16(b, at + 30);
      batch.color[i] = i16(b, at + 36);
      userStarts[i] = at + FIXED_BEFORE_USER + 4;
      userEnds[i] = tsAt;
      const micros = i32(b, tsAt + 4) * 4_294_967_296 + u32(b, tsAt + 8);
      batch.placedAt[i] = Math.round(micros / 1000) + PG_EPOCH_MS;
      at = end;
    }
    // The ids of this call's rows, interned together (UserInterner.internRows says why).
    this.users.internRows(b, userStarts, userEnds, firstRow, batch.count, batch.userIndex);
    const ids = this.users.ids;
    for (let i = firstRow; i < batch.count; i++) batch.userId[i] = ids[batch.userIndex[i] as number] as string;
    this.rest = at === b.length ? Buffer.alloc(0) : b.subarray(at);
    return full;
  }

  /** Bytes received but not parsed yet (a partial row, or a full batch's remainder). */
  get pending(): number {
    return this.rest.length;
  }
}

/** Whole rows of this COPY cut by a `CopyRowSplitter`: `rows` rows in `bytes`, the last one of sequence `lastSeq`. */
export interface CopyRows {
  readonly bytes: Buffer;
  readonly rows: number;
  readonly lastSeq: number;
}

/**
 * Cuts this COPY's output into runs of at most `rowsPerRun` whole rows, without parsing them: per row it reads
 * only the field count and the user id's length (the rest of a row is fixed-size), so the main thread's share of
 * a parallel export is a copy of the bytes and two reads a row. The header is checked and dropped, and so is
 * the trailer; the rows' layout is checked by the parser that reads each run (in a worker).
 *
 * `push(chunk)` returns the runs completed by that chunk; `end()` the last, partial one (and throws if the
 * output did not end with the trailer, or ended inside a row). Each run is a fresh Buffer over its own
 * ArrayBuffer, so it can be transferred to a worker.
 */
export class CopyRowSplitter {
  private readonly rowsPerRun: number;
  private buf: Buffer;
  private used = 0;
  /** Offset of the next row not yet counted. */
  private scan = 0;
  private rows = 0;
  private lastSeq = 0;
  private headerDone = false;
  ended = false;

  constructor(rowsPerRun: number, bytesHint = rowsPerRun * 80) {
    this.rowsPerRun = rowsPerRun;
    this.buf = Buffer.allocUnsafe(Math.max(bytesHint, 64 * 1024));
  }

  push(chunk: Buffer): CopyRows[] {
    if (this.ended) {
      if (chunk.length > 0) throw new CopyFormatError('binary COPY output has bytes after its trailer');
      return [];
    }
    if (this.used + chunk.length > this.buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + chunk.length));
      this.buf.copy(grown, 0, 0, this.used);
      this.buf = grown;
    }
    chunk.copy(this.buf, this.used);
    this.used += chunk.length;
    const runs: CopyRows[] = [];
    if (!this.headerDone) {
      const b = this.buf;
      if (this.used < 19) return runs;
      for (let i = 0; i < COPY_BINARY_SIGNATURE.length; i++)
        if (b[i] !== COPY_BINARY_SIGNATURE[i]) throw new CopyFormatError('not binary COPY output (bad signature)');
      if ((b.readUInt32BE(11) & 0x1ffff) !== 0) throw new CopyFormatError('binary COPY header has unsupported flags');
      const header = 19 + b.readUInt32BE(15);
      if (this.used < header) return runs;
      this.headerDone = true;
      this.shift(header);
    }
    for (;;) {
      // `take` moves the rest to a new buffer: read it afresh each round.
      const b = this.buf;
      let at = this.scan;
      let cut = false;
      while (at + 2 <= this.used) {
        if (b.readInt16BE(at) === -1) {
          if (at + 2 !== this.used)
            throw new CopyFormatError(`binary COPY output has ${this.used - at - 2} bytes after its trailer`);
          this.ended = true;
          this.used = at;
          break;
        }
        if (at + FIXED_BEFORE_USER + 4 > this.used) break;
        const userBytes = b.readInt32BE(at + FIXED_BEFORE_USER);
        if (userBytes < 0 || userBytes > MAX_USER_ID_BYTES)
          throw new CopyFormatError(`user_id field of ${userBytes} bytes`);
        const end = at + ROW_OVERHEAD + userBytes;
        if (end > this.used) break;
        this.lastSeq = b.readUInt32BE(at + 6) * 4_294_967_296 + b.readUInt32BE(at + 10);
        this.rows++;
        at = end;
        if (this.rows === this.rowsPerRun) {
          cut = true;
          break;
        }
      }
      this.scan = at;
      if (!cut) return runs;
      runs.push(this.take());
    }
  }

  /** The rows counted but not yet handed out (none: `null`); throws if the output was not whole. */
  end(): CopyRows | null {
    if (!this.ended)
      throw new CopyFormatError(`binary COPY output ended inside a row (${this.used - this.scan} bytes left)`);
    return this.rows > 0 ? this.take() : null;
  }

  /** Hands out the counted rows in their own Buffer; the bytes after them move to a fresh one. */
  private take(): CopyRows {
    const bytes = this.buf.subarray(0, this.scan);
    const run = { bytes, rows: this.rows, lastSeq: this.lastSeq };
    const rest = this.used - this.scan;
    const next = Buffer.allocUnsafe(this.buf.length);
    this.buf.copy(next, 0, this.scan, this.used);
    this.buf = next;
    this.used = rest;
    this.scan = 0;
    this.rows = 0;
    return run;
  }

  /** Drops the first `n` bytes (the header). */
  private shift(n: number): void {
    this.buf.copy(this.buf, 0, n, this.used);
    this.used -= n;
  }
}
