import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import type { PixelBatch, StoredEvent } from '../../src/ports/event-log.ts';
import { isPixelEvent, type CanvasEvent } from '../../proto/event-codec.ts';
import { applyStreams } from '../../streams/apply.ts';
import { appendPixels, appendRaw, randomPixels } from '../helpers/append-events.ts';
import { deleteStream, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('evstream');
const empty = testNames('evempty');
/** Every event these tests append fits a 2000×2000, 32-colour canvas. */
const CANVAS = { width: 2000, height: 2000, colors: 32 };
let nc: NatsConnection;

async function collect(iter: AsyncIterable<readonly StoredEvent[]>): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for await (const batch of iter) out.push(...batch);
  return out;
}

/** Copies each reused batch out (it is valid only until the loop asks for the next one). */
/** Sequences readPixels delivered as entries that set no pixel (rejected events), for the last collect. */
let noPixelSeqs: number[] = [];

async function collectPixels(
  iter: AsyncIterable<PixelBatch>,
): Promise<{ seq: number; x: number; y: number; color: number }[]> {
  const out: { seq: number; x: number; y: number; color: number }[] = [];
  noPixelSeqs = [];
  for await (const b of iter) {
    for (let i = 0; i < b.count; i++) {
      if (b.setsPixel[i] === 0) {
        noPixelSeqs.push(b.seqs[i]!);
        continue;
      }
      out.push({ seq: b.seqs[i]!, x: b.xs[i]!, y: b.ys[i]!, color: b.colors[i]! });
    }
  }
  return out;
}

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-event-stream');
  await applyStreams(nc, names);
  await applyStreams(nc, empty);
});

afterAll(async () => {
  await deleteStream(nc, names);
  await deleteStream(nc, empty);
  await nc.drain();
});

