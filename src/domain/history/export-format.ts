/**
 * Text formats of the dataset export (issue 16), one batch of placements at a time.
 *
 * **CSV** is the shape Reddit published for r/place 2022 (`2022_place_canvas_history.csv`):
 *
 *   timestamp,user_id,pixel_color,coordinate
 *   2022-04-03 17:38:22.252 UTC,yTrYCd4LUpBn4r…hSRoA==,#FF3881,"0,0"
 *
 * `timestamp` is UTC as `YYYY-MM-DD HH:MM:SS[.fff] UTC` with the fraction's trailing zeros dropped (the
 * published file is variable-width the same way: `…:51.5 UTC`, `…:52 UTC`); `user_id` is 88 characters of
 * base64 (64 bytes, SHA-512) unless the operator asked for raw ids; `pixel_color` is `#RRGGBB` upper-case;
 * `coordinate` is `"x,y"`, 0,0 top left. A moderator's `PixelRestored` event is a row like any other, by the
 * moderator (the 2022 file's rectangle rows, "x1,y1,x2,y2", never occur: our moderation writes one event per
 * pixel).
 *
 * **NDJSON** adds what the CSV leaves out: one object per line,
 * `{"seq":12,"timestamp":"2026-04-01T12:00:00.123Z","user_id":"…","pixel_color":"#FF4500","x":3,"y":4,"kind":"placed"}`.
 *
 * Pure; the salted user key (SHA-512, node:crypto) is src/app/history/user-key.ts.
 */
import type { PaletteColor } from '../palette.ts';
import type { PlacementBatch } from './placement-batch.ts';
import { MAX_USER_ID_BYTES } from './user-interner.ts';

export const EXPORT_FORMATS = ['csv', 'ndjson', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CSV_HEADER = 'timestamp,user_id,pixel_color,coordinate\n';

/** `#RRGGBB` for each palette index (an index beyond the palette prints as `#000000`, never throws). */
export function colorHexes(palette: readonly PaletteColor[]): string[] {
  const out = palette.map((c) => `#${c.hex.replace(/^#/, '').toUpperCase()}`);
  while (out.length < 256) out.push('#000000');
  return out;
}

export const rawUserKey = (userId: string): string => userId;

const pad2 = (n: number) => (n < 10 ? `0${n}` : String(n));

/** Formats times, reusing the `YYYY-MM-DD HH:MM:SS` part while the second does not change. */
class SecondCache {
  private second = Number.NaN;
  private text = '';
  prefix(ms: number, iso: boolean): string {
    const second = Math.floor(ms / 1000);
    if (second !== this.second) {
      const d = new Date(second * 1000);
      this.second = second;
      this.text = `${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}${iso ? 'T' : ' '}${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}`;
    }
    return this.text;
  }
}

const FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, ms) =>
  ms === 0 ? '' : `.${String(ms).padStart(3, '0').replace(/0+$/, '')}`,
);
const ISO_FRACTIONS: readonly string[] = Array.from({ length: 1000 }, (_, ms) => `.${String(ms).padStart(3, '0')}`);

/** The CSV timestamp of Reddit's file for `ms` since the epoch. */
export function redditTimestamp(ms: number): string {
  return `${new SecondCache().prefix(ms, false)}${FRACTIONS[((ms % 1000) + 1000) % 1000]} UTC`;
}

export interface RowFormatter {
  /** The bytes before the first row (the CSV header; nothing for NDJSON). */
  readonly head: string;
  /** The batch's rows, each ending in `\n`, in a fresh array the caller may keep. */
  rows(batch: PlacementBatch): Uint8Array;
}

/** RFC 4180 quoting, only for a value that needs it (a raw user id; hashes never do). */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

const utf8 = new TextEncoder();
const ascii = (text: string): Uint8Array => utf8.encode(text);

/** Writes `n` (0 ≤ n < 100,000: a coordinate) as decimal digits at `at`; returns the offset after them. */
function writeDigits(out: Uint8Array, at: number, n: number): number {
  if (n >= 10_000) out[at++] = 0x30 + Math.floor(n / 10_000);
  if (n >= 1_000) out[at++] = 0x30 + (Math.floor(n / 1_000) % 10);
  if (n >= 100) out[at++] = 0x30 + (Math.floor(n / 100) % 10);
  if (n >= 10) out[at++] = 0x30 + (Math.floor(n / 10) % 10);
  out[at++] = 0x30 + (n % 10);
  return at;
}

