/**
 * Fault: Postgres crashes under load (`pg_ctl stop -m immediate` of a private Postgres of this topology: no
 * checkpoint, crash recovery at the next start), then starts again. The history projector must retry its
 * batch and go on from its committed position: every event exactly once in `events`, snapshots correct.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

let fault: Fault | undefined;
beforeAll(async () => {
  fault = await startFault({ label: 'pgkill', privatePostgres: true });
});
afterAll(async () => {
  await fault?.stop();
});

describe('Postgres stopped -m immediate under load, then started', () => {
  it('loses no acknowledged placement and the history converges to the replay', async () => {
    const f = fault!;
    const run = await startLoad(f);
    const faultAt = Date.now();
    await f.privatePostgres!.kill();
    f.say(`Postgres stopped -m immediate after ${run.load.acked.length} acks`);
    await sleep(3_000);
    await f.privatePostgres!.restart();
    const repairedAt = Date.now();
    f.say(`Postgres started again after ${repairedAt - faultAt} ms`);
    await sleep(4_000);
    await verify(f, run, { fault: 'Postgres stop -m immediate, restarted', faultAt, repairedAt });
  });
});
