/**
 * The network-namespace lab itself (test/faults/netns.ts), without a topology: a cut really stops TCP between
 * two namespaces (and between a namespace and a forwarded service address), a heal restores it, `remove()`
 * leaves no namespace, and a lab left behind by a run that died is cleaned up by the next one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:net';
import { createNetLab, REDIS_HOST, type NetLab } from './netns.ts';

const namespaces = () =>
  spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .stdout.split('\n')
    .map((l) => l.split(' ')[0])
    .filter((n) => n?.startsWith('hf-'));

/** Exit status of a 1.5 s TCP connect from inside `ns` (0: connected). */
function connectFrom(ns: string, host: string, port: number): number | null {
  const script = `const s=require('net').connect(${port},'${host}',()=>process.exit(0));s.on('error',()=>process.exit(2));setTimeout(()=>process.exit(3),1500)`;
  return spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script], { timeout: 10_000 }).status;
}

let lab: NetLab | undefined;
let child: ChildProcess | undefined;
let server: Server | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  server?.close();
  lab?.remove();
});

describe('network-namespace lab', () => {
  it('cuts and heals TCP between namespaces and to a root-namespace address, and removes everything', async () => {
    lab = await createNetLab(60_000);
    expect(namespaces().sort()).toEqual(['hf-bitmap', 'hf-edge1', 'hf-edge2', 'hf-history', 'hf-n1', 'hf-n2', 'hf-n3']);
    child = spawn(
      'ip',
      [
        'netns',
        'exec',
        'hf-n2',
        process.execPath,
        '-e',
        `require('net').createServer((s)=>s.end()).listen(21604,'${lab.hostOf('n2')}')`,
      ],
      { stdio: 'ignore' },
    );
    server = createServer((s) => s.end()).listen(21605, REDIS_HOST);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(connectFrom('hf-n1', lab.hostOf('n2'), 21604), 'n1 → n2 before the cut').toBe(0);
    expect(connectFrom('hf-bitmap', REDIS_HOST, 21605), 'bitmap → redis address before the cut').toBe(0);
    lab.cut('n1', ['n2']);
    lab.cut('bitmap-projector', [REDIS_HOST]);
    expect(connectFrom('hf-n1', lab.hostOf('n2'), 21604), 'n1 → n2 while cut').not.toBe(0);
    expect(connectFrom('hf-n3', lab.hostOf('n2'), 21604), 'n3 → n2 is not cut').toBe(0);
    expect(connectFrom('hf-bitmap', REDIS_HOST, 21605), 'bitmap → redis address while cut').not.toBe(0);
    expect(connectFrom('hf-history', REDIS_HOST, 21605), 'history → redis address is not cut').toBe(0);
    lab.heal();
    expect(connectFrom('hf-n1', lab.hostOf('n2'), 21604), 'n1 → n2 after the heal').toBe(0);
    expect(connectFrom('hf-bitmap', REDIS_HOST, 21605), 'bitmap → redis address after the heal').toBe(0);
    lab.remove();
    expect(namespaces()).toEqual([]);
  });

  it('a lab left behind by a run that died is removed by the next one', async () => {
    spawnSync('ip', ['netns', 'add', 'hf-n1']);
    spawnSync('ip', ['link', 'add', 'hf-br0', 'type', 'bridge']);
    lab = await createNetLab(60_000);
    expect(namespaces()).toHaveLength(7);
    lab.remove();
    expect(namespaces()).toEqual([]);
    expect(spawnSync('ip', ['link', 'show', 'hf-br0']).status, 'bridge removed').not.toBe(0);
  });
});
