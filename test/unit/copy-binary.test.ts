/**
 * The binary COPY reader (src/domain/codecs/copy-binary.ts) and the literal builders COPY statements use
 * (src/adapters/pg/copy-out.ts): a golden vector, every malformed shape rejected with `CopyFormatError`
 * (never another error, never a wrong row), and literals that can only be numbers or timestamps.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { copyInt4, copyInt8, copyText, CopyFormatError, parseCopyBinary } from '../../src/domain/codecs/copy-binary.ts';
import { sqlInt8Array, sqlInteger, sqlTimestamp } from '../../src/adapters/pg/copy-out.ts';
import { GOLDEN_COPY_BYTES } from '../helpers/copy-binary-golden.ts';

function header(flags = 0, extension: number[] = []): number[] {
  return [
    0x50,
    0x47,
    0x43,
    0x4f,
    0x50,
    0x59,
    0x0a,
    0xff,
    0x0d,
    0x0a,
    0x00,
    flags >>> 24,
    (flags >>> 16) & 255,
    (flags >>> 8) & 255,
    flags & 255,
    0,
    0,
    0,
    extension.length,
    ...extension,
  ];
}

describe('binary COPY reader', () => {
  it('reads the golden vector: int8, NULL, bytea, UTF-8 text, negative int4', () => {
    const rows = parseCopyBinary(GOLDEN_COPY_BYTES, 5);
    expect(rows).toHaveLength(1);
    const [a, b, c, d, e] = rows[0]!;
    expect(copyInt8(a!)).toBe(1);
    expect(b).toBeNull();
    expect([...c!]).toEqual([1, 2, 255]);
    expect(copyText(d!)).toBe('hé');
    expect(copyInt4(e!)).toBe(-7);
  });

  it('returns views into the input, not copies', () => {
    const bytes = Buffer.from(GOLDEN_COPY_BYTES);
    const bytea = parseCopyBinary(bytes, 5)[0]![2]!;
    bytea[0] = 9;
    expect(bytes.indexOf(Buffer.from([9, 2, 255]))).toBeGreaterThan(0);
  });

  it('reads no rows, several rows, and skips a header extension', () => {
    expect(parseCopyBinary(Uint8Array.from([...header(), 0xff, 0xff]), 3)).toEqual([]);
    const two = Uint8Array.from([...header(0, [1, 2, 3]), 0, 1, 0, 0, 0, 1, 42, 0, 1, 255, 255, 255, 255, 0xff, 0xff]);
    expect(parseCopyBinary(two, 1)).toEqual([[Uint8Array.of(42)], [null]]);
  });

  it('ignores flag bits 17–31 and rejects bits 0–16 (format-critical, or OIDs)', () => {
    expect(parseCopyBinary(Uint8Array.from([...header(1 << 20), 0xff, 0xff]), 1)).toEqual([]);
    for (const bit of [0, 15, 16])
      expect(() => parseCopyBinary(Uint8Array.from([...header(1 << bit), 0xff, 0xff]), 1)).toThrow(CopyFormatError);
  });

  it('rejects a bad signature, a wrong field count, a bad length, and bytes after the trailer', () => {
    const bad = Buffer.from(GOLDEN_COPY_BYTES);
    bad[0] = 0x51;
    expect(() => parseCopyBinary(bad, 5)).toThrow(/signature/);
    expect(() => parseCopyBinary(GOLDEN_COPY_BYTES, 4)).toThrow(/5 fields, expected 4/);
    expect(() => parseCopyBinary(Uint8Array.from([...header(), 0, 1, 0xff, 0xff, 0xff, 0xfe, 0xff, 0xff]), 1)).toThrow(
      /length -2/,
    );
    expect(() => parseCopyBinary(Buffer.concat([GOLDEN_COPY_BYTES, Buffer.of(0)]), 5)).toThrow(/after its trailer/);
  });

  it('rejects every truncation of the golden vector', () => {
    for (let n = 0; n < GOLDEN_COPY_BYTES.length; n++) {
      expect(() => parseCopyBinary(GOLDEN_COPY_BYTES.subarray(0, n), 5), `first ${n} bytes`).toThrow(CopyFormatError);
    }
  });

  it('throws nothing but CopyFormatError on random input, with or without a valid header', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.uint8Array({ maxLength: 64 }),
        fc.integer({ min: 0, max: 4 }),
        (withHeader, body, columns) => {
          const bytes = withHeader ? Uint8Array.from([...header(), ...body]) : body;
          try {
            for (const row of parseCopyBinary(bytes, columns)) expect(row).toHaveLength(columns);
          } catch (error) {
            expect(error).toBeInstanceOf(CopyFormatError);
          }
        },
      ),
    );
  });

  it('decodes fields strictly: sizes, NULLs, unsafe int8, invalid UTF-8', () => {
    expect(copyInt8(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe))).toBe(-2);
    expect(copyInt8(Uint8Array.of(0, 0x1f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff))).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => copyInt8(Uint8Array.of(0, 0x20, 0, 0, 0, 0, 0, 0))).toThrow(/not a safe integer/);
    expect(() => copyInt8(Uint8Array.of(0, 0, 0, 1))).toThrow(/4 bytes, not 8/);
    expect(() => copyInt4(null)).toThrow(/NULL/);
    expect(() => copyText(Uint8Array.of(0xc3))).toThrow(CopyFormatError);
  });
});

describe('COPY statement literals', () => {
  it('accept only safe integers and finite times', () => {
    expect(sqlInteger(0)).toBe('0');
    expect(sqlInteger(-12)).toBe('-12');
    expect(sqlInteger(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991');
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53])
      expect(() => sqlInteger(bad)).toThrow(RangeError);
    expect(sqlTimestamp(1_700_000_000_123)).toBe(`'2023-11-14T22:13:20.123Z'::timestamptz`);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, 9e15]) expect(() => sqlTimestamp(bad)).toThrow(RangeError);
    expect(sqlInt8Array([])).toBe(`'{}'::int8[]`);
    expect(sqlInt8Array(new Set([3, 1]))).toBe(`'{3,1}'::int8[]`);
    expect(() => sqlInt8Array([1, 0.5])).toThrow(RangeError);
  });
});
