/**
 * `batchMessages` (src/adapters/nats/batches.ts) batches by size and, with `lingerMs`, by time: messages that
 * arrive a few turns apart go in one batch when lingering, in one batch each when not; a full batch never waits.
 */
import type { ConsumerMessages, JsMsg } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { batchMessages } from '../../src/adapters/nats/batches.ts';

/** A consume() stand-in: `push` delivers one message; `end` ends the iteration. */
function fakeMessages() {
  const queue: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const messages = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    },
    close: async () => {
      ended = true;
      wake?.();
    },
  } as unknown as ConsumerMessages;
  return {
    messages,
    push(seq: number) {
      queue.push({ seq } as unknown as JsMsg);
      wake?.();
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function batchSizes(lingerMs: number, maxBatch: number, spacingMs: number, count: number): Promise<number[]> {
  const { messages, push } = fakeMessages();
  const sizes: number[] = [];
  const reading = (async () => {
    for await (const batch of batchMessages(messages, maxBatch, lingerMs)) {
      sizes.push(batch.length);
      if (sizes.reduce((a, b) => a + b, 0) >= count) break;
    }
  })();
  for (let i = 1; i <= count; i++) {
    push(i);
    await sleep(spacingMs);
  }
  await reading;
  return sizes;
}

describe('batchMessages', () => {
  it('hands over each message alone when messages come turns apart and it does not linger', async () => {
    expect(await batchSizes(0, 100, 3, 5)).toEqual([1, 1, 1, 1, 1]);
  });

  it('gathers messages arriving within lingerMs of a batch’s first into that batch', async () => {
    const sizes = await batchSizes(1_000, 100, 3, 5);
    expect(sizes).toEqual([5]);
  });

  it('does not linger once maxBatch messages wait', async () => {
    const started = Date.now();
    const sizes = await batchSizes(10_000, 3, 1, 6);
    expect(sizes).toEqual([3, 3]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
