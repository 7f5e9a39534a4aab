/**
 * `npm run bench -- players [--server dev|edge] [--placers 32] [--viewers 0] [--timing 50] [--seconds 15]
 *   [--identities 400] [--max-identities 18000] [--port 21500] [--cpu-prof DIR] [--fresh N] [--shared-services]
 *   [--harness c|node]`
 *
 * The load players produce (issue 13): K closed-loop placers, each from its own client address
 * (127.0.0.<10+i>) with one placement in flight, the next sent on the answer; each rotates over its own
 * guest identities (one socket each) so the 1 s cooldown never makes it wait. A placer starts with
 * `--identities` and opens a quarter more whenever under a tenth of them may place (up to `--max-identities`
 * sockets in all: the edge's 20,000 descriptors hold those, the viewers and its few service connections; 15,000/s
 * needs ~16,700); the warm-up lasts until no placer grew for 2 s, so `waited` (measured window) is ~0.
 * A placer's sockets are in viewport mode on tile 0, where no placement lands: they receive no pixel
 * frames (a placer is not a viewer; the viewers are the N below).
 * N viewers on WebSockets; `--timing` of them time every pixel from the placement's send to its frame.
 * Placers and viewers are the C harness (bench/_players-epoll.c, built with gcc; ~15-20 µs a placement) by
 * default; `--harness node` runs them as `ws` sockets in this process (~50 µs a placement, ~20× more per
 * viewer frame: on core 1 they, not the server, set the rate and the delivery times).
 * The server runs as a child pinned to core 0 (`taskset -c 0`): `dev` is every role in one process, as
 * `npm start` (bench/_players-server.ts); `edge` is the production edge role alone. This process (the load
 * generator) pins itself to core 1, and so do the nats-server, redis-server and Postgres the run starts
 * for itself in a temporary directory, as the issue's load shape has them. `--shared-services` uses the
 * machine's (NATS_URL, REDIS_URL, DATABASE_URL) instead: not ours to re-pin, and their CPU, read from /proc
 * by pid, includes whatever else uses them.
 * Prints accepted/s, place RTT and delivery percentiles, early closes of fresh viewer sockets, and CPU µs
 * per placement per process, with the issue's floors as the same-line reference.
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import WebSocket from 'ws';
import { VIEW_TILE_SIZE } from '../proto/tile-frames.ts';
import { startLocalNats, startLocalPostgres, startLocalRedis } from '../src/adapters/services/local.ts';
import { namesFor } from '../src/domain/names.ts';
import { cleanupCanvas } from '../test/helpers/isolation.ts';
import { startHarnesses, type Harness } from './_fanout-harness.ts';
import { startCPlacers } from './_players-placers.ts';
import { Samples } from './_samples.ts';

const { values: args } = parseArgs({
  options: {
    server: { type: 'string', default: 'dev' },
    placers: { type: 'string', default: '32' },
    viewers: { type: 'string', default: '0' },
    timing: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '15' },
    // 400: with the 1 s cooldown a placer needs a little more guests than its rate (it grows under a tenth ready):
    // at 10,000/s that is ~350 each. Growing while measuring costs the server an upgrade and a tile snapshot
    // (64 KiB) per new socket: with 160 it took ~18 % of the server's CPU at 7,000/s.
    identities: { type: 'string', default: '400' },
    'max-identities': { type: 'string', default: '18000' },
    port: { type: 'string', default: '21500' },
    'cpu-prof': { type: 'string' },
    'count-async': { type: 'boolean', default: false },
    /** Fresh viewers of the C harness (bench/_fanout-epoll.c) connected in batches of 200 during the measurement, `since` a recent sequence: counts the edge's unasked closes (issue 13, defect 1). */
    fresh: { type: 'string', default: '0' },
    /**
     * The machine's NATS, Redis and Postgres instead of a nats-server, a redis-server and a Postgres of the run's
     * own pinned to core 1 beside the load generator (the issue's load shape; the shared ones are not ours to
     * re-pin, and their CPU includes others' work).
     */
    'shared-services': { type: 'boolean', default: false },
    /**
     * The placers: `c` (bench/_players-epoll.c, a few µs a placement) or `node` (`ws` sockets in this process,
     * ~50 µs a placement: on core 1 beside the services it, not the server, set the rate).
     */
    harness: { type: 'string', default: 'c' },
  },
});
const count = (
  name: 'placers' | 'viewers' | 'timing' | 'seconds' | 'identities' | 'max-identities' | 'port' | 'fresh',
  min: number,
): number => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) {
    process.stderr.write(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(args[name])}\n`);
    process.exit(2);
  }
  return n;
};
if (args.harness !== 'c' && args.harness !== 'node') {
  process.stderr.write(`--harness must be c or node, got ${JSON.stringify(args.harness)}\n`);
  process.exit(2);
}
if (args.server !== 'dev' && args.server !== 'edge') {
  process.stderr.write(`--server must be dev or edge, got ${JSON.stringify(args.server)}\n`);
  process.exit(2);
}
const PLACERS = count('placers', 1);
const VIEWERS = count('viewers', 0);
const TIMING = Math.min(VIEWERS, count('timing', 0));
const SECONDS = count('seconds', 3);
const IDENTITIES = count('identities', 1);
const MAX_IDENTITIES = Math.max(PLACERS * IDENTITIES, count('max-identities', 1));
const PORT = count('port', 1);
const FRESH = count('fresh', 0);
/** At least this warm-up, then until no placer opened guests for `SETTLED_MS` (at most `WARMUP_MAX_MS`). */
const WARMUP_MS = 5_000;
const SETTLED_MS = 2_000;
const WARMUP_MAX_MS = 30_000;
const SIZE = 1000;
/** Where a placer's sockets look (tile 0: x, y < VIEW_TILE_SIZE); no placement lands there. */
const PLACER_VIEW = '0,0,1,1';

const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '–';
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const TICK_US = 1_000_000 / 100; // CLK_TCK
/** utime + stime (µs) of each of the processes `pids` that still exists. */
function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(pid, (Number(fields[11]) + Number(fields[12])) * TICK_US);
    } catch {
      // gone
    }
  }
  return out;
}
/** CPU used between two readings by the processes present in both (a Postgres backend may come and go). */
function cpuUsed(before: Map<number, number>, after: Map<number, number>): number {
  let used = 0;
  for (const [pid, at] of after) if (before.has(pid)) used += at - before.get(pid)!;
  return used;
}
function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) out.push(Number(entry));
    } catch {
      // not ours to read
    }
  }
  return out;
}

/**
 * The `comm` process serving `port` (a `-p`/`--port` argument, or `:<port>` in its title as redis-server shows
 * it); every `comm` process when none says so (then others' servers count too).
 */
function serverPids(comm: string, port: number): { pids: number[]; matched: boolean } {
  const all = pidsNamed(comm);
  const onPort = all.filter((pid) => {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return argv.some(
        (a, i) => ((a === '-p' || a === '--port') && argv[i + 1] === String(port)) || a.endsWith(`:${port}`),
      );
    } catch {
      return false;
    }
  });
  return onPort.length > 0 ? { pids: onPort, matched: true } : { pids: all, matched: false };
}
const portOf = (url: string, fallback: number) => Number(new URL(url).port || fallback);

/** Read and write system calls (`syscr` + `syscw` of /proc/<pid>/io; sockets' recv/send are not counted). */
function syscallsOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    try {
      const io = readFileSync(`/proc/${pid}/io`, 'utf8');
      const r = Number(/syscr: (\d+)/.exec(io)?.[1] ?? 0);
      const w = Number(/syscw: (\d+)/.exec(io)?.[1] ?? 0);
      out.set(pid, r + w);
    } catch {
      // gone or not ours
    }
  }
  return out;
}

/** Busy and total jiffies of each CPU (/proc/stat `cpuN` lines). */
function coreTimes(): { busy: number; total: number }[] {
  const out: { busy: number; total: number }[] = [];
  for (const line of readFileSync('/proc/stat', 'utf8').split('\n')) {
    const m = /^cpu(\d+) (.*)$/.exec(line);
    if (!m) continue;
    const f = m[2]!.trim().split(/\s+/).map(Number);
    const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest (already in user)
    out[Number(m[1])] = { busy: total - idle, total };
  }
  return out;
}

/** Which core each process was last seen on (/proc/<pid>/stat field 39), counted per sample. */
function sampleCores(pids: readonly number[], counts: Map<number, number[]>): void {
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      const core = Number(fields[36]);
      const c = counts.get(pid) ?? [];
      c[core] = (c[core] ?? 0) + 1;
      counts.set(pid, c);
    } catch {
      // gone
    }
  }
}

/** The `--count-async` preload's counts (bench/_async-count.ts), per placement, largest first. */
function asyncCounts(placements: number): string {
  let counts: Record<string, number>;
  try {
    counts = JSON.parse(readFileSync(asyncCountFile, 'utf8')) as Record<string, number>;
    rmSync(asyncCountFile, { force: true });
  } catch (error) {
    return `not written (${(error as Error).message})`;
  }
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]) => `${type} ${fmt(n / Math.max(1, placements), 2)}`)
    .join(', ');
}

// Our own process only: the load generator on core 1 (the server child gets core 0 below).
execFileSync('taskset', ['-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });

const own = args['shared-services'] ? null : await startOwnServices(PORT + 1);
const NATS_URL = own?.nats.url ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = own?.redis.url ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const DATABASE_URL = own?.postgres.url ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Unless `--shared-services`: JetStream, Redis and Postgres in a temporary directory, on ports after the server's, on core 1. */
async function startOwnServices(firstPort: number) {
  const dir = mkdtempSync(join(tmpdir(), 'rplace-players-'));
  const onCore1 = ['taskset', '-c', '1'];
  const nats = await startLocalNats({
    port: firstPort,
    storeDir: join(dir, 'nats'),
    logFile: join(dir, 'nats.log'),
    prefix: onCore1,
  });
  const redis = await startLocalRedis({
    port: firstPort + 1,
    dir: join(dir, 'redis'),
    logFile: join(dir, 'redis.log'),
    prefix: onCore1,
  }).catch(async (error: unknown) => {
    await nats.stop();
    throw error;
  });
  // initdb and the server run as the `postgres` user when we are root: it must reach its data directory.
  chmodSync(dir, 0o755);
  const postgres = await startLocalPostgres({
    port: firstPort + 2,
    dataDir: join(dir, 'postgres'),
    database: 'test',
    prefix: onCore1,
  }).catch(async (error: unknown) => {
    await Promise.all([nats.stop(), redis.stop()]);
    throw error;
  });
  say(`own services on core 1: ${nats.url}, ${redis.url}, ${postgres.url} (${dir})`);
  return {
    nats,
    redis,
    postgres,
    stop: async () => {
      await Promise.all([nats.stop(), redis.stop(), postgres.stop()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const canvasId = `hperf_${randomBytes(4).toString('hex')}`;
const names = namesFor(canvasId);
const url = `http://127.0.0.1:${PORT}`;

/** The stream's consumers, by kind: how many deliver each event (issue 13: one per role and process). */
async function streamConsumers(): Promise<string> {
  const nc = await connect({ servers: NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const found: string[] = [];
    for await (const c of jsm.consumers.list(names.stream))
      found.push(
        `${c.name} (${c.config.durable_name ? 'durable' : 'ephemeral'}, ack ${c.config.ack_policy}, ${c.config.mem_storage ? 'memory' : 'file'})`,
      );
    return `${found.length} consumer(s): ${found.join(', ')}`;
  } catch (error) {
    return `consumers not listed: ${(error as Error).message}`;
  } finally {
    await nc.close();
  }
}
/** The server's `rplace_append_latency_seconds{result="ok"}` buckets (le → count), or null without /metrics. */
async function appendBuckets(): Promise<Map<number, number> | null> {
  try {
    const text = await (await fetch(`${url}/metrics`)).text();
    const out = new Map<number, number>();
    for (const m of text.matchAll(/^rplace_append_latency_seconds_bucket\{([^}]*)\} (\d+)$/gm)) {
      const labels = m[1]!;
      const le = /(?:^|,)le="([^"]+)"/.exec(labels)?.[1];
      if (le === undefined || !/(?:^|,)result="ok"/.test(labels)) continue;
      out.set(le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le), Number(m[2]));
    }
    return out.size > 0 ? out : null;
  } catch {
    return null;
  }
}

