/**
 * Faults: network partitions (test/faults/netns.ts). Every NATS node, edge and projector runs in a network
 * namespace of its own; the harness and its WebSocket clients stay in the root namespace, so a client's
 * connection to its edge survives every cut below. One topology, three partitions one after another, each
 * under load, healed after PARTITION_MS, then checked by `verify` (0 acknowledged lost, every projection and
 * every connected client equal to the replay):
 *
 * 1. edge1 cut from all three NATS nodes while its clients stay connected: they get `unavailable`, never
 *    `success`, and place again after the heal;
 * 2. the bitmap projector cut from Redis and the history projector cut from Postgres;
 * 3. the stream leader cut from the two other nodes (a minority leader that edges may still be connected to).
 *    Last, because on nats-server 2.9.10 it can leave the stream and the history projection disagreeing for
 *    good (docs/RELIABILITY.md, "Partitions"), which would fail the cases after it for a reason not theirs.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { CONVERGE_MS, sleep, startFault, startLoad, verify, type Fault } from './harness.ts';
import { createNetLab, PG_HOST, REDIS_HOST, type NetLab } from './netns.ts';
import { startTcpForward, type TcpForward } from './tcp-forward.ts';

const PARTITION_MS = Number(process.env.FAULT_PARTITION_MS ?? 8_000);
/** Fixed ports of this suite (21600–21799): the forwarded Redis and Postgres, on the bridge's own addresses. */
const REDIS_FORWARD_PORT = 21600;
const PG_FORWARD_PORT = 21601;
const NODES = ['n1', 'n2', 'n3'];

let lab: NetLab | undefined;
let forwards: TcpForward[] = [];
let fault: Fault | undefined;
beforeAll(async () => {
  lab = await createNetLab();
  try {
    forwards = [
      await startTcpForward(REDIS_HOST, REDIS_FORWARD_PORT, { port: 6379 }),
      await startTcpForward(PG_HOST, PG_FORWARD_PORT, { port: 5432 }),
    ];
    fault = await startFault({
      label: 'partition',
      placement: lab.placement,
      redisUrl: `redis://${REDIS_HOST}:${REDIS_FORWARD_PORT}`,
      databaseUrl: `postgres://postgres@${PG_HOST}:${PG_FORWARD_PORT}/test`,
    });
  } catch (error) {
    for (const forward of forwards) await forward.close();
    lab.remove();
    throw error;
  }
});
afterAll(async () => {
  try {
    await fault?.stop();
  } finally {
    for (const forward of forwards) await forward.close().catch(() => undefined);
    lab?.remove();
  }
});

/** Acks from clients of edge `index` (client i talks to edge i % 2) inside [from, to). */
const ackedOnEdge = (
  f: Fault,
  acked: readonly { client: number; at: number }[],
  index: number,
  from: number,
  to: number,
) => acked.filter((a) => a.client % f.edgeUrls.length === index && a.at >= from && a.at < to).length;

