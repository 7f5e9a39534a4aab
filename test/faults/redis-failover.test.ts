/**
 * Fault: Redis failover. A private primary with a replica (`REPLICAOF`), the roles reaching "Redis" through
 * one address (a forwarder, test/faults/tcp-forward.ts, standing for the virtual IP or DNS name a failover
 * moves). Under load the replica's link is lost LAG_MS before the primary is killed -9 (the worst case of an
 * asynchronous replica: everything written in that window is gone), the replica is promoted
 * (`REPLICAOF NO ONE`) and the address moved to it. Measured:
 *
 * - cooldowns: eager probe users retry every 100 ms; a placement accepted before the previous one's cooldown
 *   ended (server times: `nextPlacement`) is a double placement, counted;
 * - writes lost: a probe INCRs a key every 10 ms through the same address (a session, a cooldown: any key);
 *   acknowledged increments missing on the promoted replica are what the failover lost;
 * - the bitmap: the promoted replica holds an older bitmap with its older sequence; the projector must notice
 *   (its next write is refused with `SequenceConflict`, or the idle check sees the sequence went back) and
 *   replay the gap from the stream, then `verify` checks it equals the replay byte for byte;
 * - the cost of `WAIT 1 <ms>` after a write on this pair (what a synchronous cooldown would pay).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalService } from '../../src/adapters/services/local.ts';
import { PALETTES } from '../../src/domain/palette.ts';
import { freePort, nodeClient } from '../helpers/edge-process.ts';
import { sleep, startFault, startLoad, verify, WIDTH, type Fault } from './harness.ts';
import { startTcpForward, type TcpForward } from './tcp-forward.ts';

const FORWARD_PORT = 21602;
const LAG_MS = Number(process.env.FAULT_REDIS_LAG_MS ?? 1_000);
const COOLDOWN_SECONDS = 5;
const PROBES = 20;

let dir: string;
let primary: LocalService | undefined;
let replica: LocalService | undefined;
let forward: TcpForward | undefined;
let fault: Fault | undefined;
let replicaPort: number;

async function linkUp(redis: Redis, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!/master_link_status:up/.test(await redis.info('replication'))) {
    if (Date.now() > deadline) throw new Error('the replica never synced with the primary');
    await sleep(100);
  }
}

const percentile = (values: number[], p: number) =>
  values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

/** ms per `SET`, and per `SET` + `WAIT 1 100`, on the primary with its replica attached. */
async function measureWait(primaryUrl: string, n = 500): Promise<Record<string, number>> {
  const redis = new Redis(primaryUrl);
  const set: number[] = [];
  const setWait: number[] = [];
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await redis.set(`h-faults:wait-probe:${i}`, String(i), 'EX', 60);
    set.push(performance.now() - t);
    t = performance.now();
    await redis.set(`h-faults:wait-probe:${i}`, String(i), 'EX', 60);
    const acked = await redis.wait(1, 100);
    setWait.push(performance.now() - t);
    if (acked !== 1) throw new Error(`WAIT answered ${acked} replicas`);
  }
  redis.disconnect();
  return {
    setP50Ms: percentile(set, 0.5),
    setP99Ms: percentile(set, 0.99),
    setWaitP50Ms: percentile(setWait, 0.5),
    setWaitP99Ms: percentile(setWait, 0.99),
  };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'h-faults-redis-failover-'));
  const primaryPort = await freePort();
  replicaPort = await freePort();
  primary = await startLocalRedis({ port: primaryPort, dir: join(dir, 'primary'), logFile: join(dir, 'primary.log') });
  replica = await startLocalRedis({ port: replicaPort, dir: join(dir, 'replica'), logFile: join(dir, 'replica.log') });
  const r = new Redis(replica.url);
  await r.replicaof('127.0.0.1', primaryPort);
  await linkUp(r);
  r.disconnect();
  forward = await startTcpForward('127.0.0.1', FORWARD_PORT, { port: primaryPort });
  fault = await startFault({
    label: 'redisfailover',
    redisUrl: forward.url('redis'),
    env: { COOLDOWN_SECONDS: String(COOLDOWN_SECONDS) },
  });
});
afterAll(async () => {
  await fault?.stop();
  await forward?.close();
  await primary?.stop().catch(() => undefined);
  await replica?.stop().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

describe('Redis failover under load: primary killed, lagging replica promoted', () => {
  it('counts double placements and lost writes, and the bitmap projector repairs itself from the stream', async () => {
    const f = fault!;
    const waitCost = await measureWait(primary!.url);
    f.say(`SET vs SET+WAIT 1 100 on the pair: ${JSON.stringify(waitCost)}`);
    const run = await startLoad(f, 6_000);

    // Eager users: place every 100 ms whatever the cooldown says; each accepted placement's server time is
    // nextPlacement - cooldown.
    let probing = true;
    const placedAt: number[][] = [];
    const probes = Array.from({ length: PROBES }, (_, i) =>
      nodeClient(f.edgeUrls[i % 2]!, { trackCanvas: false, placeTimeoutMs: 5_000 }),
    );
    await Promise.all(probes.map((p) => p.connect().then(() => p.synced())));
    for (let i = 0; i < PROBES; i++) placedAt.push([]);
    const probeLoops = probes.map(async (p, i) => {
      // Spread over one cooldown, so some users' cooldowns always fall in the lost window (started together,
      // all 20 would place within ~100 ms of one another and miss or hit a 1 s window all at once).
      await sleep((i * COOLDOWN_SECONDS * 1000) / PROBES);
      for (let n = 0; probing; n++) {
        const result = await p.place((i * 5 + n) % WIDTH, (i * 3) % WIDTH, n % PALETTES.rplace2022.length);
        if (result.type === 'success') placedAt[i]!.push(result.nextPlacement - COOLDOWN_SECONDS * 1000);
        await sleep(100);
      }
    });
    // Acknowledged writes through the address: INCR every 10 ms.
    const writer = new Redis(forward!.url('redis'), { maxRetriesPerRequest: 1 });
    writer.on('error', () => undefined);
    let ackedIncr = 0;
    let writing = true;
    const writes = (async () => {
      while (writing) {
        const value = await writer.incr('h-faults:failover-probe').catch(() => null);
        if (value !== null) ackedIncr = Math.max(ackedIncr, value);
        await sleep(10);
      }
    })();
    await sleep(COOLDOWN_SECONDS * 1000 + 1_000);

    const promoted = new Redis(replica!.url);
    const primaryAdmin = new Redis(primary!.url);
    const replicationInfo = await primaryAdmin.info('replication');
    await promoted.replicaof('NO', 'ONE'); // the link is lost: the replica keeps what it had
    const linkLostAt = Date.now();
    await sleep(LAG_MS);
    const primarySeq = Number(await primaryAdmin.get(f.names.canvasSeqKey));
    const ackedIncrAtKill = ackedIncr;
    primaryAdmin.disconnect();
    const faultAt = Date.now();
    primary!.kill();
    const promotedSeq = Number(await promoted.get(f.names.canvasSeqKey));
    const promotedIncr = Number(await promoted.get('h-faults:failover-probe'));
    forward!.retarget(replicaPort);
    const repairedAt = Date.now();
    f.say(
      `primary killed at bitmap seq ${primarySeq}; promoted replica holds ${promotedSeq} (${primarySeq - promotedSeq} behind), probe ${promotedIncr} of ${ackedIncrAtKill} acked`,
    );
    await sleep(COOLDOWN_SECONDS * 1000 + 2_000);
    probing = false;
    writing = false;
    await Promise.all([...probeLoops, writes]);
    for (const p of probes) p.close();
    writer.disconnect();
    promoted.disconnect();

    // A double placement: accepted before the previous accepted one's cooldown had ended, by more than the
    // 500 ms the time between reading `placedAt` and the Redis SET can take on a loaded machine
    // (clock-skew.test.ts); a lost cooldown lets the next attempt in 100 ms later, seconds early.
    const doubles = placedAt.map(
      (times) => times.filter((t, k) => k > 0 && t < times[k - 1]! + COOLDOWN_SECONDS * 1000 - 500).length,
    );
    const doublePlacements = doubles.reduce((a, b) => a + b, 0);
    const usersWithDouble = doubles.filter((d) => d > 0).length;
    const probeAccepted = placedAt.reduce((a, t) => a + t.length, 0);
    const bitmapLog = readFileSync(f.topology.projectors.find((p) => p.name === 'bitmap-projector')!.logFile, 'utf8');
    const repairedGap = /replaying the gap the bitmap store lost/.test(bitmapLog);
    f.say(
      `double placements inside a ${COOLDOWN_SECONDS} s cooldown: ${doublePlacements} (${usersWithDouble} of ${PROBES} eager users, ${probeAccepted} accepted); bitmap gap replayed: ${repairedGap}`,
    );
    const report = await verify(f, run, {
      fault: `Redis failover: replica link lost ${LAG_MS} ms before kill -9 of the primary, replica promoted`,
      faultAt,
      repairedAt,
      extra: {
        lagMs: faultAt - linkLostAt,
        bitmapSeqBehind: primarySeq - promotedSeq,
        lostIncrements: ackedIncrAtKill - promotedIncr,
        doublePlacements,
        usersWithDouble,
        probeAccepted,
        repairedGap,
        replicaOffsetLagBytes: replicaOffsetLag(replicationInfo),
        ...waitCost,
      },
    });
    expect(primarySeq - promotedSeq, 'the promoted replica is behind (the case under test)').toBeGreaterThan(0);
    expect(repairedGap, 'the bitmap projector replayed the gap').toBe(true);
    expect(report.lost).toBe(0);
    expect(run.load.errors.get('internal') ?? 0).toBe(0);
  });
});

/** master_repl_offset minus the replica's acknowledged offset, from the primary's INFO replication. */
function replicaOffsetLag(info: string): number | null {
  const master = /master_repl_offset:(\d+)/.exec(info);
  const slave = /slave0:.*offset=(\d+)/.exec(info);
  return master && slave ? Number(master[1]) - Number(slave[1]) : null;
}
