import { describe, expect, it } from 'vitest';
import { pixelsOf } from '../helpers/frames.ts';
import { EdgeCanvas } from '../../src/domain/edge/edge-canvas.ts';
import { SendGroups } from '../../src/domain/edge/send-groups.ts';

describe('SendGroups', () => {
  it('given 3 groups, turns go 0, 1, 2 and back to 0, each group keeping the sequence it was sent up to', () => {
    const groups = new SendGroups(3, 10);
    expect([groups.next, groups.atCycleStart, groups.oldestSeq]).toEqual([0, true, 10]);
    groups.sent(12);
    groups.sent(15);
    expect([groups.next, groups.atCycleStart]).toEqual([2, false]);
    expect([groups.lastSeq(0), groups.lastSeq(1), groups.lastSeq(2), groups.oldestSeq]).toEqual([12, 15, 10, 10]);
    groups.sent(15);
    expect([groups.next, groups.atCycleStart, groups.oldestSeq]).toEqual([0, true, 12]);
  });

  it('allAt brings every group to a sequence and starts a new cycle; no group ever moves back', () => {
    const groups = new SendGroups(2, 5);
    groups.sent(9);
    groups.allAt(8);
    expect([groups.lastSeq(0), groups.lastSeq(1), groups.next]).toEqual([9, 8, 0]);
  });

  it('refuses fewer than one group', () => {
    expect(() => new SendGroups(0, 0)).toThrow(RangeError);
    expect(() => new SendGroups(1.5, 0)).toThrow(RangeError);
  });

  it('property: with groups fed by EdgeCanvas.frameSince in turn, every group sees every event once, in order, and a replica per group equals the canvas', () => {
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let run = 0; run < 20; run++) {
      const count = 1 + Math.floor(random() * 5);
      const state = new EdgeCanvas(8, new Uint8Array(64), 0, { ringEvents: 4096 });
      const groups = new SendGroups(count, 0);
      const replicas = Array.from({ length: count }, () => ({ canvas: new Uint8Array(64), seq: 0 }));
      let seq = 0;
      for (let step = 0; step < 60; step++) {
        const events = Math.floor(random() * 6);
        for (let i = 0; i < events; i++) {
          seq++;
          if (random() < 0.8)
            state.pushPixel(seq, Math.floor(random() * 8), Math.floor(random() * 8), 1 + Math.floor(random() * 31));
          else state.pushOther(seq);
        }
        state.flush();
        const group = groups.next;
        const frame = state.frameSince(groups.lastSeq(group));
        if (frame) {
          const { firstSeq, lastSeq, pixels } = pixelsOf(frame);
          const replica = replicas[group]!;
          expect(firstSeq).toBe(replica.seq + 1);
          for (const [x, y, c] of pixels) replica.canvas[y! * 8 + x!] = c!;
          replica.seq = lastSeq;
        }
        groups.sent(state.seq);
      }
      for (let g = 0; g < count; g++) {
        const frame = state.frameSince(groups.lastSeq(g));
        if (frame) for (const [x, y, c] of pixelsOf(frame).pixels) replicas[g]!.canvas[y! * 8 + x!] = c!;
        expect(replicas[g]!.canvas).toEqual(state.canvas);
      }
    }
  });
});

describe('EdgeCanvas.frameSince', () => {
  it('gives the events after a sequence up to seq from the ring, null when the ring no longer holds them or when nothing is newer', () => {
    const state = new EdgeCanvas(4, new Uint8Array(16), 0, { ringEvents: 4 });
    for (let seq = 1; seq <= 6; seq++) state.pushPixel(seq, seq % 4, 0, seq);
    state.flush();
    expect(pixelsOf(state.frameSince(3)!)).toEqual({
      firstSeq: 4,
      lastSeq: 6,
      pixels: [
        [0, 0, 4],
        [1, 0, 5],
        [2, 0, 6],
      ],
    });
    expect(state.frameSince(2)).not.toBeNull(); // events 3..6: the ring's four
    expect(state.frameSince(1)).toBeNull();
    expect(state.frameSince(6)).toBeNull();
    expect(state.ringCapacity).toBe(4);
  });
});
