import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { SequenceConflict } from '../../src/ports/errors.ts';
import type { SequencedPixel } from '../../src/ports/bitmap.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { randomPixels } from '../helpers/append-events.ts';
import { deleteRedisKeys, testNames, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('bitmapstore');
const spec = { width: 97, height: 61 };
let redis: Redis;

const sequenced = (from: number, count: number, seed: number): SequencedPixel[] =>
  randomPixels(count, spec.width, spec.height, 32, seed).map((p, i) => ({ ...p, seq: from + i }));

beforeAll(async () => {
  redis = await connectRedis(TEST_REDIS_URL, 'test-bitmap-store');
});

afterAll(async () => {
  await deleteRedisKeys(redis, names);
  await redis.quit();
});

describe('Redis bitmap store', () => {
  it('initialises an empty store and stores pixels with their sequence', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    expect(await store.load()).toBeNull();
    expect(await store.seq()).toBeNull();
    const batch = sequenced(1, 500, 1);
    expect(await store.apply(batch, null)).toBe(500);
    const loaded = await store.load();
    expect(loaded?.seq).toBe(500);
    expect(Buffer.from(loaded!.canvas).equals(Buffer.from(replay(createCanvas(spec), spec.width, batch)))).toBe(true);
  });

  it('never applies a sequence twice: an overlapping redelivery only adds what is new', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    const first = sequenced(1, 500, 1);
    // Same sequences 401..500 with different colours, then new ones 501..700.
    const overlap = [...sequenced(401, 100, 99), ...sequenced(501, 200, 2)];
    expect(await store.apply(overlap, 500)).toBe(700);
    const expected = replay(replay(createCanvas(spec), spec.width, first), spec.width, overlap.slice(100));
    const loaded = await store.load();
    expect(loaded?.seq).toBe(700);
    expect(Buffer.from(loaded!.canvas).equals(Buffer.from(expected))).toBe(true);
    // a pure redelivery changes nothing
    expect(await store.apply(sequenced(650, 51, 5), 700)).toBe(700);
    expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected))).toBe(true);
  });

  it('applies batches larger than one script call atomically per chunk', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    const before = (await store.load())!;
    const big = sequenced(701, 25_000, 3);
    expect(await store.apply(big, 700)).toBe(25_700);
    const expected = replay(Uint8Array.from(before.canvas), spec.width, big);
    expect(Buffer.from((await store.load())!.canvas).equals(Buffer.from(expected))).toBe(true);
  });

  it('ignores out-of-range offsets exactly like replay does', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    const before = (await store.load())!;
    const odd: SequencedPixel[] = [
      { seq: 25_701, x: spec.width + 3, y: 2, color: 7 }, // wraps into row 3, as replay does
      { seq: 25_702, x: 5, y: spec.height + 10, color: 9 }, // past the end: ignored
      { seq: 25_703, x: 65_535, y: 65_535, color: 200 },
    ];
    expect(await store.apply(odd, 25_700)).toBe(25_703);
    const expected = replay(Uint8Array.from(before.canvas), spec.width, odd);
    const after = (await store.load())!;
    expect(after.canvas.length).toBe(spec.width * spec.height);
    expect(Buffer.from(after.canvas).equals(Buffer.from(expected))).toBe(true);
  });

  it('refuses to write and signals a wiped or rolled-back store', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    await redis.del(names.canvasKey, names.canvasSeqKey);
    const error = await store.apply(sequenced(25_704, 3, 4), 25_703).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SequenceConflict);
    expect((error as SequenceConflict).found).toBeNull();
    expect(await redis.exists(names.canvasKey, names.canvasSeqKey)).toBe(0);

    await store.replaceAll(createCanvas(spec), 10);
    const rolledBack = await store.apply(sequenced(25_704, 3, 4), 25_703).catch((e: unknown) => e);
    expect(rolledBack).toBeInstanceOf(SequenceConflict);
    expect((rolledBack as SequenceConflict).found).toBe(10);

    await redis.set(names.canvasKey, 'short');
    expect(await store.apply(sequenced(11, 3, 4), 10).catch((e: unknown) => e)).toBeInstanceOf(SequenceConflict);
    expect(await store.load()).toBeNull();
  });

  it('replaces canvas and sequence together', async () => {
    const store = createRedisBitmapStore(redis, names, spec);
    const canvas = replay(createCanvas(spec), spec.width, sequenced(1, 1000, 8));
    await store.replaceAll(canvas, 1000);
    const loaded = await store.load();
    expect(loaded?.seq).toBe(1000);
    expect(Buffer.from(loaded!.canvas).equals(Buffer.from(canvas))).toBe(true);
    await expect(store.replaceAll(new Uint8Array(3), 1)).rejects.toThrow(RangeError);
  });
});
