/**
 * The export's text formats on worker threads (src/adapters/pg/export-workers.ts) against the one-thread
 * formatter: the same bytes for every format and user-id kind however the COPY arrives cut and whatever the run
 * size; gzip members that gunzip to the same text; the row splitter's bounds; a stopped export's workers gone.
 */
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  closeIdleExportWorkers,
  formatInWorkers,
  idleExportWorkers,
  liveExportWorkers,
} from '../../src/adapters/pg/export-workers.ts';
import { CopyRowSplitter } from '../../src/adapters/pg/placement-copy.ts';
import { newParseBatch, PlacementCopyParser } from '../../src/adapters/pg/placement-export.ts';
import { saltedUserKey } from '../../src/app/history/user-key.ts';
import { CopyFormatError } from '../../src/domain/codecs/copy-binary.ts';
import {
  colorHexes,
  csvFormatter,
  ndjsonFormatter,
  rawUserKey,
  type RowFormatter,
} from '../../src/domain/history/export-format.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { UserInterner } from '../../src/domain/history/user-interner.ts';
import type { TextExport } from '../../src/ports/export.ts';
import { type CopyRow, copyOutput } from '../helpers/copy-output.ts';

const SALT = 'worker-test-salt-0123456789';
const HEX = colorHexes(PALETTE_32);

function rowsOf(n: number, seed: number, users = 50): CopyRow[] {
  let s = seed;
  const next = () => {
    s = (Math.imul(s, 1_103_515_245) + 12_345) >>> 0;
    return s;
  };
  const start = Date.parse('2026-04-01T12:00:00Z');
  return Array.from({ length: n }, (_, i) => ({
    seq: i + 1,
    kind: next() % 7 === 0 ? 2 : 1,
    x: next() % 2000,
    y: next() % 2000,
    color: next() % 32,
    placedAt: start + i * 3 + (next() % 5),
    userId: i % 97 === 5 ? 'odd,"id"' : `user_${next() % users}`,
  }));
}

/** What the one-thread path writes for these rows: the head, then the COPY parsed and formatted. */
function oneThread(copy: Buffer, text: TextExport): Buffer {
  const key = text.userSalt === null ? rawUserKey : saltedUserKey(text.userSalt);
  const f: RowFormatter =
    text.format === 'csv' ? csvFormatter(key, text.colorHex) : ndjsonFormatter(key, text.colorHex);
  const parts: Uint8Array[] = [Buffer.from(f.head, 'latin1')];
  const parser = new PlacementCopyParser();
  const batch = newParseBatch(8_192);
  parser.push(copy);
  for (;;) {
    const full = parser.parse(batch);
    if (batch.count > 0) parts.push(f.rows(batch));
    batch.count = 0;
    if (!full) break;
  }
  return Buffer.concat(parts);
}

async function* cutInto(bytes: Buffer, cuts: readonly number[]): AsyncGenerator<Buffer> {
  let last = 0;
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
    yield bytes.subarray(last, cut);
    last = cut;
  }
}

async function collect(
  source: AsyncIterable<Buffer>,
  text: TextExport,
  workers: number,
  rowsPerRun: number,
): Promise<{ bytes: Buffer; rows: number; lastSeqs: number[] }> {
  const parts: Uint8Array[] = [];
  let rows = 0;
  const lastSeqs: number[] = [];
  for await (const run of formatInWorkers(source, text, { workers, rowsPerRun })) {
    parts.push(run.bytes);
    rows += run.rows;
    if (run.rows > 0) lastSeqs.push(run.lastSeq);
  }
  return { bytes: Buffer.concat(parts), rows, lastSeqs };
}

describe('CopyRowSplitter', () => {
  const users = new UserInterner(1024, 1024 * 1024);
  it('cuts any chunking of the COPY into runs of whole rows that parse to all rows, in order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        fc.array(fc.nat(4000), { maxLength: 10 }),
        fc.integer({ min: 1, max: 9 }),
        (n, cuts, perRun) => {
          const rows = rowsOf(n, n + 1);
          const copy = copyOutput(rows);
          const splitter = new CopyRowSplitter(perRun, 16);
          const runs = [];
          let last = 0;
          for (const cut of [...cuts.filter((c) => c > 0 && c < copy.length).sort((a, b) => a - b), copy.length]) {
            runs.push(...splitter.push(copy.subarray(last, cut)));
            last = cut;
          }
          const tail = splitter.end();
          if (tail) runs.push(tail);
          expect(runs.every((r) => r.rows <= perRun && r.rows > 0)).toBe(true);
          expect(runs.reduce((a, r) => a + r.rows, 0)).toBe(n);
          const seqs: number[] = [];
          for (const run of runs) {
            const parser = new PlacementCopyParser(users, true);
            const batch = newParseBatch(run.rows);
            parser.push(run.bytes);
            parser.parse(batch);
            expect(batch.count).toBe(run.rows);
            expect(batch.seq[batch.count - 1]).toBe(run.lastSeq);
            seqs.push(...batch.seq.subarray(0, batch.count));
          }
          expect(seqs).toEqual(rows.map((r) => r.seq));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects output that is not whole: no trailer, a partial row, bytes after the trailer, a bad header', () => {
    const copy = copyOutput(rowsOf(3, 1));
    const cut = new CopyRowSplitter(8);
    cut.push(copy.subarray(0, copy.length - 7));
    expect(() => cut.end()).toThrow(CopyFormatError);
    const extra = new CopyRowSplitter(8);
    expect(() => extra.push(Buffer.concat([copy, Buffer.from([1])]))).toThrow(/after its trailer/);
    const bad = Buffer.from(copy);
    bad[0] = 0x51;
    expect(() => new CopyRowSplitter(8).push(bad)).toThrow(/bad signature/);
  });
});

