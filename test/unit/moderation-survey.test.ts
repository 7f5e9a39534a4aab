/**
 * The moderator console's pure folds (src/app/moderation/survey.ts), checked against oracles written
 * straight from their definitions on random histories, and the console's idempotent apply over in-memory ports.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { EventKind, type CanvasEvent, type PixelRestored, isPixelEvent } from '../../proto/event-codec.ts';
import { inRegion } from '../../src/domain/moderation/plan.ts';
import { createCanvasFold, createRollbackAudit, createSurvey, cropRegion } from '../../src/domain/moderation/survey.ts';
import { createModeratorConsole } from '../../src/app/moderation/console.ts';
import type { EventStream, StoredEvent } from '../../src/ports/event-log.ts';
import type { ModerationLog } from '../../src/ports/moderation.ts';

const W = 6;
const H = 5;
const eventArb = fc.record({
  kind: fc.constantFrom(EventKind.PixelPlaced, EventKind.PixelPlaced, EventKind.PixelRestored),
  x: fc.integer({ min: 0, max: W - 1 }),
  y: fc.integer({ min: 0, max: H - 1 }),
  color: fc.integer({ min: 0, max: 7 }),
  userId: fc.constantFrom('u_a', 'u_b', 'm_c'),
  requestId: fc.constantFrom('rb_1', 'rb_2', 'r'),
  placedAt: fc.integer({ min: 0, max: 100 }),
}) as fc.Arbitrary<CanvasEvent>;
const regionArb = fc.record({
  x: fc.integer({ min: 0, max: W - 1 }),
  y: fc.integer({ min: 0, max: H - 1 }),
  w: fc.integer({ min: 1, max: W }),
  h: fc.integer({ min: 1, max: H }),
});

function feed<T>(fold: { add(seq: number, e: CanvasEvent): void; finish(): T }, events: readonly CanvasEvent[]): T {
  events.forEach((e, i) => fold.add(i + 1, e));
  return fold.finish();
}

describe('survey', () => {
  it("given any history, counts each user's placements in the rectangle and time range, with first/last times (oracle: filter)", () => {
    fc.assert(
      fc.property(
        fc.array(eventArb, { maxLength: 80 }),
        regionArb,
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (events, region, a, b) => {
          const [since, until] = [Math.min(a, b), Math.max(a, b)];
          const survey = feed(createSurvey(W, H, { region, since, until }), events);
          const hits = events.filter(
            (e) =>
              e.kind === EventKind.PixelPlaced &&
              e.placedAt >= since &&
              e.placedAt <= until &&
              inRegion(region, e.x, e.y),
          );
          expect(survey.placements).toBe(hits.length);
          expect(survey.pixels).toBe(new Set(hits.map((e) => `${e.x},${e.y}`)).size);
          for (const u of survey.users) {
            const mine = hits.filter((e) => e.userId === u.userId);
            expect([u.placements, u.firstAt, u.lastAt]).toEqual([
              mine.length,
              Math.min(...mine.map((e) => e.placedAt)),
              Math.max(...mine.map((e) => e.placedAt)),
            ]);
          }
          expect(survey.userCount).toBe(new Set(hits.map((e) => e.userId)).size);
          expect(survey.users.map((u) => u.placements)).toEqual(
            [...survey.users.map((u) => u.placements)].sort((x, y) => y - x),
          );
        },
      ),
    );
  });

  it('given a user, counts only theirs, anywhere when no rectangle is given', () => {
    const events: CanvasEvent[] = [
      { kind: EventKind.PixelPlaced, x: 0, y: 0, color: 1, userId: 'u_a', requestId: 'r1', placedAt: 5 },
      { kind: EventKind.PixelPlaced, x: 5, y: 4, color: 1, userId: 'u_a', requestId: 'r2', placedAt: 9 },
      { kind: EventKind.PixelPlaced, x: 5, y: 4, color: 2, userId: 'u_b', requestId: 'r3', placedAt: 9 },
    ];
    expect(feed(createSurvey(W, H, { userId: 'u_a', since: 0 }), events).users).toEqual([
      { userId: 'u_a', placements: 2, firstAt: 5, lastAt: 9 },
    ]);
  });
});

describe('rollback audit and canvas', () => {
  it('given any history, one entry per rollback id with its moderator and size, newest first; the canvas equals replay', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 80 }), (events) => {
        const audit = feed(createRollbackAudit(), events);
        const restores = events.filter((e): e is PixelRestored => e.kind === EventKind.PixelRestored);
        const ids = [...new Set(restores.map((e) => e.requestId))];
        expect(audit.map((a) => a.rollbackId)).toEqual(ids.reverse());
        for (const a of audit) {
          const first = restores.find((e) => e.requestId === a.rollbackId) as PixelRestored;
          expect([a.moderatorId, a.pixels]).toEqual([
            first.userId,
            restores.filter((e) => e.requestId === a.rollbackId).length,
          ]);
        }
        expect(feed(createCanvasFold(W, H), events)).toEqual(replay(createCanvas({ width: W, height: H }), W, events));
      }),
    );
  });

  it('keeps at most `max` rollbacks, dropping the oldest', () => {
    const restore = (id: string): CanvasEvent => ({
      kind: EventKind.PixelRestored,
      x: 0,
      y: 0,
      color: 1,
      userId: 'm',
      requestId: id,
      placedAt: 1,
    });
    expect(feed(createRollbackAudit(2), ['a', 'b', 'a', 'c'].map(restore)).map((e) => e.rollbackId)).toEqual([
      'c',
      'b',
    ]);
  });

  it('crops a region row by row', () => {
    const canvas = Uint8Array.from({ length: W * H }, (_, i) => i);
    expect([...cropRegion(canvas, W, { x: 1, y: 2, w: 2, h: 2 })]).toEqual([13, 14, 19, 20]);
  });
});

describe('console apply', () => {
  /** An in-memory stream and conditional log with JetStream's message-id de-duplication. */
  function memory(initial: readonly CanvasEvent[]) {
    const stored: StoredEvent[] = initial.map((event, i) => ({ seq: i + 1, storedAt: 0, event }));
    const ids = new Map<string, number>();
    const stream: EventStream = {
      lastSeq: async () => stored.length,
      sizeAt: async () => ({ size: { width: W, height: H }, lastResize: null }),
      async *read(fromSeq, options) {
        yield stored.filter((s) => s.seq >= fromSeq && s.seq <= (options?.untilSeq ?? Infinity));
      },
      readPixels: () => {
        throw new Error('unused');
      },
    };
    const log: ModerationLog = {
      async appendIfLast(event, messageId, expected) {
        await new Promise((r) => setTimeout(r, 1)); // let a concurrent submit interleave
        const dup = ids.get(messageId);
        if (dup !== undefined) return { ok: true, seq: dup };
        if (stored.length !== expected) return { ok: false, lastSeq: stored.length };
        stored.push({ seq: stored.length + 1, storedAt: 0, event });
        ids.set(messageId, stored.length);
        return { ok: true, seq: stored.length };
      },
    };
    return { stored, stream, log };
  }

  it('a double submit with one key writes each restore once and answers both with the same rollback', async () => {
    const placed = (x: number, color: number, userId: string, placedAt: number): CanvasEvent => ({
      kind: EventKind.PixelPlaced,
      x,
      y: 0,
      color,
      userId,
      requestId: `p${x}${placedAt}`,
      placedAt,
    });
    const mem = memory([
      placed(0, 1, 'u_a', 1),
      placed(1, 1, 'u_a', 1),
      placed(0, 5, 'u_v', 10),
      placed(1, 5, 'u_v', 10),
      placed(2, 5, 'u_v', 10),
    ]);
    const edge = () =>
      createModeratorConsole({
        stream: mem.stream,
        log: mem.log,
        width: W,
        height: H,
        palette: [],
        encodePng: async () => new Uint8Array(),
        bans: { get: async () => null, set: async () => undefined, clear: async () => false },
        revocations: { userBanned: async () => undefined },
        actions: { record: async () => true, recent: async () => [] },
        clock: { now: () => 50 },
        maxConcurrentScans: 4,
      });
    const mod = edge();
    const selection = { region: { x: 0, y: 0, w: W, h: H }, since: 5, userId: 'u_v' };
    const [a, b] = await Promise.all([
      mod.apply(selection, 'm_x', 'key-00001'),
      mod.apply(selection, 'm_x', 'key-00001'),
    ]);
    expect(a.rollbackId).toBe(b.rollbackId);
    expect([a.repeated, b.repeated]).toEqual([false, true]);
    expect(a.applied).toBe(3);
    expect(mem.stored.length).toBe(8);
    expect(
      replay(createCanvas({ width: W, height: H }), W, mem.stored.map((s) => s.event).filter(isPixelEvent)).subarray(
        0,
        3,
      ),
    ).toEqual(Uint8Array.of(1, 1, 0));
    // Another key, same selection: nothing left to restore.
    expect((await mod.apply(selection, 'm_x', 'key-00002')).applied).toBe(0);
    expect(mem.stored.length).toBe(8);
    // The same key retried on two other edges at once (no shared memory): conditional appends and message ids keep it one write per pixel.
    const more = [placed(3, 6, 'u_v', 20), placed(4, 6, 'u_v', 20)];
    for (const event of more) mem.stored.push({ seq: mem.stored.length + 1, storedAt: 0, event });
    const [c, d] = await Promise.all([
      edge().apply(selection, 'm_x', 'key-00003'),
      edge().apply(selection, 'm_x', 'key-00003'),
    ]);
    expect(c.rollbackId).toBe(d.rollbackId);
    expect(mem.stored.length).toBe(12);
    expect(
      replay(createCanvas({ width: W, height: H }), W, mem.stored.map((s) => s.event).filter(isPixelEvent)).subarray(
        0,
        5,
      ),
    ).toEqual(Uint8Array.of(1, 1, 0, 0, 0));
  });
});