describe('NATS event stream', () => {
  it('reads nothing from an empty stream and returns at once', async () => {
    const stream = createNatsEventStream(nc, empty, { canvas: CANVAS });
    expect(await stream.lastSeq()).toBe(0);
    const started = Date.now();
    expect(await collect(stream.read(1, { untilSeq: 100 }))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('reads exact ranges, in order, with sequence and stored time', async () => {
    const pixels = randomPixels(500, 100, 100, 32, 7);
    const before = Date.now();
    const last = await appendPixels(nc, names, pixels);
    expect(last).toBe(500);
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS, maxBatch: 64 });
    expect(await stream.lastSeq()).toBe(500);

    const all = await collect(stream.read(1, { untilSeq: 500 }));
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(
      all
        .map((e) => e.event)
        .filter(isPixelEvent)
        .map(({ x, y, color }) => ({ x, y, color })),
    ).toEqual(pixels);
    expect(all[0]!.storedAt).toBeGreaterThanOrEqual(before - 1000);
    expect(all[0]!.storedAt).toBeLessThanOrEqual(Date.now() + 1000);

    const middle = await collect(stream.read(101, { untilSeq: 250 }));
    expect(middle.map((e) => e.seq)).toEqual(Array.from({ length: 150 }, (_, i) => i + 101));
    // beyond the end: clamped to the last sequence, never waits for events that do not exist
    expect((await collect(stream.read(490, { untilSeq: 10_000 }))).map((e) => e.seq)).toEqual(
      Array.from({ length: 11 }, (_, i) => i + 490),
    );
    expect(await collect(stream.read(600, { untilSeq: 700 }))).toEqual([]);
    expect(await collect(stream.read(300, { untilSeq: 200 }))).toEqual([]);
  });

  it('skips an undecodable message and keeps reading', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS });
    const bad = await appendRaw(nc, names, new Uint8Array([99, 1, 2, 3]));
    const good = await appendPixels(nc, names, [{ x: 1, y: 2, color: 3 }]);
    const got = await collect(stream.read(bad - 1, { untilSeq: good }));
    expect(got.map((e) => e.seq)).toEqual([bad - 1, good]);
  });

  it('readPixels yields the same events as read, in reused columns, skipping what read skips', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS, maxBatch: 64 });
    const bad = await appendRaw(
      nc,
      names,
      new Uint8Array([1, 1, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 1, 0x62]),
    ); // bad UTF-8 id
    const last = await appendPixels(nc, names, randomPixels(300, 2000, 2000, 32, 11));
    const fromRead = (await collect(stream.read(1, { untilSeq: last })))
      .map((e) => ({
        seq: e.seq,
        ...(e.event as CanvasEvent),
      }))
      .map(({ seq, x, y, color }) => ({ seq, x, y, color }));
    const fromPixels = await collectPixels(stream.readPixels(1, { untilSeq: last }));
    expect(fromPixels).toEqual(fromRead);
    expect(fromPixels.some((e) => e.seq === bad)).toBe(false);
    // Rejected events stay as no-pixel entries, so a sequence-labelled reader (the edge) advances past them.
    expect(noPixelSeqs).toContain(bad);
    expect([...noPixelSeqs, ...fromPixels.map((e) => e.seq)].sort((a, b) => a - b)).toEqual(
      Array.from({ length: last }, (_, i) => i + 1),
    );
    expect(fromPixels.at(-1)!.seq).toBe(last);
    expect(fromPixels.length).toBeGreaterThan(64 * 3); // several batches: the reused arrays were refilled
    expect((await collectPixels(stream.readPixels(last - 9, { untilSeq: last }))).map((e) => e.seq)).toEqual(
      Array.from({ length: 10 }, (_, i) => last - 9 + i),
    );
  });

  it('readPixels follows live, replaces a deleted consumer without gap or duplicate, and ends promptly on abort', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS });
    const jsm = await jetstreamManager(nc);
    const consumerNames = async () =>
      (await jsm.consumers.list(names.stream).next()).map((c) => c.name).filter((n) => n.startsWith('edge_'));
    const from = (await stream.lastSeq()) + 1;
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const b of stream.readPixels(from, { signal: controller.signal }))
        for (let i = 0; i < b.count; i++) seen.push(b.seqs[i]!);
    })();
    await sleep(200);
    await appendPixels(nc, names, randomPixels(100, 100, 100, 32, 21));
    await expect.poll(() => seen.length, { timeout: 10_000, interval: 20 }).toBeGreaterThanOrEqual(100);
    const [first] = await consumerNames();
    expect(first).toBeDefined();
    await jsm.consumers.delete(names.stream, first!); // the server sends 409 Consumer Deleted to the open pull
    await appendPixels(nc, names, randomPixels(150, 100, 100, 32, 22));
    await expect.poll(() => seen.length, { timeout: 5_000, interval: 20 }).toBeGreaterThanOrEqual(250);
    expect(seen).toEqual(Array.from({ length: 250 }, (_, i) => from + i));
    expect(await consumerNames()).not.toContain(first);
    const started = Date.now();
    controller.abort();
    await reading;
    expect(Date.now() - started).toBeLessThan(1000);
    await sleep(200);
    expect(await consumerNames()).toEqual([]); // deleted on the way out
  });

  it('readPixels never holds more than one pull of events for a slow reader', async () => {
    const last = await appendPixels(nc, names, randomPixels(400, 100, 100, 32, 23));
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS, pullMessages: 50 });
    const sizes: number[] = [];
    let count = 0;
    for await (const b of stream.readPixels(last - 399, { untilSeq: last })) {
      sizes.push(b.count);
      count += b.count;
      await sleep(30); // meanwhile the whole backlog would arrive without flow control
    }
    expect(count).toBe(400);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(50);
  });

  it('follows the stream live until aborted', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS });
    const from = (await stream.lastSeq()) + 1;
    const controller = new AbortController();
    const seen: number[] = [];
    const reading = (async () => {
      for await (const batch of stream.read(from, { signal: controller.signal })) {
        for (const e of batch) seen.push(e.seq);
        if (seen.length >= 300) controller.abort();
      }
    })();
    await sleep(100);
    await appendPixels(nc, names, randomPixels(100, 100, 100, 32, 9));
    await appendPixels(nc, names, randomPixels(200, 100, 100, 32, 10));
    await reading;
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => from + i));
  });

  it('ends a live read promptly when aborted while idle', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS });
    const controller = new AbortController();
    const from = (await stream.lastSeq()) + 1;
    const reading = collect(stream.read(from, { signal: controller.signal }));
    await sleep(200);
    const started = Date.now();
    controller.abort();
    expect(await reading).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('stops early when the consumer breaks out of the loop', async () => {
    const stream = createNatsEventStream(nc, names, { canvas: CANVAS, maxBatch: 10 });
    for await (const batch of stream.read(1)) {
      expect(batch[0]!.seq).toBe(1);
      break;
    }
  });
});
