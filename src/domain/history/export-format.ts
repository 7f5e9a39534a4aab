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

/** The longest row besides the user key: 19 (second) + 9 (".fff UTC,") + 9 ("#RRGGBB,\"") + 11 ("x,y") + 2. */
const CSV_ROW_WITHOUT_KEY = 50;
/** The longest possible row: a raw id of MAX_USER_ID_BYTES, every byte a quote (doubled), in quotes, a comma. */
const CSV_ROW_MAX = CSV_ROW_WITHOUT_KEY + 2 * MAX_USER_ID_BYTES + 3;
/** Bytes of user keys the CSV formatter keeps per interned index (~180,000 hashed keys). */
const KEY_ARENA_BYTES = 16 << 20;

/**
 * Writes CSV rows as bytes: every part of a row is copied from a small table (the second's prefix, the
 * millisecond fraction, the colour, each user's key, memoised per user) or written as digits (coordinates)
 * into one buffer per batch: no string per row, no UTF-8 encode of the whole batch. The hot path of a
 * dataset export (bench/export.ts): a sparse table of coordinate strings cost ~1 µs a row (a holey array
 * of 2,000 entries goes to dictionary mode); digits written directly cost a few ns.
 */
export function csvFormatter(
  userKey: (userId: string) => string,
  colorHex: readonly string[],
  cacheEntries = 1_000_000,
): RowFormatter {
  const fractions = FRACTIONS.map((f) => ascii(`${f} UTC,`));
  const colors = colorHex.map((c) => ascii(`${c},"`));
  let keys = new Map<string, Uint8Array>();
  let longestKey = 0;
  const keyOf = (userId: string): Uint8Array => {
    let key = keys.get(userId);
    if (key === undefined) {
      key = ascii(`${csvField(userKey(userId))},`);
      if (keys.size >= cacheEntries) keys = new Map();
      keys.set(userId, key);
      if (key.length > longestKey) longestKey = key.length;
    }
    return key;
  };
  // Keys by interned user index (PlacementBatch.userIndex), in one flat arena: bounded by KEY_ARENA_BYTES,
  // forgotten when full or when the reader's generation changes. `places` holds (start, length) pairs side
  // by side, so a row's lookup touches one cache line there and one in the arena.
  const arena = Buffer.allocUnsafe(KEY_ARENA_BYTES);
  let arenaUsed = 0;
  let places = new Int32Array(2048).fill(-1);
  let generation = -1;
  const forgetIndexes = () => {
    places.fill(-1);
    arenaUsed = 0;
  };
  /** Copies user `index`'s key to `out` at `at` (making it the first time); returns the offset after it. */
  const putKeyOf = (out: Buffer, at: number, index: number, userId: string): number => {
    if (2 * index >= places.length) {
      let size = places.length;
      while (size <= 2 * index) size *= 2;
      const grown = new Int32Array(size).fill(-1);
      grown.set(places);
      places = grown;
    }
    let start = places[2 * index] as number;
    if (start < 0) {
      const key = ascii(`${csvField(userKey(userId))},`);
      if (key.length > longestKey) longestKey = key.length;
      if (arenaUsed + key.length > arena.length) forgetIndexes();
      start = arenaUsed;
      arena.set(key, start);
      arenaUsed += key.length;
      places[2 * index] = start;
      places[2 * index + 1] = key.length;
    }
    const n = places[2 * index + 1] as number;
    // Buffer#copy for a hashed key (89 bytes): a byte loop measured slower there, faster for short raw ids.
    if (n > 32) return at + arena.copy(out, at, start, start + n);
    for (let k = 0; k < n; k++) out[at + k] = arena[start + k] as number;
    return at + n;
  };
  let second = Number.NaN;
  const secondBytes = new Uint8Array(19);
  const seconds = new SecondCache();
  return {
    head: CSV_HEADER,
    rows(b) {
      const indexes = b.userIndex;
      if (indexes && b.userGeneration !== generation) {
        generation = b.userGeneration ?? 0;
        forgetIndexes();
      }
      // Sized for the longest key seen so far (hashed keys are all 89 bytes) plus room for one row with the
      // longest possible key (a raw id of 1 KB, quotes doubled); grown only if a new longer key shows up.
      let out = Buffer.allocUnsafe(b.count * (CSV_ROW_WITHOUT_KEY + Math.max(longestKey, 90)) + CSV_ROW_MAX);
      let at = 0;
      for (let i = 0; i < b.count; i++) {
        const ms = b.placedAt[i] as number;
        const s = Math.floor(ms / 1000);
        if (s !== second) {
          second = s;
          secondBytes.set(ascii(seconds.prefix(ms, false)));
        }
        if (at + CSV_ROW_MAX > out.length) {
          const grown = Buffer.allocUnsafe(out.length * 2 + CSV_ROW_MAX);
          grown.set(out.subarray(0, at));
          out = grown;
        }
        for (let k = 0; k < 19; k++) out[at + k] = secondBytes[k] as number;
        at = put(out, at + 19, fractions[ms - s * 1000] as Uint8Array);
        at = indexes
          ? putKeyOf(out, at, indexes[i] as number, b.userId[i] as string)
          : put(out, at, keyOf(b.userId[i] as string));
        at = put(out, at, colors[b.color[i] as number] as Uint8Array);
        at = writeDigits(out, at, b.x[i] as number);
        out[at++] = 0x2c;
        at = writeDigits(out, at, b.y[i] as number);
        out[at++] = 0x22;
        out[at++] = 0x0a;
      }
      return out.subarray(0, at);
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
 * once per user (by interned index when the batch has one), so no string is built per row. Measured: the
 * string-per-row version (`JSON.stringify` of the key and a template per row, then one UTF-8 encode of the
 * batch) cost ~1.7× the CSV per row (BENCHMARKS.md, export).
 */
export function ndjsonFormatter(userKey: (userId: string) => string, colorHex: readonly string[]): RowFormatter {
  const seconds = new SecondCache();
  const isoFractions = ISO_FRACTIONS.map((f) => ascii(`${f}Z","user_id":`));
  const colors = colorHex.map((c) => ascii(`,"pixel_color":"${c}","x":`));
  const placed = ascii(',"kind":"placed"}\n');
  const restored = ascii(',"kind":"restored"}\n');
  const seqPart = ascii('{"seq":');
  const timestampPart = ascii(',"timestamp":"');
  const keys = new KeyCache((userId) => ascii(JSON.stringify(userKey(userId))));
  let second = Number.NaN;
  const secondBytes = new Uint8Array(19);
  return {
    head: '',
    rows(b) {
      keys.begin(b);
      let out = Buffer.allocUnsafe(
        b.count * (NDJSON_ROW_WITHOUT_KEY + Math.max(keys.longest, 90)) + NDJSON_ROW_WITHOUT_KEY + NDJSON_KEY_MAX,
      );
      let at = 0;
      for (let i = 0; i < b.count; i++) {
        const ms = b.placedAt[i] as number;
        const s = Math.floor(ms / 1000);
        if (s !== second) {
          second = s;
          secondBytes.set(ascii(seconds.prefix(ms, true)));
        }
        if (at + NDJSON_ROW_WITHOUT_KEY + NDJSON_KEY_MAX > out.length) {
          const grown = Buffer.allocUnsafe(out.length * 2 + NDJSON_ROW_WITHOUT_KEY + NDJSON_KEY_MAX);
          grown.set(out.subarray(0, at));
          out = grown;
        }
        at = put(out, at, seqPart);
        at = writeUint(out, at, b.seq[i] as number);
        at = put(out, at, timestampPart);
        for (let k = 0; k < 19; k++) out[at + k] = secondBytes[k] as number;
        at = put(out, at + 19, isoFractions[((ms % 1000) + 1000) % 1000] as Uint8Array);
        at = keys.put(out, at, b, i);
        at = put(out, at, colors[b.color[i] as number] as Uint8Array);
        at = writeDigits(out, at, b.x[i] as number);
        out[at++] = 0x2c; // ,
        out[at++] = 0x22; // "
        out[at++] = 0x79; // y
        out[at++] = 0x22; // "
        out[at++] = 0x3a; // :
        at = writeDigits(out, at, b.y[i] as number);
        at = put(out, at, b.kind[i] === 2 ? restored : placed);
      }
      return out.subarray(0, at);
    },
  };
}

/**
 * Each user's key bytes, made once: by interned index (`PlacementBatch.userIndex`) in one flat arena bounded
 * by KEY_ARENA_BYTES (forgotten when full or when the reader's generation changes), else in a Map by id.
 */
class KeyCache {
  private readonly make: (userId: string) => Uint8Array;
  private byId = new Map<string, Uint8Array>();
  private readonly arena = Buffer.allocUnsafe(KEY_ARENA_BYTES);
  private used = 0;
  private places = new Int32Array(2048).fill(-1);
  private generation = -1;
  private indexes: Uint32Array | undefined;
  longest = 0;

  constructor(make: (userId: string) => Uint8Array) {
    this.make = make;
  }

  /** Call at the start of each batch. */
  begin(b: PlacementBatch): void {
    this.indexes = b.userIndex;
    if (this.indexes && b.userGeneration !== this.generation) {
      this.generation = b.userGeneration ?? 0;
      this.forget();
    }
  }

  private forget(): void {
    this.places.fill(-1);
    this.used = 0;
  }

  private keyOf(userId: string): Uint8Array {
    const key = this.make(userId);
    if (key.length > this.longest) this.longest = key.length;
    return key;
  }

  /** Copies row `i`'s user key to `out` at `at`; returns the offset after it. */
  put(out: Buffer, at: number, b: PlacementBatch, i: number): number {
    const userId = b.userId[i] as string;
    const indexes = this.indexes;
    if (!indexes) {
      let key = this.byId.get(userId);
      if (key === undefined) {
        key = this.keyOf(userId);
        if (this.byId.size >= 1_000_000) this.byId = new Map();
        this.byId.set(userId, key);
      }
      return put(out, at, key);
    }
    const index = indexes[i] as number;
    if (2 * index >= this.places.length) {
      let size = this.places.length;
      while (size <= 2 * index) size *= 2;
      const grown = new Int32Array(size).fill(-1);
      grown.set(this.places);
      this.places = grown;
    }
    let start = this.places[2 * index] as number;
    if (start < 0) {
      const key = this.keyOf(userId);
      if (this.used + key.length > this.arena.length) this.forget();
      start = this.used;
      this.arena.set(key, start);
      this.used += key.length;
      this.places[2 * index] = start;
      this.places[2 * index + 1] = key.length;
    }
    const n = this.places[2 * index + 1] as number;
    if (n > 32) return at + this.arena.copy(out, at, start, start + n);
    for (let k = 0; k < n; k++) out[at + k] = this.arena[start + k] as number;
    return at + n;
  }
}
