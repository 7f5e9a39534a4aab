/**
 * Network namespaces for the partition faults: every NATS node, edge and projector in a namespace of its
 * own (`hf-<name>`), each joined by a veth pair to one bridge `hf-br0` in the root namespace (10.217.0.1/16,
 * the fault suite's own test network; the harness and its WebSocket clients stay in the root namespace).
 * The machine's Redis and Postgres listen on 127.0.0.1 only, so the harness forwards them from two more
 * addresses of the bridge (`REDIS_HOST`, `PG_HOST`, test/faults/tcp-forward.ts): a process can then be
 * cut from Redis without being cut from Postgres.
 *
 * A cut is a pair of `blackhole` routes (one in each namespace): packets are dropped silently, as in a real
 * partition, established TCP connections stay open and simply stop carrying anything. What this kernel
 * offers was checked: `tc qdisc … netem` is refused ("Specified qdisc kind is unknown": no sch_netem), so
 * there is no loss or delay injection; `ip link set … down` works but isolates a process from everyone (the
 * harness included), which cannot express "the leader cut from the other two while its clients stay".
 *
 * The names are fixed, so one lab per machine at a time: `createNetLab()` takes a lock file (waiting, bounded,
 * while another live process holds it), then removes anything left by a run that died, and `remove()` is
 * idempotent and also runs on process exit, so no namespace outlives the suite even when a test throws.
 */
import { spawnSync } from 'node:child_process';
import { openSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';

export const BRIDGE = 'hf-br0';
export const BRIDGE_HOST = '10.217.0.1';
/** Root-namespace addresses the forwarded shared services listen on. */
export const REDIS_HOST = '10.217.0.2';
export const PG_HOST = '10.217.0.3';

/** Every process of the topology, with its address. */
const HOSTS: Readonly<Record<string, string>> = {
  n1: '10.217.1.1',
  n2: '10.217.1.2',
  n3: '10.217.1.3',
  edge1: '10.217.1.11',
  edge2: '10.217.1.12',
  'bitmap-projector': '10.217.1.21',
  history: '10.217.1.22',
};
const SHORT: Readonly<Record<string, string>> = { 'bitmap-projector': 'bitmap' };
const nsOf = (name: string) => `hf-${SHORT[name] ?? name}`;
const vethOf = (name: string) => `hfv-${SHORT[name] ?? name}`;

function ip(args: string[], allowFail = false): string {
  const result = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (result.status !== 0 && !allowFail)
    throw new Error(`ip ${args.join(' ')} failed: ${result.stderr.trim() || result.error?.message}`);
  return result.stdout;
}

function removeAll(): void {
  const existing = new Set(
    ip(['netns', 'list'], true)
      .split('\n')
      .map((l) => l.split(' ')[0]),
  );
  for (const name of Object.keys(HOSTS)) {
    if (existing.has(nsOf(name))) ip(['netns', 'del', nsOf(name)], true);
    ip(['link', 'del', vethOf(name)], true);
  }
  ip(['link', 'del', BRIDGE], true);
  for (const host of Object.values(HOSTS)) ip(['route', 'del', 'blackhole', `${host}/32`], true);
}

export interface NetLab {
  /** For deploy/local/topology.ts: where a process runs (undefined for names the lab does not know). */
  placement(name: string): { readonly host: string; readonly prefix: readonly string[] } | undefined;
  hostOf(name: string): string;
  /** Cuts `name` from each peer (process names, or REDIS_HOST / PG_HOST / BRIDGE_HOST), both directions. */
  cut(name: string, peers: readonly string[]): void;
  /** Removes every cut. */
  heal(): void;
  /** The routes in force, for the logs. */
  readonly cuts: readonly string[];
  remove(): void;
}

const LOCK = '/tmp/rplace-hf-netns.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function lock(timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch {
      const holder = Number(readFileSync(LOCK, 'utf8').trim() || 0);
      if (!holder || !alive(holder)) rmSync(LOCK, { force: true });
      else if (Date.now() > deadline)
        throw new Error(`the network-namespace lab is held by pid ${holder} (${LOCK}) for over ${timeoutMs} ms`);
      else await new Promise((r) => setTimeout(r, 1_000));
    }
  }
}

export async function createNetLab(lockTimeoutMs = 600_000): Promise<NetLab> {
  await lock(lockTimeoutMs);
  removeAll();
  let removed = false;
  const onExit = () => lab.remove();
  process.once('exit', onExit);
  const routes: { ns: string | null; dest: string }[] = [];
  const lab: NetLab = {
    placement: (name) =>
      HOSTS[name] ? { host: HOSTS[name]!, prefix: ['ip', 'netns', 'exec', nsOf(name)] } : undefined,
    hostOf: (name) => HOSTS[name] ?? name,
    cut(name, peers) {
      const add = (ns: string | null, dest: string) => {
        ip([...(ns ? ['-n', ns] : []), 'route', 'add', 'blackhole', `${dest}/32`]);
        routes.push({ ns, dest });
      };
      for (const peer of peers) {
        const peerHost = lab.hostOf(peer);
        add(nsOf(name), peerHost);
        // A root-namespace peer (a forwarded service) keeps its routes: dropping one direction already stalls
        // every TCP connection, and a root route to `name` would cut it from the other forwarded service too.
        if (HOSTS[peer]) add(nsOf(peer), HOSTS[name]!);
      }
    },
    heal() {
      for (const { ns, dest } of routes.splice(0))
        ip([...(ns ? ['-n', ns] : []), 'route', 'del', 'blackhole', `${dest}/32`], true);
    },
    get cuts() {
      return routes.map((r) => `${r.ns ?? 'root'}→${r.dest}`);
    },
    remove() {
      if (removed) return;
      removed = true;
      process.removeListener('exit', onExit);
      removeAll();
      rmSync(LOCK, { force: true });
    },
  };
  try {
    ip(['link', 'add', BRIDGE, 'type', 'bridge']);
    for (const host of [BRIDGE_HOST, REDIS_HOST, PG_HOST]) ip(['addr', 'add', `${host}/16`, 'dev', BRIDGE]);
    ip(['link', 'set', BRIDGE, 'up']);
    for (const [name, host] of Object.entries(HOSTS)) {
      const ns = nsOf(name);
      ip(['netns', 'add', ns]);
      ip(['link', 'add', vethOf(name), 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['link', 'set', vethOf(name), 'master', BRIDGE, 'up']);
      ip(['-n', ns, 'addr', 'add', `${host}/16`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  } catch (error) {
    lab.remove();
    throw error;
  }
  return lab;
}
