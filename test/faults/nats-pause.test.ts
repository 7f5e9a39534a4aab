/**
 * Fault: the whole NATS cluster paused (SIGSTOP to all three nodes) for 30 s under load. Placements must fail
 * fast (`unavailable` within the edge's append timeout, 2 s) with the cooldown refunded (the same user can try
 * again at once and is not told `cooldown`), and everything must recover within seconds of SIGCONT.
 * COOLDOWN_SECONDS is 5 here so that a cooldown that was not refunded would show.
 *
 * "Within seconds" is measured from the moment the stream has a leader again: after every node of a
 * nats-server 2.9 cluster was stopped, JetStream's own Raft elections take 4–20 s (measured here; they are the
 * server's, not ours), and only then can any append succeed. What this test holds our roles to is what comes
 * after: placements succeed within seconds of the stream being writable again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeClient } from '../helpers/edge-process.ts';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

const PAUSE_MS = Number(process.env.FAULT_PAUSE_MS ?? 30_000);
let fault: Fault | undefined;
beforeAll(async () => {
  fault = await startFault({ label: 'natspause', env: { COOLDOWN_SECONDS: '5' } });
});
afterAll(async () => {
  // Never leave a stopped node behind.
  for (const node of fault?.topology.nodes ?? []) if (node.pid) process.kill(node.pid, 'SIGCONT');
  await fault?.stop();
});

describe(`NATS paused (SIGSTOP of every node) for ${PAUSE_MS / 1000} s under load`, () => {
  it('fails placements fast with unavailable and a refunded cooldown, and recovers within seconds', async () => {
    const f = fault!;
    const run = await startLoad(f, 6_000);
    const probe = nodeClient(f.edgeUrls[0]!, { trackCanvas: false, placeTimeoutMs: 10_000 });
    await probe.connect();
    const pids = f.topology.nodes.map((n) => n.pid);
    expect(pids.every((p) => p !== undefined)).toBe(true);
    const faultAt = Date.now();
    for (const pid of pids) process.kill(pid!, 'SIGSTOP');
    f.say(`SIGSTOP to nats-server ${pids.join(', ')} after ${run.load.acked.length} acks`);
    let repairedAt = 0;
    try {
      await sleep(1_000);
      // Fail fast, cooldown refunded: two attempts in a row by the same user, both `unavailable`.
      const attempts: { code: string; ms: number }[] = [];
      for (let i = 0; i < 2; i++) {
        const started = Date.now();
        const result = await probe.place(1, 1, 1);
        attempts.push({ code: result.type === 'error' ? result.code : result.type, ms: Date.now() - started });
      }
      f.say(`probe during the pause: ${JSON.stringify(attempts)}`);
      expect(attempts.map((a) => a.code)).toEqual(['unavailable', 'unavailable']);
      for (const a of attempts) expect(a.ms).toBeLessThan(3_000);
      await sleep(Math.max(0, faultAt + PAUSE_MS - Date.now()));
    } finally {
      for (const pid of pids) process.kill(pid!, 'SIGCONT');
      repairedAt = Date.now();
    }
    f.say('SIGCONT');
    let leaderMs = -1;
    while (Date.now() - repairedAt < 60_000) {
      const info = await f.jsm.streams.info(f.names.stream).catch(() => undefined);
      if (info?.cluster?.leader) {
        leaderMs = Date.now() - repairedAt;
        break;
      }
      await sleep(250);
    }
    f.say(`stream leader elected ${leaderMs} ms after SIGCONT`);
    expect(leaderMs).toBeGreaterThanOrEqual(0);
    const writableAt = repairedAt + leaderMs;
    // Recovery within seconds: the probe user places (its cooldown was refunded) and the load goes on.
    let recoveredMs = -1;
    while (Date.now() - writableAt < 15_000) {
      const result = await probe.place(2, 2, 2);
      if (result.type === 'success') {
        recoveredMs = Date.now() - repairedAt;
        break;
      }
      await sleep(200);
    }
    probe.close();
    await sleep(3_000);
    // Read after the pause above: the load's clients retry on their own schedule (100 ms after `unavailable`).
    const firstAck = run.load.acked.find((a) => a.at >= repairedAt);
    const firstAckMs = firstAck ? firstAck.at - repairedAt : -1;
    f.say(`first placement after SIGCONT: probe ${recoveredMs} ms, load ${firstAckMs} ms (stream leader after ${leaderMs} ms)`);
    await verify(f, run, { fault: `NATS cluster paused (SIGSTOP) ${PAUSE_MS / 1000} s`, faultAt, repairedAt, extra: { leaderMs, recoveredMs, firstAckMs } });
    expect(recoveredMs).toBeGreaterThanOrEqual(0);
    expect(recoveredMs - leaderMs).toBeLessThan(10_000);
    expect(firstAckMs, 'the load places again after the pause').toBeGreaterThanOrEqual(0);
  });
});
