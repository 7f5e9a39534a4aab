/**
 * Fault: kill -9 of one node of the three-node NATS JetStream cluster (the stream's leader, the worst case)
 * under load. Placements must continue on the two survivors once a new leader is elected; the node is
 * restarted 6 s after that and rejoins. Checks: test/faults/harness.ts.
 *
 * The election itself is the server's (nats-server 2.9: usually 1–3 s here, slower on a loaded machine), so
 * it gets a generous bound; what this test holds our roles to is what follows it: the edges' appends succeed
 * again within a second or two of the stream having a leader, and every live tail carries on (a tail whose
 * consumer lived on the killed node is replaced: src/adapters/nats/stall-watchdog.ts).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

/** Longest wait for nats-server to elect a new stream leader (the server's work, not ours). */
const ELECTION_BOUND_MS = 30_000;

let fault: Fault | undefined;
beforeAll(async () => {
  fault = await startFault({ label: 'natskill' });
});
afterAll(async () => {
  await fault?.stop();
});

describe('kill -9 of the stream leader in a three-node NATS cluster, under load', () => {
  it('loses no acknowledged placement, keeps accepting placements, and every projection converges', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const leader = (await f.jsm.streams.info(f.names.stream)).cluster?.leader;
    const victim = f.topology.nodes.find((n) => n.name === leader);
    expect(victim, `leader ${leader}`).toBeDefined();
    // A short request timeout: an info request that went to the dead leader must not blur the election time.
    // Made before the kill: creating a manager asks for the account info, which can time out mid-election.
    const jsm = await jetstreamManager(f.nc, { timeout: 500, checkAPI: false });
    const faultAt = Date.now();
    victim!.kill();
    f.say(`killed ${victim!.name} (leader) after ${run.load.acked.length} acks`);
    let newLeader: string | undefined;
    while (!newLeader && Date.now() - faultAt < ELECTION_BOUND_MS) {
      const info = await jsm.streams.info(f.names.stream).catch(() => undefined);
      if (info?.cluster?.leader && info.cluster.leader !== victim!.name) newLeader = info.cluster.leader;
      else await sleep(100);
    }
    const electedAt = Date.now();
    const electionMs = electedAt - faultAt;
    f.say(`new stream leader: ${newLeader ?? 'none'} after ${electionMs} ms`);
    expect(newLeader, `a new stream leader within ${ELECTION_BOUND_MS} ms`).toBeDefined();
    while (run.load.ackedSince(electedAt) === 0 && Date.now() - electedAt < 5_000) await sleep(20);
    const firstAckAfterElection = run.load.acked.find((a) => a.at >= electedAt);
    const resumeMs = firstAckAfterElection ? firstAckAfterElection.at - electedAt : null;
    f.say(`first ack ${resumeMs ?? 'never'} ms after the election`);
    expect(resumeMs, 'appends succeed within 2 s of the election').not.toBeNull();
    expect(resumeMs!).toBeLessThan(2_000);
    // Placements continue on the surviving two nodes at the load's rate (about 190/s with 200 clients).
    await sleep(6_000);
    const ackedWithTwoNodes = run.load.ackedSince(electedAt);
    f.say(`${ackedWithTwoNodes} acks on two nodes in the 6 s after the election`);
    expect(ackedWithTwoNodes).toBeGreaterThan(500);
    await victim!.restart();
    const repairedAt = Date.now();
    f.say(`${victim!.name} restarted`);
    await sleep(4_000);
    await verify(f, run, {
      fault: 'kill -9 of the NATS stream leader (3-node cluster, R3), restarted',
      faultAt,
      repairedAt,
      extra: { electionMs, resumeMs, ackedWithTwoNodes },
    });
  });
});
