/**
 * One fault test per role: kill -9 of the role's process under load, a few seconds down, then restarted
 * on the same settings (an edge on the same port: its clients reconnect with `since` and resume).
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { sleep, startFault, startLoad, verify, type Fault } from './harness.ts';

export function roleKillSuite(label: string, role: 'bitmap-projector' | 'history' | 'edge1', downMs = 3_000): void {
  let fault: Fault | undefined;
  beforeAll(async () => {
    fault = await startFault({ label });
  });
  afterAll(async () => {
    await fault?.stop();
  });

  describe(`kill -9 of the ${role} under load, then restart`, () => {
    it('loses no acknowledged placement and every projection and client converges to the replay', async () => {
      const f = fault!;
      const run = await startLoad(f);
      const proc = [...f.topology.projectors, ...f.topology.edges].find((p) => p.name === role)!;
      const faultAt = Date.now();
      proc.kill('SIGKILL');
      f.say(`killed ${role} (pid ${proc.pid}) after ${run.load.acked.length} acks`);
      await sleep(downMs);
      await proc.restart();
      const repairedAt = Date.now();
      f.say(`${role} restarted after ${repairedAt - faultAt} ms`);
      await sleep(4_000);
      await verify(f, run, { fault: `kill -9 of the ${role}, restarted`, faultAt, repairedAt });
    });
  });
}
