/**
 * The fault suite's peak generator (test/faults/load.ts `PeakLoad`, test/faults/load-worker.ts), which CI's short
 * fault suite does not run: against a real edge process, its acks are true (each acknowledged sequence holds that
 * request id in the stream, none twice), and across a SIGKILL and restart of the edge its users reconnect with
 * their guest cookies and place again.
 */
import { expect, it } from 'vitest';
import { EventKind } from '../../proto/event-codec.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { PeakLoad } from '../faults/load.ts';
import { testNames } from '../helpers/isolation.ts';
import { edgeProcessForFile } from '../helpers/test-services.ts';

const names = testNames('peakload');
const USERS = 60;
const { services, edge, restartEdge } = edgeProcessForFile(names, 'test-peak-load');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('acknowledges only what the stream holds, and its users place again after the edge restarts', async () => {
  // Two generator processes (one per URL), both on this edge.
  const load = new PeakLoad({
    edgeUrls: [edge().url, edge().url],
    clients: USERS,
    width: 64,
    height: 64,
    colors: 32,
    rate: USERS,
    cooldownMs: 1_000,
  });
  await load.start();
  expect(load.describe()).toMatchObject({ offeredPerSecond: 59 });
  await sleep(3_000);
  const beforeKill = load.acked.length;
  expect(beforeKill, 'acks in the first 3 s').toBeGreaterThan(USERS);
  await edge().kill('SIGKILL');
  const killedAt = Date.now();
  await restartEdge();
  const users = () => new Set(load.acked.filter((a) => a.at > killedAt).map((a) => a.client)).size;
  const deadline = Date.now() + 30_000;
  while (users() < USERS && Date.now() < deadline) await sleep(200);
  await load.stop();
  expect(users(), 'users that placed again after the restart').toBe(USERS);
  expect(load.describe().generatorCpuPercent).toHaveLength(2);

  const stored = new Map<number, string>();
  let untilSeq = 0;
  for (const a of load.acked) untilSeq = Math.max(untilSeq, a.seq);
  for await (const batch of createNatsEventStream(services().nc, names, {
    canvas: { width: 64, height: 64, colors: 32 },
  }).read(1, { untilSeq }))
    for (const e of batch) if (e.event.kind === EventKind.PixelPlaced) stored.set(e.seq, e.event.requestId);
  const wrong = load.acked.filter((a) => stored.get(a.seq) !== a.requestId);
  expect(wrong, 'acks whose sequence holds another request').toEqual([]);
  expect(new Set(load.acked.map((a) => a.requestId)).size).toBe(load.acked.length);
  expect(new Set(load.acked.map((a) => a.seq)).size).toBe(load.acked.length);
  // Nothing but what a kill and a restart explain (placements in flight at the kill, answered or timed out).
  expect([...load.errors.keys()].filter((code) => !['timeout', 'unavailable'].includes(code))).toEqual([]);
}, 120_000);
