/**
 * The dataset export's pure parts: Reddit's CSV shape (golden rows), the salted user key, and the streaming
 * parser of the binary COPY, which must give the same rows however the bytes are split into chunks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { newParseBatch, PlacementCopyParser } from '../../src/adapters/pg/placement-export.ts';
import { CopyFormatError } from '../../src/domain/codecs/copy-binary.ts';
import {
  colorHexes,
  csvFormatter,
  ndjsonFormatter,
  rawUserKey,
  redditTimestamp,
} from '../../src/domain/history/export-format.ts';
import { saltedUserKey } from '../../src/app/history/user-key.ts';
import type { PlacementBatch } from '../../src/domain/history/placement-batch.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { UserInterner } from '../../src/domain/history/user-interner.ts';
import { copyOutput } from '../helpers/copy-output.ts';

function batchOf(
  rows: { seq: number; kind?: number; x: number; y: number; color: number; placedAt: number; userId: string }[],
): PlacementBatch {
  const b = newParseBatch(rows.length);
  b.count = rows.length;
  rows.forEach((r, i) => {
    b.seq[i] = r.seq;
    b.kind[i] = r.kind ?? 1;
    b.x[i] = r.x;
    b.y[i] = r.y;
    b.color[i] = r.color;
    b.placedAt[i] = r.placedAt;
    b.userId[i] = r.userId;
  });
  // Ids given as strings only: no interned indexes (the COPY parser's batches carry those).
  const { userIndex: _index, userGeneration: _generation, ...plain } = b;
  return plain;
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe('CSV in the shape of r/place 2022', () => {
  it("writes the published row shape, trims the fraction's trailing zeros, quotes raw ids only when needed", () => {
    const at = Date.parse('2022-04-03T17:38:22.252Z');
    expect(redditTimestamp(at)).toBe('2022-04-03 17:38:22.252 UTC');
    expect(redditTimestamp(at + 248)).toBe('2022-04-03 17:38:22.5 UTC');
    expect(redditTimestamp(at - 252)).toBe('2022-04-03 17:38:22 UTC');
    expect(redditTimestamp(at + 748)).toBe('2022-04-03 17:38:23 UTC');
    const hex = colorHexes(PALETTE_32);
    const f = csvFormatter(rawUserKey, hex);
    expect(f.head).toBe('timestamp,user_id,pixel_color,coordinate\n');
    expect(
      text(
        f.rows(
          batchOf([
            { seq: 1, x: 0, y: 0, color: 5, placedAt: at, userId: 'alice' },
            { seq: 2, x: 1999, y: 1999, color: 0, placedAt: at + 1, userId: 'a,"b"' },
          ]),
        ),
      ),
    ).toBe(
      `2022-04-03 17:38:22.252 UTC,alice,${hex[5]},"0,0"\n2022-04-03 17:38:22.253 UTC,"a,""b""",#FFFFFF,"1999,1999"\n`,
    );
  });

  it('hashes user ids with the salt: 88 base64 characters, stable per user, different per salt', () => {
    const a = saltedUserKey('salt-one-0123456789'),
      b = saltedUserKey('salt-two-0123456789');
    expect(a('alice')).toMatch(/^[A-Za-z0-9+/]{86}==$/);
    expect(a('alice')).toBe(saltedUserKey('salt-one-0123456789')('alice'));
    expect(a('alice')).not.toBe(a('bob'));
    expect(a('alice')).not.toBe(b('alice'));
  });

  it('NDJSON rows parse back to the batch', () => {
    const hex = colorHexes(PALETTE_32);
    const line = JSON.parse(
      text(
        ndjsonFormatter(rawUserKey, hex).rows(
          batchOf([{ seq: 42, kind: 2, x: 3, y: 4, color: 7, placedAt: 1_700_000_000_000, userId: 'mod"1' }]),
        ),
      ),
    );
    expect(line).toEqual({
      seq: 42,
      timestamp: '2023-11-14T22:13:20.000Z',
      user_id: 'mod"1',
      pixel_color: hex[7],
      x: 3,
      y: 4,
      kind: 'restored',
    });
  });
});

function parseAll(
  bytes: Buffer,
  cuts: number[],
  capacity: number,
  onBatch?: (batch: PlacementBatch) => void,
  users?: UserInterner,
): { rows: unknown[]; ended: boolean } {
  const parser = new PlacementCopyParser(users);
  const rows: unknown[] = [];
  const batch = newParseBatch(capacity);
  const drain = () => {
    if (batch.count > 0) onBatch?.(batch);
    for (let i = 0; i < batch.count; i++)
      rows.push({
        seq: batch.seq[i],
        kind: batch.kind[i],
        x: batch.x[i],
        y: batch.y[i],
        color: batch.color[i],
        placedAt: batch.placedAt[i],
        userId: batch.userId[i],
      });
    batch.count = 0;
  };
  let last = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    parser.push(bytes.subarray(last, cut));
    last = cut;
    while (parser.parse(batch)) drain();
  }
  drain();
  return { rows, ended: parser.ended };
}

/** The NDJSON formatter as it was (a string per row, one encode per batch): the reference for the byte writer. */
function ndjsonReference(userKey: (userId: string) => string, colorHex: readonly string[], b: PlacementBatch): string {
  const iso = (ms: number) => new Date(ms).toISOString();
  let out = '';
  for (let i = 0; i < b.count; i++) {
    const ms = b.placedAt[i] as number;
    out += `{"seq":${b.seq[i]},"timestamp":"${iso(ms)}","user_id":${JSON.stringify(userKey(b.userId[i] as string))},"pixel_color":"${colorHex[b.color[i] as number]}","x":${b.x[i]},"y":${b.y[i]},"kind":"${b.kind[i] === 2 ? 'restored' : 'placed'}"}\n`;
  }
  return out;
}