/** Copies `part` to `out` at `at`; a byte loop beats `TypedArray.set`'s call overhead for parts this short. */
function put(out: Uint8Array, at: number, part: Uint8Array): number {
  const n = part.length;
  if (n > 32) {
    out.set(part, at);
    return at + n;
  }
  for (let k = 0; k < n; k++) out[at + k] = part[k] as number;
  return at + n;
}

/**
 * Short byte strings written a little-endian word at a time through a DataView: V8 copies a byte per loop turn
 * (~2 ns a byte on this VM), and a row is ~40 bytes of such parts. `write` writes every word of a part, so up to
 * 3 bytes past its end are scratch that the next write overwrites (rows are written with room to spare).
 */
class PackedParts {
  private readonly words: Int32Array;
  private readonly lengths: Uint16Array;
  private readonly perPart: number;

  constructor(parts: readonly Uint8Array[]) {
    this.perPart = Math.ceil(Math.max(1, ...parts.map((p) => p.length)) / 4);
    this.words = new Int32Array(parts.length * this.perPart);
    this.lengths = new Uint16Array(parts.length);
    parts.forEach((part, i) => {
      const padded = new Uint8Array(this.perPart * 4);
      padded.set(part);
      this.words.set(new Int32Array(padded.buffer), i * this.perPart);
      this.lengths[i] = part.length;
    });
  }

  /** Writes part `i` at `at`; returns the offset after it. */
  write(view: DataView, at: number, i: number): number {
    const { words, perPart } = this;
    const from = i * perPart;
    for (let k = 0; k < perPart; k++) view.setInt32(at + 4 * k, words[from + k] as number, true);
    return at + (this.lengths[i] as number);
  }
}

/** The `YYYY-MM-DD HH:MM:SS` (or ISO `…T…`) of the current second, as a PackedParts part. */
class SecondPart {
  private readonly seconds = new SecondCache();
  private readonly iso: boolean;
  private second = Number.NaN;
  private part = new PackedParts([new Uint8Array(19)]);
  constructor(iso: boolean) {
    this.iso = iso;
  }
  /** Writes the second `s` (of `ms`) at `at`; returns the offset after it. */
  write(view: DataView, at: number, ms: number, s: number): number {
    if (s !== this.second) {
      this.second = s;
      this.part = new PackedParts([ascii(this.seconds.prefix(ms, this.iso))]);
    }
    return this.part.write(view, at, 0);
  }
}

/** The longest row besides the user key: 19 (second) + 9 (".fff UTC,") + 9 ("#RRGGBB,\"") + 11 ("x,y") + 3. */
const CSV_ROW_WITHOUT_KEY = 51;
/** The longest possible row: a raw id of MAX_USER_ID_BYTES, every byte a quote (doubled), in quotes, a comma. */
const CSV_ROW_MAX = CSV_ROW_WITHOUT_KEY + 2 * MAX_USER_ID_BYTES + 3;

/**
 * Writes CSV rows as bytes: every part of a row is copied from a small table (the second's prefix, the
 * millisecond fraction, the colour, each user's key, memoised per user in a `RowWriter`) or written as digits
 * (coordinates): no string per row, no UTF-8 encode of the whole batch. The hot path of a dataset export
 * (bench/export.ts): a sparse table of coordinate strings cost ~1 µs a row (a holey array of 2,000 entries goes
 * to dictionary mode); digits written directly cost a few ns.
 */