/** The bucket bound (ms) under which `p` % of the appends between `before` and `after` acked. */
function bucketPercentile(before: Map<number, number>, after: Map<number, number>, p: number): string {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const total = (after.get(Number.POSITIVE_INFINITY) ?? 0) - (before.get(Number.POSITIVE_INFINITY) ?? 0);
  for (const le of bounds)
    if ((after.get(le) ?? 0) - (before.get(le) ?? 0) >= (p / 100) * total)
      return le === Number.POSITIVE_INFINITY ? '> max' : `≤ ${fmt(le * 1000, 1)}`;
  return '–';
}

const entry = args.server === 'dev' ? 'bench/_players-server.ts' : 'src/roles/edge/main.ts';
const nodeArgs = [
  '--import',
  'tsx',
  ...(args['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', args['cpu-prof']] : []),
  ...(args['count-async'] ? ['--import', './bench/_async-count.ts'] : []),
  entry,
];
const asyncCountFile = `/tmp/rplace-async-count-${process.pid}.json`;
const child = spawn('taskset', ['-c', '0', process.execPath, ...nodeArgs], {
  env: {
    ...process.env,
    PORT: String(PORT),
    HOST: '127.0.0.1',
    RPLACE_ASYNC_COUNT_FILE: asyncCountFile,
    CANVAS_ID: canvasId,
    CANVAS_WIDTH: String(SIZE),
    CANVAS_HEIGHT: String(SIZE),
    COOLDOWN_SECONDS: '1',
    LOG_LEVEL: 'warn',
    SESSION_SECRET: 'bench-players-secret-bench-players-secret-0',
    ALLOW_GUEST_PLACEMENT: '1',
    // Every placer has its own address; its guests rotate so the 1 s cooldown never holds it up.
    GUEST_COOLDOWN_PER_IP: '0',
    WS_MAX_CONNECTIONS_PER_IP: '100000',
    PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '1000000',
    PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: '1000000',
    NATS_URL,
    REDIS_URL,
    DATABASE_URL,
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let childOutput = '';
child.stdout.on('data', (d: Buffer) => (childOutput += d.toString()));
child.stderr.on('data', (d: Buffer) => (childOutput += d.toString()));
const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

const stop = async () => {
  if (child.exitCode === null) child.kill('SIGTERM');
  await Promise.race([exited, sleep(15_000)]);
  if (child.exitCode === null) child.kill('SIGKILL');
  // Own services go with their directory; on the shared ones the canvas's stream, keys and schema are removed.
  if (own) await own.stop();
  else await cleanupCanvas(names).catch((e: unknown) => say(`cleanup failed: ${(e as Error).message}`));
};

try {
  const deadline = Date.now() + 120_000;
  while (
    !(await fetch(`${url}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`server not ready: ${childOutput.slice(-2000)}`);
    await sleep(200);
  }
  // The node process itself (taskset execs it: same pid).
  const serverPid = child.pid!;
  say(
    `players: --server ${args.server} (pid ${serverPid}, core 0), ${PLACERS} placers from ${IDENTITIES} guests each (growing), ${VIEWERS} viewers (${TIMING} timing), ${SECONDS} s after a warm-up of ≥ ${WARMUP_MS / 1000} s; load ${load()}`,
  );

  const wsUrl = `${url.replace('http', 'ws')}/ws?v=1`;
  const rtt = new Samples();
  const delivery = new Samples();
  /** sentAt by sequence, for delivery timing (index seq - 1; grown as needed). */
  let sentAt = new Float64Array(1 << 20);
  let measuring = false;
  const recordSent = (seq: number, at: number) => {
    while (seq > sentAt.length) {
      const bigger = new Float64Array(sentAt.length * 2);
      bigger.set(sentAt);
      sentAt = bigger;
    }
    sentAt[seq - 1] = at;
  };
  let accepted = 0;
  let refused = 0;
  let waited = 0;
  let earlyCloses = 0;
  let closing = false;

  // Viewers first, so their welcome is not mixed with the placers' start.
  const timingFrames: { first: number; last: number; at: number }[][] = [];
  const viewers: WebSocket[] = [];
  // With the C harness its process holds the viewers too (a Node `ws` viewer costs ~20× more: at 1,000
  // viewers they took half of core 1 and their own read latency showed in the delivery times).
  for (let v = 0; v < (args.harness === 'c' ? 0 : VIEWERS); v++) {
    const frames: { first: number; last: number; at: number }[] = [];
    const timing = v < TIMING;
    if (timing) timingFrames.push(frames);
    const ws = new WebSocket(wsUrl, { perMessageDeflate: false, localAddress: `127.0.1.${1 + (v % 250)}` });
    ws.binaryType = 'arraybuffer';
    ws.on('message', (data: ArrayBuffer, isBinary) => {
      if (!timing || !isBinary || !measuring) return;
      const view = new DataView(data);
      if (view.getUint8(1) === 1)
        frames.push({
          first: view.getFloat64(2, true),
          last: view.getFloat64(10, true),
          at: performance.timeOrigin + performance.now(),
        });
    });
    ws.on('close', () => {
      if (!closing) earlyCloses++;
    });
    ws.on('error', () => undefined);
    viewers.push(ws);
    if (v % 200 === 199) await sleep(50);
  }

  interface Guest {
    ws: WebSocket;
    readyAt: number;
    open: boolean;
  }
  const placerUrl = `${wsUrl}&view=${PLACER_VIEW}`;
  let identities = 0;
  let lastGrowth = performance.now();
  const cPlacers =
    args.harness === 'c'
      ? await startCPlacers(
          {
            port: PORT,
            placers: PLACERS,
            identities: IDENTITIES,
            maxIdentities: MAX_IDENTITIES,
            size: SIZE,
            tile: VIEW_TILE_SIZE,
            view: PLACER_VIEW,
            viewers: VIEWERS,
            timing: TIMING,
          },
          recordSent,
        )
      : null;
  const placers = Array.from({ length: cPlacers ? 0 : PLACERS }, (_, p) => {
    const guests: Guest[] = [];
    let inFlight: { requestId: string; at: number; guest: Guest } | null = null;
    let n = 0;
    /** Guests opened and not welcomed yet: a placer grows again only once its last batch is in. */
    let opening = 0;
    let timer: NodeJS.Timeout | null = null;
    const wake = () => {
      timer = null;
      next();
    };
    const next = () => {
      if (closing || inFlight) return;
      const now = Date.now();
      let best: Guest | undefined;
      let ready = 0;
      for (const g of guests)
        if (g.open) {
          if (g.readyAt <= now) ready++;
          if (!best || g.readyAt < best.readyAt) best = g;
        }
      if (!best) return;
      // Running low (under a tenth ready): open more before the placer has to wait.
      if (opening === 0 && ready * 10 < guests.length) grow(Math.max(8, guests.length >> 2));
      if (best.readyAt > now) {
        if (timer) return;
        if (measuring) waited++;
        timer = setTimeout(wake, best.readyAt - now);
        return;
      }
      const requestId = `p${p}-${++n}`;
      inFlight = { requestId, at: performance.now(), guest: best };
      const i = p * 7919 + n * 104729;
      let x = i % SIZE;
      const y = Math.floor(i / SIZE) % SIZE;
      if (x < VIEW_TILE_SIZE && y < VIEW_TILE_SIZE) x += VIEW_TILE_SIZE; // never in the placers' own tile
      best.ws.send(JSON.stringify({ type: 'place', x, y, color: n % 32, requestId }));
    };
    const grow = (more: number) => {
      const k = Math.min(more, MAX_IDENTITIES - identities);
      if (k <= 0) return;
      identities += k;
      opening += k;
      lastGrowth = performance.now();
      for (let g = 0; g < k; g++) open();
    };
    const open = () => {
      const ws = new WebSocket(placerUrl, { perMessageDeflate: false, localAddress: `127.0.0.${10 + p}` });
      const guest: Guest = { ws, readyAt: 0, open: false };
      guests.push(guest);
      let welcomed = false;
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const m = JSON.parse(String(data)) as {
          type: string;
          requestId?: string;
          seq?: number;
          nextPlacement?: number;
          remainingSeconds?: number;
        };
        if (m.type === 'welcome') {
          welcomed = true;
          opening--;
          guest.open = true;
          guest.readyAt = Date.now() + (m as { cooldownRemaining?: number }).cooldownRemaining! * 1000;
          return next();
        }
        if (!inFlight || m.requestId !== inFlight.requestId) return;
        const done = performance.now();
        if (measuring) rtt.push(done - inFlight.at);
        if (m.type === 'success') {
          if (measuring) accepted++;
          guest.readyAt = m.nextPlacement!;
          recordSent(m.seq!, performance.timeOrigin + inFlight.at);
        } else {
          if (measuring) refused++;
          guest.readyAt = Date.now() + (m.remainingSeconds ?? 1) * 1000;
        }
        inFlight = null;
        next();
      });
      ws.on('close', () => {
        guest.open = false;
        if (!welcomed) {
          welcomed = true;
          opening--;
        }
      });
      ws.on('error', () => undefined);
    };
    grow(IDENTITIES);
    return guests;
  });

  const warmupStart = performance.now();
  await sleep(WARMUP_MS);
  const settled = async () =>
    cPlacers ? (await cPlacers.status()).sinceGrowthMs >= SETTLED_MS : performance.now() - lastGrowth >= SETTLED_MS;
  while (!(await settled()) && performance.now() - warmupStart < WARMUP_MAX_MS) await sleep(250);
  if (cPlacers) identities = (await cPlacers.status()).identities;
  const nats = serverPids('nats-server', portOf(NATS_URL, 4222));
  const redisServer = serverPids('redis-server', portOf(REDIS_URL, 6379));
  for (const [comm, found] of [
    ['nats-server', nats],
    ['redis-server', redisServer],
  ] as const)
    if (!found.matched) say(`no ${comm} found by its port: counting every ${comm} (${found.pids.length})`);
  const consumers = await streamConsumers();
  say(`stream ${names.stream}: ${consumers}`);
  const procs: Record<string, number[]> = {
    edge: [serverPid],
    'nats-server': nats.pids,
    'redis-server': redisServer.pids,
    postgres: pidsNamed('postgres'),
    'load generator': [process.pid],
    ...(cPlacers ? { 'C placers': [cPlacers.pid] } : {}),
  };
  const appendBefore = await appendBuckets();
  const cpuBefore = Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, cpuOf(pids)]));
  const callsBefore = Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, syscallsOf(pids)]));
  const coresBefore = coreTimes();
  const coreSamples = new Map<number, number[]>();
  const allPids = Object.values(procs).flat();
  const sampler = setInterval(() => sampleCores(allPids, coreSamples), 50);
  const started = performance.now();
  const identitiesAtStart = identities;
  measuring = true;
  await cPlacers?.measure();
  say(
    `measuring after ${fmt((started - warmupStart) / 1000, 1)} s of warm-up: ${fmt(identities)} guest sockets (${fmt(identities / PLACERS, 1)} a placer); load ${load()}`,
  );
  if (args['count-async']) child.kill('SIGUSR2');
  let fresh: Harness | undefined;
  if (FRESH > 0) {
    [fresh] = await startHarnesses('c', FRESH);
    let lastSeq = 1;
    for (let i = sentAt.length - 1; i >= 0; i--)
      if (sentAt[i]! > 0) {
        lastSeq = i + 1;
        break;
      }
    for (let done = 0; done < FRESH && performance.now() - started < SECONDS * 1000; done += 200) {
      await fresh!.connect(PORT, Math.min(200, FRESH - done), Math.max(1, lastSeq - 5), done, 0);
      await sleep(100);
    }
  }
  await sleep(Math.max(0, SECONDS * 1000 - (performance.now() - started)));
  measuring = false;
  const placed = await cPlacers?.report();
  const appendAfter = await appendBuckets();
  if (placed) {
    ({ accepted, refused, waited } = placed);
    identities = placed.identities;
  }
  const wallUs = (performance.now() - started) * 1000;
  const cpuAfter = Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, cpuOf(pids)]));
  const callsAfter = Object.fromEntries(Object.entries(procs).map(([k, pids]) => [k, syscallsOf(pids)]));
  const coresAfter = coreTimes();
  clearInterval(sampler);
  const acceptedInWindow = accepted;
  if (args['count-async']) {
    child.kill('SIGUSR2');
    // The server writes the counts when its (busy) event loop gets to the signal.
    for (let waitedMs = 0; waitedMs < 5_000 && !existsSync(asyncCountFile); waitedMs += 50) await sleep(50);
  }
  closing = true;
  for (const guests of placers) for (const g of guests) g.ws.close();
  await cPlacers?.close();

  for (const frames of timingFrames) {
    for (const f of frames)
      for (let seq = f.first; seq <= f.last; seq++) {
        const at = seq - 1 < sentAt.length ? sentAt[seq - 1]! : 0;
        if (at > 0) delivery.push(f.at - at);
      }
  }
  for (const ws of viewers) ws.close();
  if (fresh) {
    const r = await fresh.report();
    say(
      `fresh C-harness viewers: ${r.open} open, ${r.closed} closed by the edge, ${r.failed} failed; close codes ${JSON.stringify(r.closeCodes)}`,
    );
    fresh.kill();
  }

  const rate = accepted / (wallUs / 1e6);
  say(`load ${load()}`);
  say(
    `accepted/s ${fmt(rate)} (${fmt(accepted)} in ${fmt(wallUs / 1e6, 1)} s; refused ${refused}, placers waited for a guest ${waited} times, ${fmt(identities)} guest sockets at the end, ${fmt(identities - identitiesAtStart)} of them opened while measuring)`,
  );
  const [rttP50, rttP99] = placed ? [placed.rttP50Ms, placed.rttP99Ms] : [rtt.percentile(50), rtt.percentile(99)];
  say(`place RTT ms p50 ${fmt(rttP50, 1)} p99 ${fmt(rttP99, 1)} (${placed ? 'C placers' : 'Node placers'})`);
  // The server's part of it: from handing the event to JetStream until its ack (the edge's histogram).
  if (appendBefore && appendAfter)
    say(
      `  of which the JetStream append (server's histogram) ms p50 ${bucketPercentile(appendBefore, appendAfter, 50)} p99 ${bucketPercentile(appendBefore, appendAfter, 99)}`,
    );
  if (TIMING > 0 && placed)
    say(
      `delivery ms p50 ${fmt(placed.deliveryP50Ms, 1)} p99 ${fmt(placed.deliveryP99Ms, 1)} (${fmt(placed.deliverySamples)} samples, ${fmt(placed.untimed)} untimed; C viewers: ${placed.viewersOpen} open, ${placed.viewerCloses} closed by the server, ${fmt(placed.pixelsFrames)} pixels frames)`,
    );
  else if (TIMING > 0)
    say(
      `delivery ms p50 ${fmt(delivery.percentile(50), 1)} p99 ${fmt(delivery.percentile(99), 1)} (${fmt(delivery.length)} samples), viewer sockets closed early: ${earlyCloses}`,
    );
  let totalUs = 0;
  for (const k of Object.keys(procs)) {
    const used = cpuUsed(cpuBefore[k]!, cpuAfter[k]!);
    if (k !== 'load generator' && k !== 'C placers') totalUs += used;
    const pids = procs[k]!;
    const calls = cpuUsed(callsBefore[k]!, callsAfter[k]!);
    // Where its threads were seen running (sampled every 50 ms): share on core 1.
    let on1 = 0;
    let seen = 0;
    for (const pid of pids) {
      const c = coreSamples.get(pid) ?? [];
      on1 += c[1] ?? 0;
      seen += (c[0] ?? 0) + (c[1] ?? 0);
    }
    say(
      `cpu ${k.padEnd(14)} ${fmt(used / Math.max(1, accepted), 1).padStart(8)} µs/placement  (${fmt((100 * used) / wallUs)} % of a core${pids.length === 0 ? ', process not found' : ''}; ${fmt(calls / Math.max(1, accepted), 2)} read/write syscalls a placement; main thread seen on core 1 in ${seen > 0 ? fmt((100 * on1) / seen) : '–'} % of samples)`,
    );
  }
  say(
    `cores busy: ${coresAfter
      .map((c, i) => {
        const b = coresBefore[i];
        return b ? `core ${i} ${fmt((100 * (c.busy - b.busy)) / Math.max(1, c.total - b.total))} %` : '';
      })
      .filter(Boolean)
      .join(', ')} (whole machine, everyone's processes)`,
  );
  say(`cpu server side ${fmt(totalUs / Math.max(1, accepted), 1)} µs/placement (floor at 3,333/s: ≤ 120)`);
  if (args['count-async'])
    say(`async resources per placement (server, measured window): ${asyncCounts(acceptedInWindow)}`);
  const floor = args.server === 'dev' ? (VIEWERS === 0 ? 8_000 : 4_000) : 15_000;
  say(`vs the issue-13 floor for this point (${fmt(floor)}/s): ${fmt(rate / floor, 2)}×`);
} finally {
  await stop();
}
process.exit(0);
