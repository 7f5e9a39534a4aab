/**
 * The COPY framing stripper (src/domain/codecs/copy-data-framer.ts): whatever way the socket cuts the
 * protocol stream, the payload is exactly the CopyData bodies in order, skipped messages leave no trace, and
 * the bytes after CopyDone (or from an ErrorResponse on) are handed back whole.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CopyDataFramer, type FramedRead } from '../../src/domain/codecs/copy-data-framer.ts';

function message(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + body.length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setUint32(1, body.length + 4);
  out.set(body, 5);
  return out;
}

const bytes = (...parts: (number[] | Uint8Array)[]): Uint8Array => {
  const all = parts.flatMap((p) => [...p]);
  return Uint8Array.from(all);
};

/** Feeds `stream` cut at `cuts` (offsets) and collects what the framer gives back. */
function feed(stream: Uint8Array, cuts: number[]): { payload: number[]; stop: FramedRead['stop']; rest: number[] } {
  const framer = new CopyDataFramer();
  const payload: number[] = [];
  const bounds = [...new Set(cuts.filter((c) => c > 0 && c < stream.length))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...bounds, stream.length]) {
    // A fresh copy per read, as the socket hands over: the framer may overwrite it.
    const read = framer.read(stream.slice(from, to));
    payload.push(...read.payload);
    if (read.stop !== 'none') {
      return { payload, stop: read.stop, rest: [...read.rest, ...stream.slice(to)] };
    }
    from = to;
  }
  return { payload, stop: 'none', rest: [] };
}

const rowA = Uint8Array.from([0, 7, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
const rowB = Uint8Array.from({ length: 300 }, (_, i) => i & 255);
const copyOut = message('H', Uint8Array.from([1, 0, 7, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1]));
const notice = message('N', new TextEncoder().encode('SNOTICE\0Mhello\0\0'));
const after = bytes(message('C', new TextEncoder().encode('COPY 2\0')), message('Z', Uint8Array.of(0x49)));
const stream = bytes(copyOut, message('d', rowA), notice, message('d', rowB), message('c', new Uint8Array(0)), after);

describe('CopyDataFramer', () => {
  it('given a whole copy in one read, then the payload is the rows and the rest is what follows CopyDone', () => {
    expect(feed(stream, [])).toEqual({ payload: [...rowA, ...rowB], stop: 'done', rest: [...after] });
  });

  it('given every single cut of the stream, then the result is the same', () => {
    for (let cut = 1; cut < stream.length; cut++)
      expect(feed(stream, [cut]), `cut at ${cut}`).toEqual({
        payload: [...rowA, ...rowB],
        stop: 'done',
        rest: [...after],
      });
  });

  it('given the stream one byte per read, then the result is the same', () => {
    const cuts = Array.from({ length: stream.length }, (_, i) => i);
    expect(feed(stream, cuts)).toEqual({ payload: [...rowA, ...rowB], stop: 'done', rest: [...after] });
  });

  it('given random rows and random cuts, then the payload is the rows concatenated', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 200 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (rows, cuts) => {
          const whole = bytes(copyOut, ...rows.map((r) => message('d', r)), message('c', new Uint8Array(0)), after);
          const got = feed(
            whole,
            cuts.map((c) => c % (whole.length + 1)),
          );
          expect(got).toEqual({ payload: rows.flatMap((r) => [...r]), stop: 'done', rest: [...after] });
        },
      ),
    );
  });

  it('given an ErrorResponse among the rows, then it stops there and hands the error message back whole', () => {
    const error = message('E', new TextEncoder().encode('SERROR\0C57014\0Mcanceling statement\0\0'));
    const failing = bytes(copyOut, message('d', rowA), error, message('Z', Uint8Array.of(0x49)));
    for (let cut = 1; cut < failing.length; cut++) {
      const got = feed(failing, [cut]);
      expect(got.stop).toBe('error');
      expect(got.payload).toEqual([...rowA]);
      expect(got.rest).toEqual([...error, 0x5a, 0, 0, 0, 5, 0x49]);
    }
  });

  it('given a message that is neither data nor skippable, then copy-out mode ends after it', () => {
    const ending = bytes(
      message('d', rowA),
      message('C', new TextEncoder().encode('COPY 1\0')),
      message('Z', Uint8Array.of(0x49)),
    );
    expect(feed(ending, []).stop).toBe('done');
    expect(feed(ending, []).payload).toEqual([...rowA]);
  });

  it('given a copy that has stopped, then reading more is a programming error', () => {
    const framer = new CopyDataFramer();
    framer.read(stream.slice());
    expect(() => framer.read(Uint8Array.of(1))).toThrow(RangeError);
  });
});
