/**
 * The shared read (src/app/shared-read.ts) over the in-memory stream: the projection-source contract, then what
 * sharing adds: projections at different positions, one too slow for its buffer, a failing live read, an event
 * kind it cannot decode.
 */
import { describe, expect, it } from 'vitest';
import { UnknownEventKind } from '../../proto/event-codec.ts';
import { createSharedRead } from '../../src/app/shared-read.ts';
import { ProjectionHalted } from '../../src/ports/errors.ts';
import type { EventStream, ProjectionSource, StoredEvent } from '../../src/ports/event-log.ts';
import { placed } from '../contract/event-log.contract.ts';
import { projectionSourceContract } from '../contract/projection-source.contract.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { createFakeEventStream } from '../kit/fakes/event-stream.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { sleep } from '../../src/app/sleep.ts';

projectionSourceContract('shared read over the in-memory stream', async () => {
  const stream = new MemoryStream();
  const shared = createSharedRead(createFakeEventStream(stream, { maxBatch: 4 }), { pauseMs: 10, maxBackoffMs: 50 });
  return { source: shared.source({ maxBatch: 4 }), log: createFakeEventLog(stream), close: () => shared.close() };
});

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Appends `count` placements, `gapMs` apart (0: in one go). */
async function append(stream: MemoryStream, count: number, gapMs = 0) {
  const log = createFakeEventLog(stream);
  for (let i = 0; i < count; i++) {
    await log.append(placed(i % 64, 0, 1), `sr-${stream.lastSeq + 1}`);
    if (gapMs > 0 && i % 10 === 9) await sleep(gapMs);
  }
}

/** Runs a projection until it handled through `lastSeq`; returns every sequence handled, in order. */
async function project(
  source: ProjectionSource,
  fromSeq: number,
  lastSeq: number,
  handle: (batch: readonly StoredEvent[]) => Promise<void> = async () => undefined,
): Promise<number[]> {
  const controller = new AbortController();
  const safety = setTimeout(() => controller.abort(), 20_000);
  const seqs: number[] = [];
  await source.run(
    fromSeq,
    async (batch) => {
      await handle(batch);
      for (const e of batch) seqs.push(e.seq);
      if (seqs.at(-1)! >= lastSeq) controller.abort();
    },
    controller.signal,
  );
  clearTimeout(safety);
  return seqs;
}

describe('shared read', () => {
  it('given two projections at different positions, when events keep coming, then each gets every event from its own position once, in order', async () => {
    const stream = new MemoryStream();
    const shared = createSharedRead(createFakeEventStream(stream, { maxBatch: 7 }));
    await append(stream, 50);
    const a = project(shared.source({ maxBatch: 5 }), 1, 250);
    const b = project(shared.source(), 40, 250);
    await append(stream, 200, 1);
    expect(await a).toEqual(range(1, 250));
    expect(await b).toEqual(range(40, 250));
    await shared.close();
  });

  it('given a projection too slow for its buffer, then it is dropped from the live read, catches up on its own and misses nothing, and the other is not held back', async () => {
    const stream = new MemoryStream();
    let lastReadFrom: number[] = [];
    const inner = createFakeEventStream(stream, { maxBatch: 8 });
    const counted: EventStream = {
      ...inner,
      read: (from, opts) => {
        lastReadFrom.push(from);
        return inner.read(from, opts);
      },
    };
    const shared = createSharedRead(counted, { maxBuffered: 20 });
    const fast = project(shared.source(), 1, 300);
    let slowCalls = 0;
    const slow = project(shared.source(), 1, 300, async () => {
      slowCalls++;
      if (slowCalls < 5) await sleep(30); // the live read runs ahead by more than 20 events meanwhile
    });
    await sleep(5);
    lastReadFrom = [];
    await append(stream, 300, 1);
    let fastAt = 0;
    let slowAt = 0;
    const [fastSeqs, slowSeqs] = await Promise.all([
      fast.then((seqs) => {
        fastAt = performance.now();
        return seqs;
      }),
      slow.then((seqs) => {
        slowAt = performance.now();
        return seqs;
      }),
    ]);
    expect(fastSeqs).toEqual(range(1, 300));
    expect(slowSeqs).toEqual(range(1, 300));
    expect(fastAt).toBeLessThan(slowAt); // the live read did not wait for the slow one
    // The slow one read on its own again from a position past 1 (it was dropped and rejoined).
    expect(lastReadFrom.some((from) => from > 1)).toBe(true);
    await shared.close();
  });

  it('given a live read that fails once, then it resumes from its next sequence: nothing lost, nothing twice', async () => {
    const stream = new MemoryStream();
    const inner = createFakeEventStream(stream, { maxBatch: 4 });
    let failed = false;
    const flaky: EventStream = {
      ...inner,
      async *read(from, opts) {
        let yielded = 0;
        for await (const batch of inner.read(from, opts)) {
          yield batch;
          if (opts?.untilSeq === undefined && !failed && ++yielded === 3) {
            failed = true;
            throw new Error('connection to NATS lost');
          }
        }
      },
    };
    const errors: string[] = [];
    const shared = createSharedRead(flaky, { pauseMs: 10, onError: (_e, what) => errors.push(what) });
    const seqs = project(shared.source(), 1, 120);
    await sleep(5);
    await append(stream, 120, 1);
    expect(await seqs).toEqual(range(1, 120));
    expect(failed).toBe(true);
    expect(errors).toHaveLength(1);
    await shared.close();
  });

  it('given an event kind the live read cannot decode, then every projection halts there after what came before it', async () => {
    const stream = new MemoryStream();
    const inner = createFakeEventStream(stream);
    const newer: EventStream = {
      ...inner,
      async *read(from, opts) {
        for await (const batch of inner.read(from, opts)) {
          const known = batch.filter((e) => e.seq < 6);
          if (known.length > 0) yield known;
          if (known.length < batch.length) throw new UnknownEventKind(9);
        }
      },
    };
    const shared = createSharedRead(newer);
    const handled: number[] = [];
    const controller = new AbortController();
    const outcome = shared
      .source()
      .run(
        1,
        async (batch) => {
          for (const e of batch) handled.push(e.seq);
        },
        controller.signal,
      )
      .then(
        () => 'returned',
        (e: unknown) => e,
      );
    await sleep(5);
    await append(stream, 10);
    const error = await outcome;
    expect(error).toBeInstanceOf(ProjectionHalted);
    expect((error as ProjectionHalted).seq).toBe(6);
    expect(handled).toEqual(range(1, 5));
    await shared.close();
  });
});