describe('NDJSON written as bytes', () => {
  it('is the string-per-row NDJSON, from ids or interned indexes, raw or hashed, any ids and sequences', () => {
    const hex = colorHexes(PALETTE_32);
    const row = fc.record({
      seq: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
      kind: fc.constantFrom(1, 2),
      x: fc.integer({ min: 0, max: 32_767 }),
      y: fc.integer({ min: 0, max: 32_767 }),
      color: fc.integer({ min: 0, max: 255 }),
      placedAt: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
      userId: fc.oneof(
        fc.constantFrom('u1', 'mod"1', 'a\\b', 'ü'.repeat(32), '\u0001\n\t', 'x'.repeat(64)),
        fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
      ),
    });
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 40 }),
        fc.constantFrom(rawUserKey, saltedUserKey('s'.repeat(16))),
        fc.array(fc.nat(3000), { maxLength: 4 }),
        (rows, key, cuts) => {
          const plain = batchOf(rows);
          expect(text(ndjsonFormatter(key, hex).rows(plain))).toBe(ndjsonReference(key, hex, plain));
          // The same rows through the COPY parser: interned indexes, across interner generations.
          const indexed = ndjsonFormatter(key, hex);
          let got = '';
          parseAll(copyOutput(rows), cuts, 7, (b) => (got += text(indexed.rows(b))), new UserInterner(8, 8 * 1024));
          expect(got).toBe(ndjsonReference(key, hex, plain));
        },
      ),
    );
  });
});

describe("the export's streaming binary COPY parser", () => {
  const row = fc.record({
    seq: fc.integer({ min: 1, max: 2 ** 40 }),
    kind: fc.constantFrom(1, 2),
    x: fc.integer({ min: 0, max: 4095 }),
    y: fc.integer({ min: 0, max: 4095 }),
    color: fc.integer({ min: 0, max: 31 }),
    placedAt: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
    userId: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }),
  });

  it('gives every row, in order, however the bytes are cut and whatever the batch size', () => {
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 30 }),
        fc.array(fc.nat(3000), { maxLength: 12 }),
        fc.integer({ min: 1, max: 7 }),
        (rows, cuts, capacity) => {
          const got = parseAll(copyOutput(rows), cuts, capacity);
          expect(got.ended).toBe(true);
          expect(got.rows).toEqual(rows);
        },
      ),
    );
  });

  it('rejects output of another shape rather than misread it', () => {
    const good = copyOutput([
      { seq: 1, kind: 1, x: 1, y: 2, color: 3, placedAt: Date.parse('2026-01-01T00:00:00Z'), userId: 'u' },
    ]);
    const wrongWidth = Buffer.from(good);
    wrongWidth.writeInt32BE(4, 19 + 2);
    expect(() => parseAll(wrongWidth, [], 4)).toThrow(CopyFormatError);
    const notCopy = Buffer.from(good);
    notCopy[0] = 0x51;
    expect(() => parseAll(notCopy, [], 4)).toThrow(/bad signature/);
    expect(parseAll(good.subarray(0, good.length - 5), [], 4).ended).toBe(false);
  });
});

