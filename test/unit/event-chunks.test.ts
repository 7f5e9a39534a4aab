/**
 * The packed chunk codec (src/domain/history/event-chunks.ts): golden bytes, and for random batches split at
 * random sizes, reading any (afterSeq, untilSeq, time, region) window equals the reference prefix rule.
 * Also the snapshot LRU (src/domain/history/snapshot-cache.ts).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventKind } from '../../proto/event-codec.ts';
import { CHUNK_RECORD_BYTES, packChunks, unpackTail } from '../../src/domain/history/event-chunks.ts';
import type { HistoryRow } from '../../src/ports/history.ts';
import type { Region } from '../../src/domain/region.ts';
import { SnapshotCache } from '../../src/domain/history/snapshot-cache.ts';

function row(seq: number, x: number, y: number, color: number, placedAt: number): HistoryRow {
  return {
    seq,
    storedAt: placedAt,
    event: { kind: EventKind.PixelPlaced, x, y, color, userId: 'u', requestId: 'r', placedAt },
  };
}

function reference(rows: readonly HistoryRow[], afterSeq: number, untilSeq: number, time: number, region?: Region) {
  const changes: { x: number; y: number; color: number }[] = [];
  for (const r of rows) {
    if (r.seq <= afterSeq) continue;
    if (r.seq > untilSeq) return { changes, stopSeq: null };
    if (r.event.placedAt > time) return { changes, stopSeq: r.seq };
    const { x, y, color } = r.event;
    if (!region || (x >= region.x && x < region.x + region.w && y >= region.y && y < region.y + region.h))
      changes.push({ x, y, color });
  }
  return { changes, stopSeq: null };
}

describe('event chunks', () => {
  it('packs one record as 18 big-endian bytes: seq offset, x, y, colour, placedAt', () => {
    const [chunk] = packChunks([row(10, 1, 2, 3, 1_700_000_000_123), row(12, 258, 7, 31, 1_700_000_000_000)], 0);
    expect(chunk).toMatchObject({
      firstSeq: 10,
      lastSeq: 12,
      count: 2,
      minPlacedAt: 1_700_000_000_000,
      maxPlacedAt: 1_700_000_000_123,
    });
    const expected = Buffer.alloc(2 * CHUNK_RECORD_BYTES);
    expected.writeUInt32BE(0, 0);
    expected.writeInt16BE(1, 4);
    expected.writeInt16BE(2, 6);
    expected.writeInt16BE(3, 8);
    expected.writeDoubleBE(1_700_000_000_123, 10);
    expect(chunk!.packed.subarray(0, 18)).toEqual(new Uint8Array(expected.subarray(0, 18)));
    expect([...chunk!.packed.subarray(18, 28)]).toEqual([0, 0, 0, 2, 1, 2, 0, 7, 0, 31]);
  });

  it('leaves out rows at or before the verified position (a redelivery) and sorts/dedups the rest', () => {
    expect(packChunks([row(1, 0, 0, 1, 5), row(2, 0, 0, 1, 5)], 2)).toEqual([]);
    const chunks = packChunks(
      [row(5, 0, 0, 1, 5), row(3, 0, 0, 1, 5), row(4, 0, 0, 1, 5), row(4, 0, 0, 2, 5), row(2, 0, 0, 1, 5)],
      2,
    );
    expect(chunks.map((c) => [c.firstSeq, c.lastSeq, c.count])).toEqual([[3, 5, 3]]);
  });

  it('splits at maxRecords and reads back any window by the prefix rule, across chunk boundaries', () => {
    const arb = fc.record({
      gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 120 }),
      jitter: fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 120, maxLength: 120 }),
      maxRecords: fc.integer({ min: 1, max: 20 }),
      after: fc.integer({ min: 0, max: 400 }),
      until: fc.integer({ min: 0, max: 400 }),
      time: fc.integer({ min: -100, max: 2_000 }),
      region: fc.option(
        fc.record({
          x: fc.integer({ min: 0, max: 7 }),
          y: fc.integer({ min: 0, max: 7 }),
          w: fc.integer({ min: 1, max: 8 }),
          h: fc.integer({ min: 1, max: 8 }),
        }),
        { nil: undefined },
      ),
    });
    fc.assert(
      fc.property(arb, ({ gaps, jitter, maxRecords, after, until, time, region }) => {
        let seq = 0;
        const rows = gaps.map((g, i) =>
          row((seq += g), (i * 7) % 8, (i * 3) % 8, i % 32, 1_000 + i * 10 + (jitter[i] ?? 0)),
        );
        const chunks = packChunks(rows, 0, maxRecords);
        expect(chunks.reduce((n, c) => n + c.count, 0)).toBe(rows.length);
        for (const c of chunks) expect(c.count).toBeLessThanOrEqual(maxRecords);
        for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.firstSeq).toBeGreaterThan(chunks[i - 1]!.lastSeq);
        const got = unpackTail(chunks, after, until, time + 1_000, region);
        expect(got).toEqual(reference(rows, after, until, time + 1_000, region));
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a malformed chunk instead of returning a wrong tail', () => {
    expect(() => unpackTail([{ firstSeq: 1, lastSeq: 1, packed: new Uint8Array(17) }], 0, 10, 1e15)).toThrow(
      /multiple of 18/,
    );
    const [a] = packChunks([row(5, 0, 0, 1, 5)], 0);
    const [b] = packChunks([row(3, 0, 0, 1, 5)], 0);
    expect(() => unpackTail([a!, b!], 0, 10, 1e15)).toThrow(/sequence 3 after 5/);
  });
});

describe('snapshot cache', () => {
  it('returns private copies, evicts the least recently used, counts hits and misses', () => {
    const cache = new SnapshotCache(2);
    cache.put(1, new Uint8Array([1]));
    cache.put(2, new Uint8Array([2]));
    const one = cache.take(1)!;
    one[0] = 99;
    expect([...cache.take(1)!]).toEqual([1]);
    cache.put(3, new Uint8Array([3]));
    expect(cache.take(2)).toBeUndefined();
    expect(cache.size).toBe(2);
    expect([cache.hits, cache.misses]).toEqual([2, 1]);
    expect(() => new SnapshotCache(-1)).toThrow(RangeError);
  });
});
