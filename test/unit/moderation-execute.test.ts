/**
 * Executing a moderation plan on the in-memory fakes: compensating `PixelRestored` events appended only
 * while the stream has not moved (`appendIfLast`), planned pixels someone placed on since dropped, pixels
 * that stay contended given up after `maxAttemptsPerChange`. test/integration/moderation-rollback.test.ts
 * keeps the same story against JetStream.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { EventKind, type CanvasEvent, isPixelEvent } from '../../proto/event-codec.ts';
import { LogUnavailable } from '../../src/ports/errors.ts';
import { executePlan, planFromStream } from '../../src/app/moderation/execute.ts';
import { createRollbackPlanner } from '../../src/domain/moderation/plan.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { createFakeEventStream } from '../kit/fakes/event-stream.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeModerationLog } from '../kit/fakes/moderation-log.ts';

const W = 8;
const H = 4;
let stream: MemoryStream;
let n = 0;
const place = (x: number, y: number, color: number, userId: string): CanvasEvent => ({
  kind: EventKind.PixelPlaced,
  x,
  y,
  color,
  userId,
  requestId: `r${++n}`,
  placedAt: 1_000 + n,
});
const append = (...events: CanvasEvent[]) =>
  Promise.all(events.map((e) => createFakeEventLog(stream).append(e, `m-${e.requestId}`)));
const canvasNow = () =>
  replay(createCanvas({ width: W, height: H }), W, stream.events.map((e) => e.event).filter(isPixelEvent));
const options = { width: W, moderatorId: 'mod', rollbackId: 'rb1', now: () => 5_000 };

beforeEach(() => {
  stream = new MemoryStream();
});

describe('executing a rollback plan (fakes)', () => {
  it('restores every pixel the vandal holds to what was there before, each with its own message id', async () => {
    await append(
      place(0, 0, 3, 'good'),
      place(1, 0, 4, 'good'),
      place(0, 0, 9, 'vandal'),
      place(1, 0, 9, 'vandal'),
      place(2, 0, 9, 'vandal'),
    );
    const plan = await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' }));
    expect(plan.changes).toEqual([
      { x: 0, y: 0, from: 9, to: 3 },
      { x: 1, y: 0, from: 9, to: 4 },
      { x: 2, y: 0, from: 9, to: 0 },
    ]);
    const progress: number[] = [];
    const result = await executePlan(plan, createFakeEventStream(stream), createFakeModerationLog(stream), {
      ...options,
      onProgress: (done) => progress.push(done),
    });
    expect(result).toEqual({ applied: 3, superseded: 0, contended: [], lastSeq: 8 });
    expect(progress).toEqual([1, 2, 3]);
    expect(Array.from(canvasNow().subarray(0, 3))).toEqual([3, 4, 0]);
    expect(
      stream.events
        .slice(5)
        .map((e) => e.event)
        .filter(isPixelEvent),
    ).toEqual([
      { kind: EventKind.PixelRestored, x: 0, y: 0, color: 3, userId: 'mod', requestId: 'rb1', placedAt: 5_000 },
      { kind: EventKind.PixelRestored, x: 1, y: 0, color: 4, userId: 'mod', requestId: 'rb1', placedAt: 5_000 },
      { kind: EventKind.PixelRestored, x: 2, y: 0, color: 0, userId: 'mod', requestId: 'rb1', placedAt: 5_000 },
    ]);
  });

  it('drops a planned pixel someone placed on after the plan, and still restores the others', async () => {
    await append(place(0, 0, 9, 'vandal'), place(1, 0, 9, 'vandal'));
    const plan = await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' }));
    await append(place(1, 0, 5, 'late-artist')); // between the plan and the write
    const result = await executePlan(plan, createFakeEventStream(stream), createFakeModerationLog(stream), options);
    expect(result).toMatchObject({ applied: 1, superseded: 1, contended: [] });
    expect(Array.from(canvasNow().subarray(0, 2))).toEqual([0, 5]); // the late placement stays
  });

  it('a pixel that keeps conflicting is given up after maxAttemptsPerChange and reported', async () => {
    await append(place(0, 0, 9, 'vandal'), place(1, 0, 9, 'vandal'));
    const plan = await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' }));
    // Someone keeps placing elsewhere just before each of our writes: the stream always moved.
    const busy = createFakeModerationLog(stream, {
      beforeAppend: () => void stream.append(place(7, 3, 1, 'busy'), `busy-${++n}`),
    });
    const result = await executePlan(plan, createFakeEventStream(stream), busy, {
      ...options,
      maxAttemptsPerChange: 3,
    });
    expect(result.applied).toBe(0);
    expect(result.contended).toEqual(plan.changes);
    expect(busy.calls).toBe(6);
  });

  it('a concurrent write elsewhere only costs a retry: the pixel is still restored', async () => {
    await append(place(0, 0, 9, 'vandal'));
    const plan = await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' }));
    let once = true;
    const log = createFakeModerationLog(stream, {
      beforeAppend: () => void (once && ((once = false), stream.append(place(5, 2, 1, 'other'), 'other'))),
    });
    expect(await executePlan(plan, createFakeEventStream(stream), log, options)).toMatchObject({
      applied: 1,
      superseded: 0,
      lastSeq: 3,
    });
    expect(log.calls).toBe(2);
  });

  it('re-running a finished rollback plans nothing', async () => {
    await append(place(0, 0, 9, 'vandal'), place(3, 1, 9, 'vandal'));
    const first = await planFromStream(
      createFakeEventStream(stream),
      createRollbackPlanner(W, H, { userId: 'vandal' }),
    );
    await executePlan(first, createFakeEventStream(stream), createFakeModerationLog(stream), options);
    const again = await planFromStream(
      createFakeEventStream(stream),
      createRollbackPlanner(W, H, { userId: 'vandal' }),
    );
    expect(again.changes).toEqual([]);
    expect(again.throughSeq).toBe(stream.lastSeq);
  });

  it('a log that cannot confirm an append fails the execution with LogUnavailable', async () => {
    await append(place(0, 0, 9, 'vandal'));
    const plan = await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' }));
    stream.failAppends(new LogUnavailable('NATS is down'));
    await expect(
      executePlan(plan, createFakeEventStream(stream), createFakeModerationLog(stream), options),
    ).rejects.toBeInstanceOf(LogUnavailable);
  });

  it('an empty stream gives an empty plan through sequence 0', async () => {
    expect(
      await planFromStream(createFakeEventStream(stream), createRollbackPlanner(W, H, { userId: 'vandal' })),
    ).toEqual({ changes: [], throughSeq: 0, matchedEvents: 0 });
  });
});
