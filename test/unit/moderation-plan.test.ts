import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { EventKind, type CanvasEvent } from '../../proto/event-codec.ts';
import {
  createRestorePlanner,
  createRollbackPlanner,
  dropTouched,
  inRegion,
  type ModerationPlan,
  type Planner,
} from '../../src/domain/moderation/plan.ts';
import type { Region } from '../../src/domain/region.ts';

const W = 5;
const H = 4;

const eventArb = fc.record({
  kind: fc.constantFrom(EventKind.PixelPlaced, EventKind.PixelPlaced, EventKind.PixelPlaced, EventKind.PixelRestored),
  x: fc.integer({ min: 0, max: W - 1 }),
  y: fc.integer({ min: 0, max: H - 1 }),
  color: fc.integer({ min: 0, max: 7 }),
  userId: fc.constantFrom('u_a', 'u_b', 'u_c'),
  requestId: fc.constant('r'),
  placedAt: fc.integer({ min: 0, max: 100 }),
}) as fc.Arbitrary<CanvasEvent>;
const historyArb = fc.array(eventArb, { maxLength: 60 }).map((events) =>
  // placedAt non-decreasing in stream order, as the log assigns it
  events.sort((a, b) => a.placedAt - b.placedAt),
);
const regionArb = fc.option(
  fc.record({
    x: fc.integer({ min: 0, max: W - 1 }),
    y: fc.integer({ min: 0, max: H - 1 }),
    w: fc.integer({ min: 1, max: W }),
    h: fc.integer({ min: 1, max: H }),
  }),
  { nil: undefined },
);

function run(planner: Planner, events: readonly CanvasEvent[]): ModerationPlan {
  events.forEach((e, i) => planner.add(i + 1, e));
  return planner.finish();
}

/** The canvas after applying a plan's changes to the final canvas, computed with the shared `replay`. */
function afterPlan(events: readonly CanvasEvent[], plan: ModerationPlan): Uint8Array {
  return replay(
    replay(createCanvas({ width: W, height: H }), W, events),
    W,
    plan.changes.map((c) => ({ x: c.x, y: c.y, color: c.to })),
  );
}

describe('rollback planning', () => {
  it("given any history, restores exactly the pixels whose last events are the user's, to their colour before that run (oracle: replay)", () => {
    fc.assert(
      fc.property(
        historyArb,
        fc.option(fc.integer({ min: 0, max: 100 }), { nil: undefined }),
        regionArb,
        (events, since, region) => {
          const matches = (e: CanvasEvent) =>
            e.kind === EventKind.PixelPlaced &&
            e.userId === 'u_a' &&
            (since === undefined || e.placedAt >= since) &&
            inRegion(region, e.x, e.y);
          const plan = run(createRollbackPlanner(W, H, { userId: 'u_a', since, region }), events);
          const final = replay(createCanvas({ width: W, height: H }), W, events);
          const expected = final.slice();
          for (let y = 0; y < H; y++) {
            for (let x = 0; x < W; x++) {
              const idx = events.map((e, i) => (e.x === x && e.y === y ? i : -1)).filter((i) => i >= 0);
              let k = idx.length;
              while (k > 0 && matches(events[idx[k - 1]!]!)) k--;
              if (k === idx.length) continue; // last event is not the user's: left alone
              const before = replay(createCanvas({ width: W, height: H }), W, events.slice(0, idx[k]));
              expected[y * W + x] = before[y * W + x]!;
            }
          }
          expect(afterPlan(events, plan)).toEqual(expected);
          for (const c of plan.changes) expect(c.from).not.toBe(c.to);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("given a rollback already applied, planning it again changes nothing (the restores end the user's runs)", () => {
    fc.assert(
      fc.property(historyArb, (events) => {
        const plan = run(createRollbackPlanner(W, H, { userId: 'u_a' }), events);
        const restores: CanvasEvent[] = plan.changes.map((c) => ({
          kind: EventKind.PixelRestored,
          x: c.x,
          y: c.y,
          color: c.to,
          userId: 'mod',
          requestId: 'rb',
          placedAt: 101,
        }));
        const again = run(createRollbackPlanner(W, H, { userId: 'u_a' }), [...events, ...restores]);
        expect(again.changes).toEqual([]);
      }),
    );
  });

  it('given a later placement by someone else, leaves that pixel alone', () => {
    const e = (x: number, color: number, userId: string, placedAt: number): CanvasEvent => ({
      kind: EventKind.PixelPlaced,
      x,
      y: 0,
      color,
      userId,
      requestId: 'r',
      placedAt,
    });
    const plan = run(createRollbackPlanner(W, H, { userId: 'u_a' }), [
      e(0, 3, 'u_b', 1),
      e(0, 4, 'u_a', 2),
      e(1, 5, 'u_a', 3),
      e(1, 6, 'u_b', 4),
      e(2, 7, 'u_a', 5),
      e(2, 2, 'u_a', 6),
    ]);
    expect(plan.changes).toEqual([
      { x: 0, y: 0, from: 4, to: 3 },
      { x: 2, y: 0, from: 2, to: 0 },
    ]);
    expect(plan.matchedEvents).toBe(4);
    expect(plan.throughSeq).toBe(6);
  });
});

describe('restore planning', () => {
  it('given any history, sets the region back to the canvas at T and leaves the rest (oracle: replay of the prefix)', () => {
    fc.assert(
      fc.property(historyArb, fc.integer({ min: -1, max: 101 }), regionArb, (events, at, maybeRegion) => {
        const region: Region = maybeRegion ?? { x: 0, y: 0, w: W, h: H };
        const plan = run(createRestorePlanner(W, H, { at, region }), events);
        const cut = events.findIndex((e) => e.placedAt > at);
        const then = replay(createCanvas({ width: W, height: H }), W, cut < 0 ? events : events.slice(0, cut));
        const final = replay(createCanvas({ width: W, height: H }), W, events);
        const after = afterPlan(events, plan);
        for (let y = 0; y < H; y++) {
          for (let x = 0; x < W; x++) {
            const o = y * W + x;
            expect(after[o]).toBe(inRegion(region, x, y) ? then[o] : final[o]);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('dropTouched', () => {
  it('drops exactly the changes on pixels touched later', () => {
    const changes = [
      { x: 0, y: 0, from: 1, to: 2 },
      { x: 1, y: 0, from: 1, to: 2 },
    ];
    expect(
      dropTouched(changes, W, [
        { x: 1, y: 0 },
        { x: 3, y: 3 },
      ]),
    ).toEqual([changes[0]]);
  });
});
