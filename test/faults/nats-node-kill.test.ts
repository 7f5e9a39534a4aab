/**
 * Fault: kill -9 of one node of the three-node NATS JetStream cluster (the stream's leader, the worst case)
 * under load. Placements must continue on the two survivors once a new leader is elected; the node is
 * restarted 6 s later and rejoins. Checks: test/faults/harness.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

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
    const faultAt = Date.now();
    victim!.kill();
    f.say(`killed ${victim!.name} (leader) after ${run.load.acked.length} acks`);
    await sleep(8_000);
    // Placements continue on the surviving two nodes (a new leader is elected within seconds).
    const ackedWithTwoNodes = run.load.ackedSince(faultAt);
    f.say(`${ackedWithTwoNodes} acks on two nodes`);
    expect(ackedWithTwoNodes).toBeGreaterThan(100);
    expect(run.load.ackedSince(Date.now() - 3_000)).toBeGreaterThan(50);
    await victim!.restart();
    const repairedAt = Date.now();
    f.say(`${victim!.name} restarted`);
    await sleep(4_000);
    await verify(f, run, { fault: 'kill -9 of the NATS stream leader (3-node cluster, R3), restarted', faultAt, repairedAt, extra: { ackedWithTwoNodes } });
  });
});
