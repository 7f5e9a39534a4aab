/**
 * Fault: kill -9 of the stream leader while live pixel tails read through the socket-bytes fast path
 * (src/adapters/nats/fast-delivery.ts) on connections to that very node.
 *
 * Why: a fresh-clone CI run of nats-node-kill.test.ts (2026-12-01 19:23) with the fast path on left both edges'
 * tails stopped for good after the kill; both edges had been connected to the killed node (each logged "pixel
 * tail replaces its consumer (reconnected)"), and every consumer create on the reconnected connections failed
 * (docs/RELIABILITY.md). In nats-node-kill.test.ts an edge is on the victim only by chance; here two readers
 * connect to the leader alone (as edges, with the edge's NATS identity), follow the stream under load, and the
 * leader is killed and restarted. Each must resume in order and gap-free, and JetStream requests on its
 * reconnected connection must be answered.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeNatsPorts, startTopology, type Topology } from '../../deploy/local/topology.ts';
import { encodeEvent } from '../../proto/event-codec.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { pixelEvent } from '../helpers/append-events.ts';
import { testNames } from '../helpers/isolation.ts';

const names = testNames('fastleaderkill');
const CANVAS = { width: 64, height: 64, colors: 32 };
const dir = mkdtempSync(join(tmpdir(), 'rplace-fast-leader-kill-'));
const t0 = Date.now();
const say = (line: string) =>
  process.stdout.write(`[faults fastkill +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let topology: Topology;
let admin: NatsConnection;
let publisher: NatsConnection;
const readers: NatsConnection[] = [];

beforeAll(async () => {
  topology = await startTopology({
    onStep: say,
    dataDir: dir,
    natsPorts: await freeNatsPorts(),
    edgePorts: [],
    projectors: [],
    env: { CANVAS_ID: names.canvasId },
  });
  admin = await connectNats(topology.natsUrl, 'fast-leader-kill-admin', topology.natsAuth('operator'));
  publisher = await connectNats(topology.natsUrl, 'fast-leader-kill-publisher', topology.natsAuth('edge'));
});

afterAll(async () => {
  for (const nc of readers) await nc.close().catch(() => undefined);
  await publisher?.close().catch(() => undefined);
  await admin?.close().catch(() => undefined);
  await topology?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** A reader that follows the stream live from seq 1 on its own connection, and checks order. */
function follow(nc: NatsConnection, signal: AbortSignal) {
  const stream = createNatsEventStream(nc, names, { canvas: CANVAS, reader: 'test', fastDelivery: true });
  const state = { next: 1, outOfOrder: 0, errors: [] as string[] };
  // As the edge feed does (src/app/edge/edge-feed.ts): a read that fails is resumed from the next sequence.
  const done = (async () => {
    while (!signal.aborted) {
      try {
        for await (const batch of stream.readPixels(state.next, { signal })) {
          for (let i = 0; i < batch.count; i++) {
            if (batch.seqs[i] !== state.next) state.outOfOrder++;
            state.next = (batch.seqs[i] as number) + 1;
          }
        }
      } catch (error) {
        state.errors.push(`${new Date().toISOString().slice(11, 23)} ${(error as Error).message}`);
      }
      await sleep(500);
    }
  })();
  return { state, done };
}

describe('kill -9 of the stream leader under live tails read through the fast path on it', () => {
  it('every tail resumes in order, and requests on the reconnected connections are answered', async () => {
    const jsmAdmin = await jetstreamManager(admin, { timeout: 1_000, checkAPI: false });
    const leaderName = (await jsmAdmin.streams.info(names.stream)).cluster?.leader;
    const leader = topology.nodes.find((n) => n.name === leaderName)!;
    expect(leader, `leader ${leaderName}`).toBeDefined();
    for (let i = 0; i < 2; i++)
      readers.push(await connectNats(leader.url, `fast-leader-kill-reader${i}`, topology.natsAuth('edge')));
    const controller = new AbortController();
    const tails = readers.map((nc) => follow(nc, controller.signal));
    // A steady load, as the fault suite's clients give (~200/s), acked or refused, never blocking the test.
    const js = jetstream(publisher, { timeout: 2_000 });
    let acked = 0;
    let lastAcked = 0;
    let n = 0;
    let loading = true;
    const load = (async () => {
      while (loading) {
        const batch = Array.from({ length: 20 }, () => {
          const i = n++;
          const p = { x: i % CANVAS.width, y: Math.floor(i / CANVAS.width) % CANVAS.height, color: i % CANVAS.colors };
          return js.publish(names.pixelSubject(p.x, p.y), encodeEvent(pixelEvent(p, i))).then(
            (a) => {
              acked++;
              lastAcked = Math.max(lastAcked, a.seq);
            },
            () => undefined,
          );
        });
        await Promise.all(batch);
        await sleep(100);
      }
    })();
    try {
      await sleep(3_000);
      say(`${acked} acks; tails at ${tails.map((t) => t.state.next - 1).join(', ')}; killing ${leader.name} (leader)`);
      leader.kill();
      await sleep(8_000);
      await leader.restart();
      say(`${leader.name} restarted; ${acked} acks`);
      await sleep(4_000);
      loading = false;
      await load;
      const last = (await jsmAdmin.streams.info(names.stream)).state.last_seq;
      expect(last).toBeGreaterThanOrEqual(lastAcked);
      const from = Date.now();
      while (tails.some((t) => t.state.next <= last) && Date.now() - from < 15_000) await sleep(50);
      say(`stream at ${last}; tails at ${tails.map((t) => t.state.next - 1).join(', ')} ${Date.now() - from} ms later`);
      for (const [i, nc] of readers.entries()) {
        const jsm = await jetstreamManager(nc, { timeout: 2_000 });
        expect((await jsm.streams.info(names.stream)).state.last_seq, `a request on reader ${i}`).toBe(last);
      }
      for (const [i, t] of tails.entries())
        say(`reader ${i}: ${t.state.errors.length} failed reads ${t.state.errors.slice(0, 5).join('; ')}`);
      for (const t of tails) {
        expect(t.state.outOfOrder).toBe(0);
        expect(t.state.next - 1, 'the tail reached the end of the stream').toBe(last);
      }
    } finally {
      loading = false;
      controller.abort();
      await Promise.all(tails.map((t) => t.done));
    }
  }, 120_000);
});