export function csvFormatter(
  userKey: (userId: string) => string,
  colorHex: readonly string[],
  options: { keyBytes?: number } = {},
): RowFormatter {
  const fractions = new PackedParts(FRACTIONS.map((f) => ascii(`${f} UTC,`)));
  const colors = new PackedParts(colorHex.map((c) => ascii(`,${c},"`)));
  const w = new RowWriter((userId) => ascii(csvField(userKey(userId))), CSV_ROW_MAX, options.keyBytes);
  const second = new SecondPart(false);
  return {
    head: CSV_HEADER,
    rows(b) {
      const { buf: out, view } = w;
      let at = w.begin(b, CSV_ROW_WITHOUT_KEY);
      const indexes = b.userIndex;
      for (let i0 = 0; i0 < b.count; i0 += PREFETCH_ROWS) {
        const i1 = Math.min(b.count, i0 + PREFETCH_ROWS);
        if (indexes) w.touch(indexes, i0, i1);
        for (let i = i0; i < i1; i++) {
          const ms = b.placedAt[i] as number;
          const s = Math.floor(ms / 1000);
          if (at > w.scratchFull) at = w.flush(at);
          at = second.write(view, at, ms, s);
          at = fractions.write(view, at, ms - s * 1000);
          at = indexes
            ? w.putKey(at, indexes[i] as number, b.userId[i] as string)
            : w.putKeyOf(at, b.userId[i] as string);
          at = colors.write(view, at, b.color[i] as number);
          at = writeDigits(out, at, b.x[i] as number);
          out[at++] = 0x2c;
          at = writeDigits(out, at, b.y[i] as number);
          out[at++] = 0x22;
          out[at++] = 0x0a;
        }
      }
      return w.finish(at);
    },
  };
}

/** Writes `n` (a non-negative safe integer: a sequence) as decimal digits at `at`; returns the offset after them. */
function writeUint(out: Uint8Array, at: number, n: number): number {
  let end = at + 1;
  for (let p = 10; p <= n; p *= 10) end++;
  let v = n;
  for (let k = end - 1; k >= at; k--) {
    const q = Math.floor(v / 10);
    out[k] = 0x30 + (v - q * 10);
    v = q;
  }
  return end;
}

/** The longest NDJSON row besides the user key: 16-digit seq, the fixed parts, two 5-digit coordinates. */
const NDJSON_ROW_WITHOUT_KEY = 160;
/** The longest possible NDJSON key: a raw id of MAX_USER_ID_BYTES control bytes, each `\u00XX`, in quotes. */
const NDJSON_KEY_MAX = 6 * MAX_USER_ID_BYTES + 2;

/**
 * NDJSON written as bytes like the CSV: every part copied from a small table (the second's ISO prefix, the
 * fraction, the colour with its keys, the kind) or written as digits, and each user's JSON-quoted key made
 * once per user (in a `RowWriter`), so no string is built per row. Measured: the string-per-row version
 * (`JSON.stringify` of the key and a template per row, then one UTF-8 encode of the batch) cost ~1.7× the CSV
 * per row (BENCHMARKS.md, export).
 */
export function ndjsonFormatter(
  userKey: (userId: string) => string,
  colorHex: readonly string[],
  options: { keyBytes?: number } = {},
): RowFormatter {
  const isoFractions = new PackedParts(ISO_FRACTIONS.map((f) => ascii(`${f}Z","user_id":`)));
  const colors = colorHex.map((c) => ascii(`,"pixel_color":"${c}","x":`));
  const kinds = new PackedParts([ascii(',"kind":"placed"}\n'), ascii(',"kind":"restored"}\n')]);
  const seqPart = new PackedParts([ascii('{"seq":')]);
  const timestampPart = new PackedParts([ascii(',"timestamp":"')]);
  const w = new RowWriter(
    (userId) => ascii(JSON.stringify(userKey(userId))),
    NDJSON_ROW_WITHOUT_KEY + NDJSON_KEY_MAX,
    options.keyBytes,
  );
  const second = new SecondPart(true);
  return {
    head: '',
    rows(b) {
      const { buf: out, view } = w;
      let at = w.begin(b, NDJSON_ROW_WITHOUT_KEY);
      const indexes = b.userIndex;
      for (let i0 = 0; i0 < b.count; i0 += PREFETCH_ROWS) {
        const i1 = Math.min(b.count, i0 + PREFETCH_ROWS);
        if (indexes) w.touch(indexes, i0, i1);
        for (let i = i0; i < i1; i++) {
          const ms = b.placedAt[i] as number;
          const s = Math.floor(ms / 1000);
          if (at > w.scratchFull) at = w.flush(at);
          at = seqPart.write(view, at, 0);
          at = writeUint(out, at, b.seq[i] as number);
          at = timestampPart.write(view, at, 0);
          at = second.write(view, at, ms, s);
          at = isoFractions.write(view, at, ms - s * 1000);
          at = indexes
            ? w.putKey(at, indexes[i] as number, b.userId[i] as string)
            : w.putKeyOf(at, b.userId[i] as string);
          at = put(out, at, colors[b.color[i] as number] as Uint8Array);
          at = writeDigits(out, at, b.x[i] as number);
          out[at++] = 0x2c; // ,
          out[at++] = 0x22; // "
          out[at++] = 0x79; // y
          out[at++] = 0x22; // "
          out[at++] = 0x3a; // :
          at = writeDigits(out, at, b.y[i] as number);
          at = kinds.write(view, at, b.kind[i] === 2 ? 1 : 0);
        }
      }
      return w.finish(at);
    },
  };
}