describe('formatInWorkers', () => {
  afterAll(() => closeIdleExportWorkers());
  const texts: TextExport[] = [
    { format: 'csv', userSalt: SALT, colorHex: HEX, gzipLevel: null },
    { format: 'csv', userSalt: null, colorHex: HEX, gzipLevel: null },
    { format: 'ndjson', userSalt: SALT, colorHex: HEX, gzipLevel: null },
    { format: 'ndjson', userSalt: null, colorHex: HEX, gzipLevel: null },
  ];

  it('writes the bytes of the one-thread path, every format and id kind, any cuts, runs and worker count', async () => {
    for (const [k, text] of texts.entries()) {
      for (const [n, workers, perRun] of [
        [0, 2, 8],
        [3001, 3, 500],
        [2000, 1, 2000],
      ] as const) {
        const copy = copyOutput(rowsOf(n, 7 + k + n));
        const cuts = Array.from({ length: 9 }, (_, i) => Math.floor((copy.length * (i * i + 1)) / 90));
        const got = await collect(cutInto(copy, cuts), text, workers, perRun);
        expect(got.rows).toBe(n);
        expect(got.bytes.equals(oneThread(copy, text))).toBe(true);
        expect(got.lastSeqs.at(-1) ?? 0).toBe(n);
      }
    }
  }, 60_000);

  it('gzips each run in its worker: the members concatenated gunzip to the same text', async () => {
    for (const text of [texts[0], texts[2]] as TextExport[]) {
      for (const n of [0, 2500]) {
        const copy = copyOutput(rowsOf(n, 3));
        const got = await collect(cutInto(copy, [100, 5000]), { ...text, gzipLevel: 1 }, 2, 700);
        expect(got.bytes[0]).toBe(0x1f);
        expect(gunzipSync(got.bytes).equals(oneThread(copy, text))).toBe(true);
      }
    }
  }, 60_000);

  it('keeps its threads for the next export when it ends normally, and stops idle ones on request', async () => {
    await closeIdleExportWorkers();
    expect(liveExportWorkers()).toBe(0);
    const copy = copyOutput(rowsOf(100, 2));
    await collect(cutInto(copy, []), texts[0] as TextExport, 2, 16);
    expect([idleExportWorkers(), liveExportWorkers()]).toEqual([2, 2]);
    const again = await collect(cutInto(copy, []), texts[2] as TextExport, 2, 16);
    expect(again.bytes.equals(oneThread(copy, texts[2] as TextExport))).toBe(true);
    expect([idleExportWorkers(), liveExportWorkers()]).toEqual([2, 2]);
    await closeIdleExportWorkers();
    expect([idleExportWorkers(), liveExportWorkers()]).toEqual([0, 0]);
  }, 30_000);

  it('terminates its workers at once when the consumer stops, and ends the source', async () => {
    // One thread leased from the idle ones, one started: both must be gone.
    await collect(cutInto(copyOutput(rowsOf(10, 1)), []), texts[0] as TextExport, 1, 16);
    expect(liveExportWorkers()).toBe(1);
    const copy = copyOutput(rowsOf(20_000, 5, 5000));
    let sourceEnded = false;
    let chunksRead = 0;
    async function* slow(): AsyncGenerator<Buffer> {
      try {
        for (let at = 0; at < copy.length; at += 4096) {
          chunksRead++;
          yield copy.subarray(at, at + 4096);
        }
      } finally {
        sourceEnded = true;
      }
    }
    const text = texts[0] as TextExport;
    const body = formatInWorkers(slow(), text, { workers: 2, rowsPerRun: 256 });
    const first = await body.next();
    expect(first.done).toBe(false);
    expect([idleExportWorkers(), liveExportWorkers()]).toEqual([0, 2]);
    await body.return(undefined);
    expect(sourceEnded).toBe(true);
    expect(liveExportWorkers()).toBe(0);
    // Bounded read-ahead: at most 2 runs per worker in flight, so the source was read only a little way.
    expect(chunksRead * 4096).toBeLessThan(copy.length / 4);
  }, 30_000);

  it('rejects when a run does not parse, and leaves no worker behind', async () => {
    const copy = copyOutput(rowsOf(50, 9));
    // A field width the splitter does not read (x's length) but the worker's parser checks.
    copy.writeInt32BE(4, 19 + 20);
    await expect(collect(cutInto(copy, []), texts[0] as TextExport, 2, 16)).rejects.toThrow(
      /unexpected export row layout/,
    );
    expect(liveExportWorkers()).toBe(idleExportWorkers());
  }, 30_000);
});
