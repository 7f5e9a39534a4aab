/**
 * Fault: clock skew. edge1 runs 10 s AHEAD and edge2 10 s BEHIND (libfaketime through LD_PRELOAD: Node's
 * `Date.now()` and uWS both run under it; the rest of the topology on the real clock). Under load:
 *
 * - `placedAt` (the edge's clock) is off by the skew, so stream order and time order disagree; counted;
 * - cooldowns are Redis TTLs (Redis's clock), so they hold: no user places twice inside one; but the
 *   `nextPlacement` an edge answers is off by its skew (clients of the behind edge retry too early and are
 *   refused `cooldown`, those of the ahead edge wait 10 s too long); counted;
 * - point in time (src/ports/history.ts): canvas(T) is the longest stream PREFIX whose events all have
 *   `placedAt ≤ T`, so stream order is the only order: the answer's sequence never goes back as T grows and
 *   its canvas is the replay of exactly that prefix, checked for T every 500 ms across the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { canvasSpecOf, eventBoundsOf } from '../../src/config/common.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import type { PixelPlaced } from '../../proto/event-codec.ts';
import { HEIGHT, sleep, startFault, startLoad, verify, WIDTH, type Fault } from './harness.ts';

const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
const SKEW_S = 10;
/** How much closer than the cooldown two placements may be on a loaded machine (see `doubles`). */
const JITTER_MS = 500;
const skewed = (offset: string) => ({
  host: '127.0.0.1',
  prefix: ['env', `LD_PRELOAD=${LIBFAKETIME}`, `FAKETIME=${offset}`],
});
const spec = canvasSpecOf({ CANVAS_WIDTH: WIDTH, CANVAS_HEIGHT: HEIGHT, PALETTE: 'rplace2022' });

let fault: Fault | undefined;
beforeAll(async () => {
  fault = await startFault({
    label: 'skew',
    placement: (name) =>
      name === 'edge1' ? skewed(`+${SKEW_S}`) : name === 'edge2' ? skewed(`-${SKEW_S}`) : undefined,
  });
});
afterAll(async () => {
  await fault?.stop();
});

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

describe(`edge1 ${SKEW_S} s ahead, edge2 ${SKEW_S} s behind (faketime)`, () => {
  it('cooldowns hold, and point in time follows stream order: monotone in T, each answer a replay of a prefix', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const startedAt = Date.now();
    await sleep(8_000);
    const report = await verify(f, run, {
      fault: `clock skew: edge1 +${SKEW_S} s, edge2 -${SKEW_S} s (faketime)`,
      faultAt: startedAt,
      repairedAt: startedAt,
    });

    const edgeOf = new Map(run.load.acked.map((a) => [a.requestId, a.client % 2]));
    const ackAt = new Map(run.load.acked.map((a) => [a.requestId, a.at]));
    const events: { seq: number; event: PixelPlaced }[] = [];
    const stream = createNatsEventStream(f.nc, f.names, { canvas: eventBoundsOf(spec) });
    for await (const batch of stream.read(1, { untilSeq: report.lastSeq as number }))
      for (const e of batch) events.push({ seq: e.seq, event: e.event as PixelPlaced });
    // placedAt minus the client's clock at the ack, per edge: the skew as the events carry it.
    const offsets = [0, 1].map((edge) =>
      median(
        events
          .filter((e) => edgeOf.get(e.event.requestId) === edge)
          .map((e) => e.event.placedAt - ackAt.get(e.event.requestId)!),
      ),
    );
    const inversions = events.filter((e, i) => i > 0 && e.event.placedAt < events[i - 1]!.event.placedAt).length;
    // Doubles: a user's consecutive placements closer than the cooldown (1 s) on its own edge's clock, less
    // JITTER_MS: the cooldown runs from the Redis SET, and `placedAt` is read before it, so on a loaded machine
    // two placements can be a few hundred ms closer than the cooldown (13 such pairs in one run at load 27)
    // without breaking it. A cooldown broken by a 10 s skew would show gaps near 0. Both counts are reported.
    const byUser = new Map<string, number[]>();
    for (const e of events) byUser.set(e.event.userId, [...(byUser.get(e.event.userId) ?? []), e.event.placedAt]);
    const closer = (limit: number) =>
      [...byUser.values()].reduce(
        (n, times) => n + times.filter((t, i) => i > 0 && t - times[i - 1]! < limit).length,
        0,
      );
    const doubles = closer(1_000 - JITTER_MS);
    const closerThanCooldown = closer(1_000);

    // Point in time on edge2 (its `time` may not be in its own future, so T ends at its clock's now).
    const expectedSeq = (time: number) => {
      let n = 0;
      while (n < events.length && events[n]!.event.placedAt <= time) n++;
      return n === 0 ? 0 : events[n - 1]!.seq;
    };
    const answers: { time: number; seq: number; expected: number; equal: boolean }[] = [];
    for (let time = startedAt - 15_000; time <= Date.now() - SKEW_S * 1000 - 1_000; time += 500) {
      const response = await fetch(`${f.edgeUrls[1]}/api/v1/history/snapshot?time=${time}`);
      expect(
        response.status,
        await response
          .clone()
          .text()
          .catch(() => ''),
      ).toBe(200);
      const seq = Number(response.headers.get('x-rplace-seq'));
      const canvas = new Uint8Array(await response.arrayBuffer());
      const prefix = events.filter((e) => e.seq <= seq).map((e) => e.event);
      answers.push({
        time,
        seq,
        expected: expectedSeq(time),
        equal: Buffer.from(canvas).equals(Buffer.from(replay(createCanvas(spec), WIDTH, prefix))),
      });
    }
    const monotone = answers.every((a, i) => i === 0 || a.seq >= answers[i - 1]!.seq);
    // The behind edge refuses a time that is "now" on the real clock as being in its future.
    const futureOnBehind = (await fetch(`${f.edgeUrls[1]}/api/v1/history/snapshot?time=${Date.now() - 1_000}`)).status;
    const figures = {
      placedAtOffsetMs: offsets,
      inversions,
      events: events.length,
      doubles,
      closerThanCooldown,
      cooldownRefusals: run.load.errors.get('cooldown') ?? 0,
      pointInTimeQueries: answers.length,
      monotone,
      futureOnBehindStatus: futureOnBehind,
      lastAnswerSeq: answers.at(-1)?.seq,
      lastSeq: report.lastSeq,
    };
    f.say(`skew figures: ${JSON.stringify(figures)}`);
    expect(offsets[0]).toBeGreaterThan(SKEW_S * 1000 - 2_000);
    expect(offsets[1]).toBeLessThan(-SKEW_S * 1000 + 2_000);
    expect(doubles, 'placements inside a cooldown').toBe(0);
    expect(monotone, 'point-in-time sequence monotone in T').toBe(true);
    expect(
      answers.filter((a) => a.seq !== a.expected || !a.equal),
      'answers that are not the longest placedAt ≤ T prefix',
    ).toEqual([]);
    expect(futureOnBehind).toBe(400);
  });
});