/**
 * `make` memoised per user id, for batches without interned indexes (PlacementBatch.userIndex): at most
 * 1,000,000 ids, then the memo starts afresh (users place many times; the bound keeps memory flat).
 */
export function memoByUserId<T>(make: (userId: string) => T): (userId: string) => T {
  let memo = new Map<string, T>();
  return (userId) => {
    let value = memo.get(userId);
    if (value === undefined) {
      value = make(userId);
      if (memo.size >= 1_000_000) memo = new Map();
      memo.set(userId, value);
    }
    return value;
  };
}

/** Bytes of key slots a formatter keeps by default (~174,000 hashed keys). */
const KEY_SLOT_BYTES = 16 << 20;
/** Bytes of rows written between copies into a batch's output. */
const ROW_SCRATCH_BYTES = 2 << 20;
/** A slot starts with the user index it holds, plus one (0: empty), and the key's length, as two int32s. */
const SLOT_HEADER = 8;
/** A hashed key's 88 characters with the header: every slot starts 8-aligned. */
const FIRST_STRIDE = SLOT_HEADER + 88;
/**
 * Rows whose key slots are read ahead of writing them; see `RowWriter`. The CSV and NDJSON formatters each
 * spell out the batch loop (begin, read ahead, flush, finish) around their row: a shared loop calling the row
 * as a function measured ~10 % more CPU per row (bench export, per CPU-second, alternating runs).
 */
const PREFETCH_ROWS = 16;

/**
 * The buffer a formatter writes rows into, and each user's key bytes (made once per user by `make`) beside
 * them in the same buffer: [key slots | row scratch]. Rows are written to the scratch and copied out per
 * `ROW_SCRATCH_BYTES` into the batch's own output.
 *
 * Why this shape (measured, BENCHMARKS.md, export): over 125,000 users a row's key is a random access into
 * megabytes of keys, and on this VM each such miss cost ~200 ns, more than the rest of the row. So:
 * - a key sits at a fixed place for its interned index (direct-mapped, `index mod slots`, the header says
 *   which index a slot holds), one access and no table of places to chase first;
 * - `touch` reads the next PREFETCH_ROWS rows' slots in a loop with nothing depending on them, so the CPU has
 *   those misses in flight at once (a copy loop over random keys: 230 ns a row, 75–90 ns with this);
 * - keys and rows share one buffer so a key moves with `copyWithin` (Buffer#copy and `set(subarray)` make a
 *   view per call: ~1.5× the time).
 * Bounded: slots are overwritten by a colliding index (the key is made again when it comes back); a key longer
 * than a slot widens every slot (and empties them), so the slot bytes stay fixed whatever the ids.
 */
class RowWriter {
  readonly buf: Buffer;
  readonly view: DataView;
  /** Past this offset a row might not fit the scratch: flush first. */
  readonly scratchFull: number;
  private readonly make: (userId: string) => Uint8Array;
  private readonly words: Int32Array;
  private readonly slotBytes: number;
  private readonly scratchStart: number;
  private stride = FIRST_STRIDE;
  private slots: number;
  private generation = -1;
  private readonly byId: (userId: string) => Uint8Array;
  private longest = 88;
  private output: Buffer = Buffer.alloc(0);
  private outputAt = 0;
  /** Where the touched bytes go, so reading them is not optimised away. */
  private sink = 0;