describe('user ids interned by the parser', () => {
  it('gives each distinct id one index and one string, and forgets them all only between batches', () => {
    const users = new UserInterner(4, 4 * 1024);
    const bytes = (id: string) => Buffer.from(`..${id}..`);
    const intern = (id: string) => users.intern(bytes(id), 2, 2 + Buffer.byteLength(id));
    users.startBatch(2);
    const a = intern('alice'),
      e = intern('émile');
    expect([a, e, intern('alice')]).toEqual([0, 1, 0]);
    expect(users.ids).toEqual(['alice', 'émile']);
    users.startBatch(2);
    expect(users.generation).toBe(0);
    intern('bob');
    intern('carol');
    expect(users.size).toBe(4);
    users.startBatch(2);
    expect(users.generation).toBe(1);
    expect(intern('carol')).toBe(0);
    expect(() => users.startBatch(5)).toThrow(RangeError);
  });

  it('internRows gives each id the index of its first appearance, for ids of every length, short and long', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('', 'a', 'ab\u0000', 'ab', 'x'.repeat(21))), {
          minLength: 1,
          maxLength: 9000,
        }),
        (ids) => {
          const users = new UserInterner(1 << 14, 64 << 20);
          const bytes = Buffer.from(ids.join(''));
          const starts = new Int32Array(ids.length);
          const ends = new Int32Array(ids.length);
          let at = 0;
          ids.forEach((id, i) => {
            starts[i] = at;
            at += Buffer.byteLength(id);
            ends[i] = at;
          });
          const got = new Uint32Array(ids.length);
          users.startBatch(ids.length);
          users.internRows(bytes, starts, ends, 0, ids.length, got);
          const first = new Map<string, number>();
          const expected = ids.map((id) => first.get(id) ?? (first.set(id, first.size), first.size - 1));
          expect([...got]).toEqual(expected);
          expect(users.ids).toEqual([...first.keys()]);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('CSV from interned indexes is the CSV from the ids, across generations and any cuts', () => {
    const pool = ['u1', 'a,"b"', 'émile', 'x'.repeat(40), 'u5', 'u6', 'u7', 'u8', 'u9'];
    const row = fc.record({
      seq: fc.integer({ min: 1, max: 2 ** 40 }),
      kind: fc.constantFrom(1, 2),
      x: fc.integer({ min: 0, max: 32_767 }),
      y: fc.integer({ min: 0, max: 32_767 }),
      color: fc.integer({ min: 0, max: 31 }),
      placedAt: fc.integer({ min: 946_684_800_000, max: 4_102_444_800_000 }),
      userId: fc.constantFrom(...pool),
    });
    const hex = colorHexes(PALETTE_32);
    fc.assert(
      fc.property(
        fc.array(row, { maxLength: 40 }),
        fc.array(fc.nat(4000), { maxLength: 8 }),
        fc.integer({ min: 1, max: 5 }),
        fc.constantFrom(rawUserKey, saltedUserKey('s'.repeat(16))),
        (rows, cuts, capacity, key) => {
          const indexed = csvFormatter(key, hex);
          const generations = new Set<number>();
          let got = '';
          parseAll(
            copyOutput(rows),
            cuts,
            capacity,
            (b) => {
              generations.add(b.userGeneration ?? -1);
              got += text(indexed.rows(b));
            },
            new UserInterner(6, 6 * 1024),
          );
          const expected = rows.length === 0 ? '' : text(csvFormatter(key, hex).rows(batchOf(rows)));
          expect(got).toBe(expected);
          expect(generations.has(-1)).toBe(false);
        },
      ),
    );
  });
});

describe("the formatters' key slots", () => {
  it('give the same rows when indexes collide, slots widen for a long key, and generations change', () => {
    const hex = colorHexes(PALETTE_32);
    // 300 users; the smallest slot space holds ~20 hashed keys, so most rows evict another user's key.
    const pool = Array.from({ length: 300 }, (_, i) => (i % 97 === 5 ? `long-${'z'.repeat(120)}-${i}` : `u${i}`));
    fc.assert(
      fc.property(
        fc.array(fc.record({ user: fc.nat(299), x: fc.nat(1999), color: fc.nat(31) }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.constantFrom(rawUserKey, saltedUserKey('s'.repeat(16))),
        fc.constantFrom(0, 4096, 20_000),
        (picks, key, keyBytes) => {
          const rows = picks.map((p, i) => ({
            seq: i + 1,
            x: p.x,
            y: 7,
            color: p.color,
            placedAt: 1_648_000_000_000 + i * 333,
            userId: pool[p.user] as string,
          }));
          for (const make of [csvFormatter, ndjsonFormatter]) {
            const expected = text(make(key, hex).rows(batchOf(rows)));
            const slotted = make(key, hex, { keyBytes });
            let got = '';
            // Two generations: the same index stands for another user in the second.
            for (const generation of [0, 1]) {
              const indexed = { ...batchOf(rows), userIndex: new Uint32Array(rows.length), userGeneration: generation };
              const order = generation === 0 ? pool : [...pool].reverse();
              rows.forEach((r, i) => (indexed.userIndex[i] = order.indexOf(r.userId)));
              got += text(slotted.rows(indexed));
            }
            expect(got).toBe(expected + expected);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
