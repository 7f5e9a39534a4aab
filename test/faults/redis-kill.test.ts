/**
 * Fault: kill -9 of Redis (a private redis-server of this topology, no persistence) under load. It comes back
 * EMPTY: no bitmap, no cooldowns, no sessions. The bitmap projector must notice and rebuild the bitmap from
 * the stream by itself; edges keep serving their in-memory canvas and placing once Redis answers again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

let fault: Fault | undefined;
beforeAll(async () => {
  fault = await startFault({ label: 'rediskill', privateRedis: true });
});
afterAll(async () => {
  await fault?.stop();
});

describe('kill -9 of Redis under load; it comes back empty', () => {
  it('loses no acknowledged placement and the bitmap is rebuilt by itself', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const faultAt = Date.now();
    await f.privateRedis!.kill();
    f.say(`killed redis-server after ${run.load.acked.length} acks`);
    await sleep(3_000);
    await f.privateRedis!.restart();
    const repairedAt = Date.now();
    f.say(`redis-server restarted empty after ${repairedAt - faultAt} ms`);
    await sleep(5_000);
    await verify(f, run, { fault: 'kill -9 of Redis (restarted empty)', faultAt, repairedAt });
    // Redis down is an expected outage: every refused placement says `unavailable`, none `internal`.
    expect(run.load.errors.get('internal') ?? 0).toBe(0);
  });
});
