/**
 * The clustered topology as local processes, without containers: three nats-server nodes clustered on
 * loopback (JetStream on each, own ports and store dirs), the canvas stream at three replicas, and the
 * roles as child processes against the cluster (N edges on their own ports, the bitmap projector, the
 * history projector). Redis and Postgres are the machine's (or whatever REDIS_URL / DATABASE_URL say).
 *
 * `npm run topology` (deploy/local/main.ts) runs it until Ctrl-C; the fault-injection suite
 * (test/faults/) drives it programmatically: `node(i).kill()` is a kill -9, `restart()` brings it back.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startLocalNats, type LocalService } from '../../src/adapters/services/local.ts';
import { namesFor } from '../../src/config/names.ts';
import { applyStreams } from '../../streams/apply.ts';

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');

export interface TopologyOptions {
  /** Store dirs and logs go here (`.data/cluster` for `npm run topology`; a temp dir in tests). */
  readonly dataDir: string;
  /** Client ports of the three NATS nodes; cluster ports are these + 2000, monitoring + 4000. */
  readonly natsPorts: readonly [number, number, number];
  /** One edge per port. */
  readonly edgePorts: readonly number[];
  /** Environment for every role: CANVAS_ID, REDIS_URL, DATABASE_URL, SESSION_SECRET, canvas size, … */
  readonly env: Readonly<Record<string, string>>;
  /** Which projectors to run (default both). */
  readonly projectors?: readonly ('bitmap-projector' | 'history')[];
  /** Metrics ports of the projectors, in the order of `projectors` (optional). */
  readonly projectorMetricsPorts?: readonly number[];
  /** Called with one line per lifecycle step. */
  readonly onStep?: (line: string) => void;
  /**
   * Run the roles as production does, from the build (`node dist/src/roles/<role>/main.js`, after
   * `npm run build`), instead of from the TypeScript source through tsx (the default: tests need no build).
   */
  readonly compiled?: boolean;
}

export interface NatsNode {
  readonly name: string;
  readonly url: string;
  readonly alive: boolean;
  /** The nats-server process id (from its pid file), for signals such as SIGSTOP/SIGCONT; undefined when down. */
  readonly pid: number | undefined;
  /** SIGKILL: no lame duck, no flush. */
  kill(): void;
  /** Starts it again on the same ports and store dir (it rejoins the cluster and catches up). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface RoleProcess {
  readonly name: string;
  readonly logFile: string;
  readonly alive: boolean;
  readonly pid: number | undefined;
  kill(signal?: NodeJS.Signals): void;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface Topology {
  /** All three nodes, comma-separated, as the roles get it. */
  readonly natsUrl: string;
  readonly nodes: readonly NatsNode[];
  readonly edges: readonly RoleProcess[];
  readonly projectors: readonly RoleProcess[];
  readonly edgeUrls: readonly string[];
  readonly canvasId: string;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(200);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

function natsNode(index: number, options: TopologyOptions): NatsNode & { start(): Promise<void> } {
  const ports = options.natsPorts;
  const port = ports[index]!;
  const name = `n${index + 1}`;
  const routes = ports.filter((_, i) => i !== index).map((p) => `nats://127.0.0.1:${p + 2000}`).join(',');
  let service: LocalService | undefined;
  let alive = false;
  const pidFile = join(options.dataDir, `nats-${name}.pid`);
  const start = async () => {
    service = await startLocalNats({
      port,
      storeDir: join(options.dataDir, name),
      logFile: join(options.dataDir, 'logs', `nats-${name}.log`),
      extraArgs: ['--name', name, '--cluster_name', 'rplace-local', '--cluster', `nats://127.0.0.1:${port + 2000}`, '--routes', routes, '-m', String(port + 4000), '-P', pidFile],
    });
    alive = true;
  };
  return {
    name,
    url: `nats://127.0.0.1:${port}`,
    get alive() {
      return alive;
    },
    get pid() {
      if (!alive) return undefined;
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
      } catch {
        return undefined;
      }
    },
    kill: () => {
      service?.kill();
      alive = false;
    },
    start,
    restart: start,
    stop: async () => {
      await service?.stop();
      alive = false;
    },
  };
}

/** The command line of a role: its compiled entry point, or its source through tsx. */
export function roleCommand(role: string, compiled: boolean): string[] {
  return compiled ? [`dist/src/roles/${role}/main.js`] : ['--import', 'tsx', `src/roles/${role}/main.ts`];
}

