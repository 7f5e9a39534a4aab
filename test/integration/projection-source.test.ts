import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jetstreamManager } from '@nats-io/jetstream';
import { createInbox } from '@nats-io/nats-core';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import type { StoredEvent } from '../../src/ports/event-log.ts';
import { applyStreams } from '../../streams/apply.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { deleteStream, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('projsource');
const logger = pino({ level: 'silent' });
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-projection-source');
  await applyStreams(nc, names);
  await appendPixels(nc, names, randomPixels(1000, 50, 50, 16, 3));
});

afterAll(async () => {
  await deleteStream(nc, names);
  await nc.drain();
});

/** Runs the source until `until` returns true for what was handled, then aborts; returns the handled sequences. */
async function runUntil(
  fromSeq: number,
  until: (seqs: number[]) => boolean,
  onBatch?: (batch: readonly StoredEvent[]) => Promise<void>,
  pullMessages?: number,
): Promise<number[]> {
  const source = createNatsProjectionSource(nc, names, 'test-proj', logger, {
    canvas: { width: 50, height: 50, colors: 16 },
    ...(pullMessages === undefined ? {} : { pullMessages }),
  });
  const controller = new AbortController();
  const seqs: number[] = [];
  const timeout = setTimeout(() => controller.abort(), 15_000);
  await source.run(
    fromSeq,
    async (batch) => {
      await onBatch?.(batch);
      for (const e of batch) seqs.push(e.seq);
      if (until(seqs)) controller.abort();
    },
    controller.signal,
  );
  clearTimeout(timeout);
  return seqs;
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('NATS projection source', () => {
  it('delivers everything from the start in order and acknowledges it', async () => {
    expect(await runUntil(1, (s) => s.length >= 1000)).toEqual(range(1, 1000));
    const info = await (await jetstreamManager(nc)).consumers.info(names.stream, 'test-proj');
    expect(info.ack_floor.stream_seq).toBe(1000);
    expect(info.num_ack_pending).toBe(0);
  });

  it('re-positions the durable at the stored sequence, backwards or forwards', async () => {
    expect(await runUntil(501, (s) => s.length >= 500)).toEqual(range(501, 1000));
    expect(await runUntil(901, (s) => s.length >= 100)).toEqual(range(901, 1000));
  });

  it('follows new events live', async () => {
    const seqs = runUntil(1001, (s) => s.length >= 200);
    await sleep(200);
    await appendPixels(nc, names, randomPixels(200, 50, 50, 16, 4));
    expect(await seqs).toEqual(range(1001, 1200));
  });

  it('redelivers a batch whose handler failed, promptly, without losing or duplicating events', async () => {
    let failures = 0;
    const started = Date.now();
    const seqs = await runUntil(
      1,
      (s) => s.length >= 1200,
      async (batch) => {
        if (failures < 2 && batch.some((e) => e.seq >= 600)) {
          failures++;
          throw new Error('store unavailable');
        }
      },
    );
    expect(failures).toBe(2);
    expect(seqs).toEqual(range(1, 1200));
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('never skips what a lost pull took: handles up to the gap, re-positions the durable, delivers the rest', async () => {
    // A pull that takes messages and never acknowledges them stands for one lost in a partition: the durable
    // counts them delivered, and the next pull of the projection gets the sequences after them.
    const stolen: string[] = [];
    const inbox = createInbox();
    const thief = nc.subscribe(inbox, {
      callback: (_err, msg) => {
        if (msg.reply?.startsWith('$JS.ACK.')) stolen.push(msg.reply);
      },
    });
    // One message per pull, and one pull of 5 by the thief queued behind ours: the burst goes 1 to us, 5 to
    // the thief, the rest to us, so the source is handed a delivery past the sequences it never got.
    const seqs = runUntil(1201, (s) => s.length >= 200 && s.at(-1)! >= 1400, undefined, 1);
    await sleep(300);
    nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${names.stream}.test-proj`, JSON.stringify({ batch: 5, expires: 5e9 }), {
      reply: inbox,
    });
    await sleep(100);
    await appendPixels(nc, names, randomPixels(200, 50, 50, 16, 5));
    for (const until = Date.now() + 3_000; stolen.length === 0 && Date.now() < until; ) await sleep(10);
    thief.unsubscribe();
    expect(stolen.length, 'the lost pull took part of the burst').toBeGreaterThan(0);
    expect(await seqs).toEqual(range(1201, 1400));
  });
});
