import { describe, expect, it } from 'vitest';
import { pixelsOf } from '../helpers/frames.ts';
import { FrameType } from '../../proto/frames.ts';
import { decodeTileFrame } from '../../proto/tile-frames.ts';
import { EdgeCanvas, flushDelay, SequenceGap, type EdgeEvent } from '../../src/domain/edge/edge-canvas.ts';

const px = (seq: number, x: number, y: number, color: number) => ({ seq, pixel: { x, y, color } });

describe('EdgeCanvas', () => {
  it('applies events only at flush, so canvas, ring and frame share one seq', () => {
    const state = new EdgeCanvas(4, new Uint8Array(16), 10);
    state.push(px(11, 1, 1, 5));
    state.push(px(12, 2, 3, 7));
    expect(state.canvas[5]).toBe(0);
    expect(state.seq).toBe(10);
    expect(state.catchUp(10)).toMatchObject({ kind: 'pixels' });
    const frame = state.flush();
    if (!frame) throw new Error('expected a frame');
    expect(pixelsOf(frame)).toEqual({
      firstSeq: 11,
      lastSeq: 12,
      pixels: [
        [1, 1, 5],
        [2, 3, 7],
      ],
    });
    expect(state.seq).toBe(12);
    expect(state.canvas[5]).toBe(5);
    expect(state.canvas[14]).toBe(7);
    expect(state.flush()).toBeNull();
  });

  it('ignores redeliveries and throws on a gap', () => {
    const state = new EdgeCanvas(4, new Uint8Array(16), 10);
    state.push(px(11, 0, 0, 1));
    state.push(px(11, 0, 0, 2));
    expect(() => state.push(px(13, 0, 0, 3))).toThrow(SequenceGap);
    expect(state.receivedSeq).toBe(11);
  });

  it('pushPixel and pushOther (the live tail) leave the same state and frames as push', () => {
    const byObject = new EdgeCanvas(4, new Uint8Array(16), 10, { ringEvents: 4 });
    const byFields = new EdgeCanvas(4, new Uint8Array(16), 10, { ringEvents: 4 });
    const events: EdgeEvent[] = [
      px(11, 1, 1, 5),
      { seq: 12 },
      px(13, 3, 3, 9),
      px(13, 0, 0, 1),
      px(14, 2, 0, 4),
      { seq: 15 },
      px(16, 1, 1, 6),
    ];
    const frames: [Uint8Array | null, Uint8Array | null][] = [];
    events.forEach((e, i) => {
      byObject.push(e);
      if (e.pixel) byFields.pushPixel(e.seq, e.pixel.x, e.pixel.y, e.pixel.color);
      else byFields.pushOther(e.seq);
      if (i % 2 === 1) frames.push([byObject.flush(), byFields.flush()]);
    });
    frames.push([byObject.flush(), byFields.flush()]);
    for (const [a, b] of frames) expect(b).toEqual(a);
    expect(byFields.seq).toBe(16);
    expect(byFields.canvas).toEqual(byObject.canvas);
    expect(byFields.catchUp(11)).toEqual(byObject.catchUp(11));
    expect(() => byFields.pushPixel(18, 0, 0, 1)).toThrow(SequenceGap);
    expect(() => byFields.pushOther(18)).toThrow(SequenceGap);
  });

  it('serves a catch-up starting exactly at since + 1, across ring wrap-around', () => {
    const state = new EdgeCanvas(100, new Uint8Array(10_000), 0, { ringEvents: 8 });
    for (let seq = 1; seq <= 20; seq++) {
      state.push(px(seq, seq, 0, seq % 32));
      if (seq % 3 === 0) state.flush();
    }
    state.flush();
    expect(state.catchUp(20)).toEqual({ kind: 'pixels', frame: expect.any(Uint8Array) });
    const up = state.catchUp(15);
    if (up.kind !== 'pixels') throw new Error('expected pixels');
    expect(pixelsOf(up.frame)).toEqual({
      firstSeq: 16,
      lastSeq: 20,
      pixels: [16, 17, 18, 19, 20].map((s) => [s, 0, s % 32]),
    });
    // The ring holds 13..20: resuming from 12 still works, from 11 needs a canvas.
    expect(state.catchUp(12).kind).toBe('pixels');
    expect(state.catchUp(11)).toEqual({ kind: 'canvas' });
    expect(state.catchUp(21)).toEqual({ kind: 'ahead' });
    const empty = state.catchUp(20);
    if (empty.kind !== 'pixels') throw new Error('expected pixels');
    expect(pixelsOf(empty.frame)).toEqual({ firstSeq: 21, lastSeq: 20, pixels: [] });
  });

  it('given clients resuming from the same sequence in one window, they share one catch-up encoding; a flush renews it', () => {
    const state = new EdgeCanvas(100, new Uint8Array(10_000), 0, { ringEvents: 64 });
    for (let seq = 1; seq <= 10; seq++) state.push(px(seq, seq, 1, 3));
    state.flush();
    const a = state.catchUp(4);
    const b = state.catchUp(4);
    if (a.kind !== 'pixels' || b.kind !== 'pixels') throw new Error('expected pixels');
    expect(b.frame).toBe(a.frame);
    const other = state.catchUp(6);
    if (other.kind !== 'pixels') throw new Error('expected pixels');
    expect(pixelsOf(other.frame).firstSeq).toBe(7);
    state.push(px(11, 11, 1, 4));
    state.flush();
    const c = state.catchUp(4);
    if (c.kind !== 'pixels') throw new Error('expected pixels');
    expect(c.frame).not.toBe(a.frame);
    expect(pixelsOf(c.frame)).toEqual({
      firstSeq: 5,
      lastSeq: 11,
      pixels: [5, 6, 7, 8, 9, 10, 11].map((s) => [s, 1, s === 11 ? 4 : 3]),
    });
  });

  it('given zoomed-in clients opening in one window, they share one tile snapshot per tile; a flush renews it', () => {
    const state = new EdgeCanvas(600, new Uint8Array(600 * 300), 0);
    state.push(px(1, 300, 10, 5));
    state.flush();
    const a = state.tileFrame(1, 0);
    expect(state.tileFrame(1, 0)).toBe(a);
    const other = state.tileFrame(0, 0);
    expect(other).not.toBe(a);
    const tile = decodeTileFrame(a, new DataView(a.buffer, a.byteOffset, a.byteLength));
    if (tile.type !== FrameType.Tile) throw new Error('expected a tile');
    expect([tile.seq, tile.data[10 * 256 + 44]]).toEqual([1, 5]);
    state.push(px(2, 301, 10, 7));
    state.flush();
    const b = state.tileFrame(1, 0);
    expect(b).not.toBe(a);
    const renewed = decodeTileFrame(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
    if (renewed.type !== FrameType.Tile) throw new Error('expected a tile');
    expect([renewed.seq, renewed.data[10 * 256 + 45]]).toEqual([2, 7]);
  });

  it('replaying catch-up frames onto an old canvas equals the edge canvas (golden invariant)', () => {
    const state = new EdgeCanvas(10, new Uint8Array(100), 0, { ringEvents: 1000 });
    const client = new Uint8Array(100);
    for (let seq = 1; seq <= 300; seq++) {
      state.push(px(seq, (seq * 7) % 10, (seq * 3) % 10, seq % 16));
      if (seq % 17 === 0) state.flush();
      if (seq === 100) {
        const f = state.flush();
        if (f) pixelsOf(f).pixels.forEach(([x, y, c]) => (client[(y as number) * 10 + (x as number)] = c as number));
      }
    }
    state.flush();
    const up = state.catchUp(0);
    if (up.kind !== 'pixels') throw new Error('expected pixels');
    const replayed = new Uint8Array(100);
    pixelsOf(up.frame).pixels.forEach(([x, y, c]) => (replayed[(y as number) * 10 + (x as number)] = c as number));
    expect(replayed).toEqual(state.canvas);
  });

  it('grows its pending buffer beyond the initial size', () => {
    const state = new EdgeCanvas(100, new Uint8Array(10_000), 0);
    for (let seq = 1; seq <= 5000; seq++) state.push(px(seq, seq % 100, 0, 1));
    expect(state.pendingCount).toBe(5000);
    const f = state.flush();
    expect(f && pixelsOf(f).pixels.length).toBe(5000);
  });
});

describe('flushDelay', () => {
  it('publishes at once when idle, at most once per window under load', () => {
    expect(flushDelay(1000, 0, 50, 1, 100)).toBe(0);
    expect(flushDelay(1010, 1000, 50, 1, 100)).toBe(40);
    expect(flushDelay(1010, 1000, 50, 100, 100)).toBe(0);
  });
});