describe('network partitions under load (network namespaces)', () => {
  it('edge1 cut from NATS with its clients connected: `unavailable`, never `success`; placing again after the heal', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const unavailableBefore = run.load.errors.get('unavailable') ?? 0;
    const faultAt = Date.now();
    lab!.cut('edge1', NODES);
    f.say(`cut edge1 from ${NODES.join(', ')} after ${run.load.acked.length} acks`);
    await sleep(PARTITION_MS);
    const healAt = Date.now();
    // A placement in flight at the cut may have been acknowledged just before it; none after 1 s can be true.
    const edge1AckedWhileCut = ackedOnEdge(f, run.load.acked, 0, faultAt + 1_000, healAt);
    const edge2AckedWhileCut = ackedOnEdge(f, run.load.acked, 1, faultAt, healAt);
    const unavailableWhileCut = (run.load.errors.get('unavailable') ?? 0) - unavailableBefore;
    const observerStatus = run.observers.clients.map((c) => c.status);
    lab!.heal();
    const repairedAt = Date.now();
    while (ackedOnEdge(f, run.load.acked, 0, repairedAt, Infinity) === 0 && Date.now() - repairedAt < 60_000)
      await sleep(50);
    const firstEdge1Ack = run.load.acked.find((a) => a.client % 2 === 0 && a.at >= repairedAt);
    const resumeMs = firstEdge1Ack ? firstEdge1Ack.at - repairedAt : null;
    f.say(
      `while cut: edge1 ${edge1AckedWhileCut} acks, edge2 ${edge2AckedWhileCut}, ${unavailableWhileCut} unavailable; observers ${observerStatus.join(',')}; edge1 placing ${resumeMs} ms after the heal`,
    );
    expect(edge1AckedWhileCut, 'successes from an edge cut from NATS').toBe(0);
    expect(unavailableWhileCut).toBeGreaterThan(0);
    expect(edge2AckedWhileCut, 'the other edge keeps placing').toBeGreaterThan(100);
    expect(resumeMs, 'edge1 places again after the heal').not.toBeNull();
    await sleep(3_000);
    await verify(f, run, {
      fault: `partition: edge1 cut from all NATS nodes for ${PARTITION_MS} ms (clients connected), healed`,
      faultAt,
      repairedAt,
      extra: { edge1AckedWhileCut, edge2AckedWhileCut, unavailableWhileCut, resumeMs, observerStatus },
    });
    expect(run.load.errors.get('internal') ?? 0).toBe(0);
  });

  it('the bitmap projector cut from Redis and the history projector cut from Postgres: both catch up after the heal', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const faultAt = Date.now();
    lab!.cut('bitmap-projector', [REDIS_HOST]);
    lab!.cut('history', [PG_HOST]);
    f.say(`cut bitmap-projector from Redis and history from Postgres after ${run.load.acked.length} acks`);
    await sleep(PARTITION_MS);
    const ackedWhileCut = run.load.ackedSince(faultAt);
    lab!.heal();
    const repairedAt = Date.now();
    f.say(`healed after ${repairedAt - faultAt} ms (${ackedWhileCut} acks while cut)`);
    await sleep(5_000);
    const report = await verify(f, run, {
      fault: `partition: bitmap projector cut from Redis, history from Postgres, ${PARTITION_MS} ms, healed`,
      faultAt,
      repairedAt,
      extra: { ackedWhileCut },
    });
    expect(ackedWhileCut, 'placements go on while the projectors are cut').toBeGreaterThan(500);
    expect(report.lost).toBe(0);
  });

  // On nats-server 2.9.10 this case failed 3 runs of 4 (1 and 19 acknowledged placements lost, and once a
  // projector refused "temporarily unavailable" > 11 s after the heal): server defects, docs/RELIABILITY.md
  // "Partitions". The suite runs on 2.10.27 (vitest.faults.config.ts), where it holds.
  it('the stream leader cut from the two other nodes: no acknowledged placement lost, all converge after the heal', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const leader = (await f.jsm.streams.info(f.names.stream)).cluster?.leader;
    expect(NODES).toContain(leader);
    const majority = NODES.filter((n) => n !== leader);
    // The majority side's view, through a connection to its nodes only.
    const nc = await connectNats(
      f.topology.nodes
        .filter((n) => majority.includes(n.name))
        .map((n) => n.url)
        .join(','),
      'fault-majority',
      f.topology.natsAuth('operator'),
    );
    const jsm = await jetstreamManager(nc, { timeout: 500, checkAPI: false });
    const faultAt = Date.now();
    lab!.cut(leader!, majority);
    f.say(`cut ${leader} (stream leader) from ${majority.join(', ')} after ${run.load.acked.length} acks`);
    let newLeader: string | undefined;
    while (!newLeader && Date.now() - faultAt < PARTITION_MS + 20_000) {
      const info = await jsm.streams.info(f.names.stream).catch(() => undefined);
      if (info?.cluster?.leader && majority.includes(info.cluster.leader)) newLeader = info.cluster.leader;
      else await sleep(100);
    }
    const electionMs = Date.now() - faultAt;
    f.say(`majority elected ${newLeader ?? 'nobody'} after ${electionMs} ms`);
    await nc.close();
    expect(newLeader, 'the majority elects a stream leader').toBeDefined();
    await sleep(Math.max(0, faultAt + PARTITION_MS - Date.now()));
    const healAt = Date.now();
    const ackedPerEdge = [0, 1].map((i) => ackedOnEdge(f, run.load.acked, i, faultAt + electionMs, healAt));
    lab!.heal();
    const repairedAt = Date.now();
    f.say(
      `healed after ${repairedAt - faultAt} ms; acks per edge during the partition after the election: ${ackedPerEdge.join(', ')}`,
    );
    // The edge whose NATS connection is on the old leader places again only once that node serves it: 0.3–5.5 s
    // after the heal in most runs, and once (fresh-clone CI 2026-12-02 06:13) more than the 6 s this case gave
    // it. Wait for both edges (up to 15 s, the projectors' 2.10.27 delay below), then as long as before.
    const placingBy = repairedAt + 15_000;
    const placedAgain = () => [0, 1].every((i) => ackedOnEdge(f, run.load.acked, i, repairedAt, Date.now()) > 0);
    while (!placedAgain() && Date.now() < placingBy) await sleep(250);
    f.say(`every edge placing again ${Date.now() - repairedAt} ms after the heal`);
    await sleep(5_000);
    await verify(f, run, {
      fault: `partition: stream leader cut from the other two nodes for ${PARTITION_MS} ms, healed`,
      faultAt,
      repairedAt,
      extra: { electionMs, ackedPerEdgeAfterElection: ackedPerEdge },
      // After this heal nats-server 2.10.27 answers the projectors' durables "JetStream system temporarily
      // unavailable", then times out their re-creation, for up to ~12 s (docs/RELIABILITY.md, "Partitions"); the
      // projector resumes the moment one answers. The report keeps the time each projection took.
      convergeMs: Math.max(CONVERGE_MS, 20_000),
    });
    expect(run.load.errors.get('internal') ?? 0).toBe(0);
  });
});