function roleProcess(name: string, command: readonly string[], env: Record<string, string>, logFile: string, ready: () => Promise<boolean>): RoleProcess & { start(): Promise<void> } {
  let child: ChildProcess | undefined;
  const isAlive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const start = async () => {
    const log = openSync(logFile, 'a');
    // One process per role (node itself, never a wrapper such as npm or tsx), so a kill reaches the role.
    child = spawn(process.execPath, command, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
    closeSync(log);
    const current = child;
    await until(`${name}`, 60_000, async () => {
      if (current.exitCode !== null || current.signalCode !== null) throw new Error(`${name} exited (${current.exitCode ?? current.signalCode}); see ${logFile}`);
      return (await ready()) ? true : undefined;
    });
  };
  const stop = async () => {
    if (!child || !isAlive()) return;
    const current = child;
    const exited = new Promise<void>((r) => current.once('exit', () => r()));
    current.kill('SIGTERM');
    const force = setTimeout(() => current.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(force);
  };
  return {
    name,
    logFile,
    get alive() {
      return isAlive();
    },
    get pid() {
      return child?.pid;
    },
    kill: (signal = 'SIGKILL') => {
      child?.kill(signal);
    },
    restart: async () => {
      await stop();
      await start();
    },
    stop,
    start,
  };
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Waits until the cluster has a JetStream meta leader (account info answers). */
async function waitForJetStream(nc: NatsConnection): Promise<void> {
  await until('JetStream cluster (meta leader)', 60_000, async () => {
    const jsm = await jetstreamManager(nc, { timeout: 2_000 });
    await jsm.getAccountInfo();
    return true;
  });
}

export async function startTopology(options: TopologyOptions): Promise<Topology> {
  const step = options.onStep ?? (() => undefined);
  mkdirSync(join(options.dataDir, 'logs'), { recursive: true });
  const canvasId = options.env.CANVAS_ID ?? 'topology';
  const names = namesFor(canvasId);
  const nodes = [0, 1, 2].map((i) => natsNode(i, options));
  const natsUrl = nodes.map((n) => n.url).join(',');
  const edges: (RoleProcess & { start(): Promise<void> })[] = [];
  const projectors: (RoleProcess & { start(): Promise<void> })[] = [];
  let admin: NatsConnection | undefined;

  const stop = async () => {
    for (const role of [...edges, ...projectors]) await role.stop().catch(() => undefined);
    await admin?.close().catch(() => undefined);
    for (const node of nodes) await node.stop().catch(() => undefined);
  };

  try {
    step(`starting NATS nodes ${nodes.map((n) => n.url).join(', ')} (data in ${options.dataDir})`);
    await Promise.all(nodes.map((n) => n.start()));
    admin = await connect({ servers: natsUrl.split(','), name: 'rplace-topology', maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    await waitForJetStream(admin);
    const { outcome, info } = await until('stream with 3 replicas', 60_000, () => applyStreams(admin!, names, { replicas: 3 }));
    step(`stream ${names.stream}: ${outcome}, replicas ${info.config.num_replicas}, leader ${info.cluster?.leader ?? '?'}`);

    const roleEnv = { ...options.env, CANVAS_ID: canvasId, NATS_URL: natsUrl, STREAM_REPLICAS: '3' };
    const logs = join(options.dataDir, 'logs');
    const jsm = await jetstreamManager(admin);
    const consumerExists = (name: string) => async () => {
      try {
        await jsm.consumers.info(names.stream, name);
        return true;
      } catch {
        return false;
      }
    };
    for (const [i, role] of (options.projectors ?? ['bitmap-projector', 'history']).entries()) {
      const metricsPort = options.projectorMetricsPorts?.[i];
      const env = { ...roleEnv, ...(metricsPort ? { METRICS_PORT: String(metricsPort) } : {}) };
      const consumer = role === 'bitmap-projector' ? names.consumers.bitmap : names.consumers.history;
      const proc = roleProcess(role, roleCommand(role, options.compiled === true), env, join(logs, `${role}.log`), consumerExists(consumer));
      projectors.push(proc);
    }
    for (const [i, port] of options.edgePorts.entries()) {
      const edge = roleProcess(`edge${i + 1}`, roleCommand('edge', options.compiled === true), { ...roleEnv, PORT: String(port) }, join(logs, `edge${i + 1}.log`), () => httpOk(`http://127.0.0.1:${port}/readyz`));
      edges.push(edge);
    }
    // The roles do not depend on one another (each reads the stream on its own), so they start together:
    // on a loaded 2-core machine, one after another took ~25 s.
    step(`starting ${projectors.map((p) => p.name).join(', ')} and edges (with the history API) on ports ${options.edgePorts.join(', ')}, ${options.compiled ? 'from dist/' : 'from the source (tsx)'}`);
    const started = await Promise.allSettled([...projectors, ...edges].map((role) => role.start()));
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    natsUrl,
    nodes,
    edges,
    projectors,
    edgeUrls: options.edgePorts.map((port) => `http://localhost:${port}`),
    canvasId,
    stop,
  };
}

export async function portFree(port: number): Promise<boolean> {
  const { createServer } = await import('node:net');
  return new Promise((resolveFree) => {
    const server = createServer();
    server.once('error', () => resolveFree(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveFree(true)));
  });
}

/**
 * Three NATS client ports whose cluster (+2000) and monitoring (+4000) ports are free too, for tests that
 * run a private cluster next to anything else on the machine.
 */
export async function freeNatsPorts(): Promise<[number, number, number]> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const ports: [number, number, number] = [base, base + 1, base + 2];
    const all = ports.flatMap((p) => [p, p + 2000, p + 4000]);
    if ((await Promise.all(all.map(portFree))).every(Boolean)) return ports;
  }
  throw new Error('no free ports for a NATS cluster');
}
