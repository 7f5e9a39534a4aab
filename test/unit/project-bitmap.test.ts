/**
 * The bitmap projection on the in-memory fakes: it keeps the store equal to a replay of the stream through
 * redeliveries (idempotent re-apply), a wiped store (rebuild from the whole stream) and a store that went
 * back to an older sequence (only the gap replayed). No service; test/integration/bitmap-projector.test.ts
 * keeps the same story on NATS and Redis.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventKind, isPixelEvent } from '../../proto/event-codec.ts';
import { RebuildAborted, rebuildBitmap, runBitmapProjection } from '../../src/app/project-bitmap.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { createFakeBitmapStore, type FakeBitmapStore } from '../kit/fakes/bitmap-store.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { createFakeEventStream } from '../kit/fakes/event-stream.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeProjectionSource } from '../kit/fakes/projection-source.ts';
import type { ProjectionSource } from '../../src/ports/event-log.ts';

const spec = { width: 20, height: 10 };
const quiet = { info: () => undefined, warn: () => undefined };

let stream: MemoryStream;
let store: FakeBitmapStore;
let controller: AbortController;
let running: Promise<void> | undefined;
let appended = 0;

async function append(count: number): Promise<void> {
  const log = createFakeEventLog(stream);
  for (let i = 0; i < count; i++, appended++) {
    await log.append(
      {
        kind: EventKind.PixelPlaced,
        x: (appended * 7) % spec.width,
        y: (appended * 3) % spec.height,
        color: appended % 32,
        userId: 'u',
        requestId: `r${appended}`,
        placedAt: 0,
      },
      `m${appended}`,
    );
  }
}
const replayOfStream = () =>
  replay(createCanvas(spec), spec.width, stream.events.map((e) => e.event).filter(isPixelEvent));
async function storeEqualsReplay(): Promise<boolean> {
  const loaded = await store.load();
  return (
    loaded !== null && loaded.seq === stream.lastSeq && Buffer.from(loaded.canvas).equals(Buffer.from(replayOfStream()))
  );
}
function start(source: ProjectionSource = createFakeProjectionSource(stream, { maxBatch: 7 })): void {
  running = runBitmapProjection(
    { store, source, stream: createFakeEventStream(stream, { maxBatch: 5 }), spec, log: quiet, wipeCheckMs: 10 },
    controller.signal,
  );
}

beforeEach(() => {
  stream = new MemoryStream();
  store = createFakeBitmapStore(spec);
  controller = new AbortController();
  appended = 0;
});
afterEach(async () => {
  controller.abort();
  await running;
  running = undefined;
});

describe('the bitmap projection (fakes)', () => {
  it('projects the stream and follows it live', async () => {
    await append(30);
    start();
    await expect.poll(storeEqualsReplay).toBe(true);
    await append(12);
    await expect.poll(storeEqualsReplay).toBe(true);
  });

  it('a redelivered batch is applied again harmlessly: no conflict, no rebuild, the store stays at the last sequence', async () => {
    let failOnce = true;
    const source = createFakeProjectionSource(stream, { maxBatch: 20 });
    const flaky: typeof source = {
      redeliveries: 0,
      run: (from, handle, signal) =>
        source.run(
          from,
          async (batch) => {
            await handle(batch); // applied…
            if (failOnce) {
              failOnce = false;
              throw new Error('…but the ack was lost'); // so the whole batch comes again
            }
          },
          signal,
        ),
    };
    const replaced: number[] = [];
    const replaceAll = store.replaceAll.bind(store);
    store.replaceAll = async (canvas, seq) => (replaced.push(seq), replaceAll(canvas, seq));
    await store.apply([], null); // an initialised, empty projection: nothing to rebuild at start
    start(flaky);
    await append(20);
    await expect.poll(() => source.redeliveries).toBe(1);
    await expect.poll(storeEqualsReplay).toBe(true);
    expect(replaced).toEqual([]); // no conflict was taken for a wipe: the redelivery was simply skipped by the store
  });

  it('resumes from the store’s own sequence, not from the start', async () => {
    await append(10);
    await store.replaceAll(replayOfStream(), 10);
    const delivered: number[] = [];
    const source = createFakeProjectionSource(stream);
    start({
      run: (from, handle, signal) =>
        source.run(from, async (b) => (delivered.push(...b.map((e) => e.seq)), handle(b)), signal),
    });
    await append(5);
    await expect.poll(storeEqualsReplay).toBe(true);
    expect(delivered).toEqual([11, 12, 13, 14, 15]);
  });

  it('an empty store with a stream behind it is rebuilt before projecting', async () => {
    await append(25);
    start();
    await expect.poll(storeEqualsReplay).toBe(true);
  });

  it('a store wiped while idle is rebuilt by the periodic check; wiped before a write, by the conflict', async () => {
    await append(15);
    start();
    await expect.poll(storeEqualsReplay).toBe(true);
    store.wipe();
    await expect.poll(storeEqualsReplay).toBe(true); // the idle check (every 10 ms)
    store.wipe();
    await append(3); // the next write sees the conflict first or the check does: either way, a rebuild
    await expect.poll(storeEqualsReplay).toBe(true);
  });

  it('a store that went back to an older sequence gets only the gap replayed, not a rebuild', async () => {
    await append(40);
    start();
    await expect.poll(storeEqualsReplay).toBe(true);
    const older = replay(
      createCanvas(spec),
      spec.width,
      stream.events
        .slice(0, 25)
        .map((e) => e.event)
        .filter(isPixelEvent),
    );
    const replaced: number[] = [];
    const replaceAll = store.replaceAll.bind(store);
    store.replaceAll = async (canvas, seq) => (replaced.push(seq), replaceAll(canvas, seq));
    await replaceAll(older, 25);
    await expect.poll(storeEqualsReplay).toBe(true);
    expect(replaced).toEqual([]); // repaired by applying 26-40 again, never by replacing the whole canvas
  });
});

describe('rebuildBitmap (fakes)', () => {
  it('replays up to the last sequence into the store in one step', async () => {
    await append(33);
    const progress: number[] = [];
    const result = await rebuildBitmap(
      { stream: createFakeEventStream(stream, { maxBatch: 10 }), store, spec },
      { onProgress: (p) => progress.push(p.seq) },
    );
    expect(result).toMatchObject({ seq: 33, events: 33 });
    expect(progress).toEqual([10, 20, 30, 33]);
    expect(await storeEqualsReplay()).toBe(true);
  });

  it('up to a given sequence, and an empty stream gives an empty canvas at 0', async () => {
    expect(await rebuildBitmap({ stream: createFakeEventStream(stream), store, spec })).toMatchObject({
      seq: 0,
      events: 0,
    });
    expect(await store.load()).toEqual({ canvas: createCanvas(spec), seq: 0, ...spec });
    await append(10);
    await rebuildBitmap({ stream: createFakeEventStream(stream), store, spec }, { untilSeq: 4 });
    expect((await store.load())?.seq).toBe(4);
  });

  it('an aborted rebuild writes nothing', async () => {
    await append(10);
    const aborted = new AbortController();
    aborted.abort();
    await expect(
      rebuildBitmap({ stream: createFakeEventStream(stream), store, spec }, { signal: aborted.signal }),
    ).rejects.toBeInstanceOf(RebuildAborted);
    expect(await store.seq()).toBeNull();
  });
});
