/**
 * An edge killed with SIGKILL while clients are connected, then restarted on the same port: its clients
 * reconnect with `?since=` and end with exactly the canonical canvas, having applied only contiguous
 * sequences (no missing pixel), including the placements made through another edge while it was down.
 */
import { isPixelEvent } from '../../proto/event-codec.ts';
import { connectTestServices, releaseTestServices } from '../helpers/test-services.ts';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import type { RplaceClient } from '../../src/client/index.ts';
import { testNames } from '../helpers/isolation.ts';
import {
  freePort,
  killAllEdgeProcesses,
  nodeClient,
  startEdgeProcess,
  type EdgeProcess,
} from '../helpers/edge-process.ts';

const names = testNames('edgerestart');
let nc: NatsConnection;
let redis: Redis;
let victim: EdgeProcess;
let survivor: EdgeProcess;
const clients: RplaceClient[] = [];

beforeAll(async () => {
  ({ nc, redis } = await connectTestServices('test-edge-restart'));
  [victim, survivor] = await Promise.all([
    freePort().then((p) => startEdgeProcess(names, p)),
    freePort().then((p) => startEdgeProcess(names, p)),
  ]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([victim?.kill(), survivor?.kill()]);
  killAllEdgeProcesses();
  await releaseTestServices({ nc, redis }, names);
});

async function placeThrough(url: string, count: number, offset: number): Promise<number> {
  const placers = Array.from({ length: count }, () => nodeClient(url));
  clients.push(...placers);
  await Promise.all(placers.map((p) => p.connect()));
  const results = await Promise.all(
    placers.map((p, i) => p.place((offset + i) % 64, Math.floor((offset + i) / 64) % 64, ((offset + i) % 31) + 1)),
  );
  for (const r of results) expect(r.type, JSON.stringify(r)).toBe('success');
  for (const p of placers) p.close();
  return Math.max(...results.map((r) => (r.type === 'success' ? r.seq : 0)));
}

it('clients of a SIGKILLed edge reconnect to its restart and resume with no missing pixel', async () => {
  const gaps: string[] = [];
  const watchers = Array.from({ length: 5 }, () => {
    let last = -1;
    const client: RplaceClient = nodeClient(victim.url, {
      onCanvas: (seq) => (last = seq),
      onPixels: (frame) => {
        if (frame.firstSeq > last + 1) gaps.push(`${last} -> ${frame.firstSeq}`);
        last = frame.lastSeq;
      },
    });
    return client;
  });
  clients.push(...watchers);
  await Promise.all(watchers.map((w) => w.connect()));

  const before = await placeThrough(survivor.url, 10, 0);
  await expect.poll(() => watchers.every((w) => w.seq >= before), { timeout: 30_000, interval: 50 }).toBe(true);

  await victim.kill('SIGKILL');
  const whileDown = await placeThrough(survivor.url, 10, 10);
  await expect
    .poll(() => watchers.every((w) => w.status === 'reconnecting'), { timeout: 30_000, interval: 50 })
    .toBe(true);

  victim = await startEdgeProcess(names, victim.port);
  const after = await placeThrough(victim.url, 5, 20);
  expect(after).toBeGreaterThan(whileDown);
  await expect
    .poll(() => watchers.every((w) => w.status === 'synced' && w.seq >= after), { timeout: 30_000, interval: 50 })
    .toBe(true);

  // The canonical canvas: the whole stream replayed through the shared `replay`.
  const canonical = createCanvas({ width: 64, height: 64 });
  for await (const batch of createNatsEventStream(nc, names, { canvas: { width: 64, height: 64, colors: 32 } }).read(
    1,
    { untilSeq: after },
  ))
    replay(canonical, 64, batch.map((e) => e.event).filter(isPixelEvent));
  for (const w of watchers) {
    expect(w.seq).toBe(after);
    expect(w.canvas).toEqual(canonical);
  }
  expect(gaps).toEqual([]);
}, 180_000);
