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

/**
 * Writes CSV rows as bytes: every part of a row comes from a small table (the second's prefix, the
 * millisecond fraction, the colour, each coordinate's digits, each user's key), copied into one buffer per
 * batch: no string per row, no UTF-8 encode of the whole batch. The hot path of a dataset export.
 */
export function csvFormatter(
  userKey: (userId: string) => string,
  colorHex: readonly string[],
  cacheEntries = 1_000_000,
): RowFormatter {
  const fractions = FRACTIONS.map((f) => ascii(`${f} UTC,`));
  const colors = colorHex.map((c) => ascii(`${c},"`));
  const digits: Uint8Array[] = [];
  const number = (n: number): Uint8Array => (digits[n] ??= ascii(String(n)));
  let keys = new Map<string, Uint8Array>();
  const keyOf = (userId: string): Uint8Array => {
    let key = keys.get(userId);
    if (key === undefined) {
      key = ascii(`${csvField(userKey(userId))},`);
      if (keys.size >= cacheEntries) keys = new Map();
      keys.set(userId, key);
    }
    return key;
  };
  let second = Number.NaN;
  let secondBytes: Uint8Array = new Uint8Array(0);
  const seconds = new SecondCache();
  return {
    head: CSV_HEADER,
    rows(b) {
      let out = new Uint8Array(b.count * 160 + 64);
      let at = 0;
      for (let i = 0; i < b.count; i++) {
        const ms = b.placedAt[i] as number;
        const s = Math.floor(ms / 1000);
        if (s !== second) {
          second = s;
          secondBytes = ascii(seconds.prefix(ms, false));
        }
        const fraction = fractions[ms - s * 1000] as Uint8Array;
        const key = keyOf(b.userId[i] as string);
        const color = colors[b.color[i] as number] as Uint8Array;
        const x = number(b.x[i] as number),
          y = number(b.y[i] as number);
        const need = secondBytes.length + fraction.length + key.length + color.length + x.length + y.length + 3;
        if (at + need > out.length) {
          const grown = new Uint8Array(Math.max(out.length * 2, at + need));
          grown.set(out.subarray(0, at));
          out = grown;
        }
        out.set(secondBytes, at);
        at += secondBytes.length;
        for (let k = 0; k < fraction.length; k++) out[at++] = fraction[k] as number;
        if (key.length > 24) {
          out.set(key, at);
          at += key.length;
        } else for (let k = 0; k < key.length; k++) out[at++] = key[k] as number;
        for (let k = 0; k < color.length; k++) out[at++] = color[k] as number;
        for (let k = 0; k < x.length; k++) out[at++] = x[k] as number;
        out[at++] = 0x2c;
        for (let k = 0; k < y.length; k++) out[at++] = y[k] as number;
        out[at++] = 0x22;
        out[at++] = 0x0a;
      }
      return out.subarray(0, at);
    },
  };
}

export function ndjsonFormatter(userKey: (userId: string) => string, colorHex: readonly string[]): RowFormatter {
  const seconds = new SecondCache();
  return {
    head: '',
    rows(b) {
      let out = '';
      for (let i = 0; i < b.count; i++) {
        const ms = b.placedAt[i] as number;
        // User ids are 1-64 bytes of UTF-8 from our own codec: JSON.stringify quotes whatever they hold.
        out += `{"seq":${b.seq[i]},"timestamp":"${seconds.prefix(ms, true)}${ISO_FRACTIONS[((ms % 1000) + 1000) % 1000]}Z","user_id":${JSON.stringify(userKey(b.userId[i] as string))},"pixel_color":"${colorHex[b.color[i] as number]}","x":${b.x[i]},"y":${b.y[i]},"kind":"${b.kind[i] === 2 ? 'restored' : 'placed'}"}\n`;
      }
      return utf8.encode(out);
    },
  };
}