  constructor(make: (userId: string) => Uint8Array, rowMax: number, slotBytes = KEY_SLOT_BYTES) {
    this.make = make;
    this.byId = memoByUserId((userId) => this.keyOf(userId));
    // Room for at least one slot of the longest key a row can hold.
    const atLeast = Math.max(slotBytes, SLOT_HEADER + rowMax);
    this.slotBytes = atLeast - (atLeast % 8);
    this.scratchStart = this.slotBytes;
    this.buf = Buffer.alloc(this.slotBytes + ROW_SCRATCH_BYTES + rowMax);
    this.scratchFull = this.slotBytes + ROW_SCRATCH_BYTES;
    this.words = new Int32Array(this.buf.buffer, this.buf.byteOffset, this.buf.length >> 2);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    this.slots = Math.floor(this.slotBytes / this.stride);
  }

  /** Starts a batch of rows of `rowBytes` besides the key; returns the offset to write the first row at. */
  begin(b: PlacementBatch, rowBytes: number): number {
    if (b.userIndex && b.userGeneration !== this.generation) {
      this.generation = b.userGeneration ?? 0;
      this.empty();
    }
    this.output = Buffer.allocUnsafe(b.count * (rowBytes + this.longest));
    this.outputAt = 0;
    return this.scratchStart;
  }

  /** Moves the rows written so far into the batch's output; returns the offset to write on at. */
  flush(at: number): number {
    const n = at - this.scratchStart;
    if (this.outputAt + n > this.output.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.output.length * 2, this.outputAt + n));
      this.output.copy(grown, 0, 0, this.outputAt);
      this.output = grown;
    }
    this.outputAt += this.buf.copy(this.output, this.outputAt, this.scratchStart, at);
    return this.scratchStart;
  }

  /** The batch's rows, written up to `at`, in a fresh array the caller may keep. */
  finish(at: number): Uint8Array {
    this.flush(at);
    return this.output.subarray(0, this.outputAt);
  }

  /** Reads the slots of rows [from, to) ahead of `putKey`, so their cache misses overlap. */
  touch(indexes: Uint32Array, from: number, to: number): void {
    const { words, buf, stride, slots } = this;
    let sink = this.sink;
    for (let i = from; i < to; i++) {
      const index = indexes[i] as number;
      const start = (index < slots ? index : index % slots) * stride;
      sink ^= (words[start >> 2] as number) ^ (buf[start + stride - 1] as number);
    }
    this.sink = sink;
  }

  /** Writes user `index`'s key at `at` (making it if its slot holds another); returns the offset after it. */
  putKey(at: number, index: number, userId: string): number {
    let start = (index < this.slots ? index : index % this.slots) * this.stride;
    if (this.words[start >> 2] !== index + 1) start = this.fill(index, userId);
    const n = this.words[(start >> 2) + 1] as number;
    const from = start + SLOT_HEADER;
    const buf = this.buf;
    if (n > 32) buf.copyWithin(at, from, from + n);
    else for (let k = 0; k < n; k++) buf[at + k] = buf[from + k] as number;
    return at + n;
  }

  /** Writes the key of `userId` at `at` (batches without interned indexes); returns the offset after it. */
  putKeyOf(at: number, userId: string): number {
    return put(this.buf, at, this.byId(userId));
  }

  private keyOf(userId: string): Uint8Array {
    const key = this.make(userId);
    if (key.length > this.longest) this.longest = key.length;
    return key;
  }

  /** Makes user `index`'s key in its slot (widening every slot first if it does not fit); returns the slot. */
  private fill(index: number, userId: string): number {
    const key = this.keyOf(userId);
    if (SLOT_HEADER + key.length > this.stride) {
      this.stride = SLOT_HEADER + Math.ceil(key.length / 8) * 8;
      this.slots = Math.floor(this.slotBytes / this.stride);
      this.empty();
    }
    const start = (index % this.slots) * this.stride;
    this.words[start >> 2] = index + 1;
    this.words[(start >> 2) + 1] = key.length;
    this.buf.set(key, start + SLOT_HEADER);
    return start;
  }

  private empty(): void {
    const step = this.stride >> 2;
    for (let w = 0; w < this.slots * step; w += step) this.words[w] = 0;
  }
}
