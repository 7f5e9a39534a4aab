/**
 * The fan-out benchmarks' client harnesses behind one interface: `c` (bench/_fanout-epoll.c, one epoll thread
 * per process, compiled here with the machine's gcc into bench/.build/) and `node` (bench/_fanout-client.ts,
 * the reference: raw `node:net` sockets, ~9 µs of CPU per frame). Both report the same counters.
 */
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './_process.ts';

export type HarnessKind = 'c' | 'node';

export interface HarnessReport {
  cpuSeconds: number;
  /** The user-space part of `cpuSeconds` (`c` only; the rest is the kernel's reads). */
  userSeconds?: number;
  frames: number;
  bytes: number;
  reads: number;
  samples: number;
  sampledFrames: number;
  /** Pixels frames whose sequences were checked (every client with `c`, sampled ones with `node`). */
  checkedFrames: number;
  gaps: number;
  closed: number;
  failed: number;
  open: number;
  minClientFrames: number;
  medianClientFrames: number;
  /** Latency histogram, 1 ms buckets, last = ≥ 30 s. */
  histogram: number[];
  // Reconnect storms (`c` only): full canvases received, clients resumed and when (ms after their drop).
  canvases: number;
  resumed: number;
  resumeGaps: number;
  notResumed: number;
  attempts: number;
  failedAttempts: number;
  resumeHistogram: number[];
  /** When the last client resumed (ms since the epoch, 0 = none since the reset). */
  lastResumedAt: number;
  /** Sockets closed by the server, by WebSocket close code (0 = dropped without a close frame). */
  closeCodes: [number, number][];
  maxRssKiB: number;
  // Zoomed-in clients (`c` only): `tilePixels` frames checked (also in `checkedFrames`), `tile` snapshots,
  // frames for a tile never snapshotted, and frames already covered by a snapshot (skipped, as allowed).
  tileFrames?: number;
  tileSnapshots?: number;
  strayTiles?: number;
  staleTiles?: number;
}

/** A zoomed-in viewer: each client shows one `width`×`height` rectangle at a random place of a `side`² canvas. */
export interface HarnessView {
  readonly width: number;
  readonly height: number;
  readonly side: number;
}

export interface Harness {
  readonly pid: number;
  connect(
    port: number,
    count: number,
    since: number,
    offset: number,
    sampleEvery: number,
    view?: HarnessView,
  ): Promise<{ open: number; failed: number }>;
  /** From now on sampled clients time records by their color (`c` only; see "clock color" in bench/_fanout-epoll.c). */
  colorClock(): Promise<void>;
  /** From now on, a dropped client reconnects to `port` with backoff + jitter and `since` = its last sequence. */
  reconnectTo(port: number): Promise<void>;
  reset(): Promise<void>;
  report(): Promise<HarnessReport>;
  disconnect(): Promise<void>;
  kill(): void;
}

/** Largest number of clients one harness process holds (file descriptors: 20,000 per process here). */
export const PER_PROCESS: Record<HarnessKind, number> = { c: 19_500, node: 5_000 };

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const BUCKETS = 30_001;

function dense(sparse: [number, number][]): number[] {
  const out = new Array<number>(BUCKETS).fill(0);
  for (const [ms, n] of sparse) out[ms] = n;
  return out;
}

/** Compiles the C harness when the binary is missing or older than its source; returns its path. */
export function buildEpollClient(): string {
  return buildC('./_fanout-epoll.c', 'fanout-epoll');
}

/**
 * Compiles a C harness of bench/ (`source`, relative to it) into bench/.build/`name` when the binary is older
 * than it or than the header they share (bench/_harness.h); returns its path.
 */
export function buildC(sourceFile: string, name: string): string {
  const source = here(sourceFile);
  const binary = here(`./.build/${name}`);
  const newest = Math.max(statSync(source).mtimeMs, statSync(here('./_harness.h')).mtimeMs);
  if (!existsSync(binary) || statSync(binary).mtimeMs < newest) {
    mkdirSync(here('./.build'), { recursive: true });
    try {
      execFileSync('gcc', ['-O2', '-Wall', '-Wextra', '-Werror', '-o', binary, source], { stdio: 'inherit' });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      process.stderr.write(
        `the C harness (${sourceFile}) is built with gcc, which is not installed: apt-get install gcc, or run with --harness node\n`,
      );
      process.exit(2);
    }
  }
  return binary;
}

async function startEpollHarness(): Promise<Harness> {
  const child = spawn(buildEpollClient(), [], { stdio: ['pipe', 'pipe', 'inherit'] });
  const waiting: ((line: string) => void)[] = [];
  const lines = createInterface({ input: child.stdout });
  lines.on('line', (line) => waiting.shift()?.(line));
  const ask = (command: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`harness: no answer to ${command}`)), 300_000);
      waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
      child.stdin.write(`${command}\n`);
    });
  const ready = await new Promise<string>((resolve) => waiting.push(resolve));
  if (ready !== 'ready') throw new Error(`harness: unexpected ${ready}`);
  return {
    pid: child.pid ?? 0,
    async connect(port, count, since, offset, sampleEvery, view) {
      const viewArgs = view ? ` ${view.width} ${view.height} ${view.side}` : '';
      const [, open, failed] = (
        await ask(`connect ${port} ${count} ${since} ${offset} ${sampleEvery}${viewArgs}`)
      ).split(' ');
      return { open: Number(open), failed: Number(failed) };
    },
    reconnectTo: async (port) => void (await ask(`reconnect ${port}`)),
    colorClock: async () => void (await ask('clock color')),
    reset: async () => void (await ask('reset')),
    async report() {
      const r = JSON.parse(await ask('report')) as HarnessReport & {
        histogram: [number, number][];
        resumeHistogram: [number, number][];
      };
      return { ...r, histogram: dense(r.histogram), resumeHistogram: dense(r.resumeHistogram) };
    },
    disconnect: async () => void (await ask('disconnect')),
    kill: () => child.kill('SIGKILL'),
  };
}

async function startNodeHarness(): Promise<Harness> {
  const w: ChildProcess = fork(here('./_fanout-client.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await waitFor(w, 'ready', 120_000);
  const ask = <T>(message: object, reply: string) => {
    const wait = waitFor<T>(w, reply, 300_000);
    w.send(message);
    return wait;
  };
  return {
    pid: w.pid ?? 0,
    connect: (port, count, since, offset, sampleEvery, view) =>
      view
        ? Promise.reject(new Error('the node harness has no zoomed-in clients: use --harness c'))
        : ask({ cmd: 'connect', port, count, since, offset, sampleEvery }, 'connected'),
    reconnectTo: () => Promise.reject(new Error('the node harness does not reconnect: use --harness c')),
    colorClock: () => Promise.reject(new Error('the node harness has no color clock: use --harness c')),
    reset: async () => void (await ask({ cmd: 'reset' }, 'reset')),
    async report() {
      const r = await ask<Omit<HarnessReport, 'checkedFrames'>>({ cmd: 'report' }, 'report');
      return { ...r, checkedFrames: r.sampledFrames };
    },
    disconnect: async () => void (await ask({ cmd: 'disconnect' }, 'disconnected')),
    kill: () => w.kill('SIGKILL'),
  };
}

/** Enough harness processes of `kind` for `clients`, at most `perProcess` each. */
export async function startHarnesses(
  kind: HarnessKind,
  clients: number,
  perProcess = PER_PROCESS[kind],
): Promise<Harness[]> {
  const count = Math.ceil(clients / perProcess);
  const out: Harness[] = [];
  for (let i = 0; i < count; i++) out.push(await (kind === 'c' ? startEpollHarness() : startNodeHarness()));
  return out;
}

/** The p-th latency (ms) of a 1 ms histogram holding `total` samples. */
export function percentile(histogram: number[], total: number, p: number): number {
  let seen = 0;
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms] ?? 0;
    if (seen >= total * p) return ms;
  }
  return histogram.length - 1;
}

/** Sums the harnesses' reports; latency percentiles over every timed pixel. */
export function summarize(reports: HarnessReport[]) {
  const histogram = new Array<number>(BUCKETS).fill(0);
  const resume = new Array<number>(BUCKETS).fill(0);
  const sum = (f: (r: HarnessReport) => number) => reports.reduce((a, r) => a + (f(r) ?? 0), 0);
  for (const r of reports) {
    r.histogram.forEach((n, i) => (histogram[i] = (histogram[i] ?? 0) + n));
    r.resumeHistogram?.forEach((n, i) => (resume[i] = (resume[i] ?? 0) + n));
  }
  const samples = sum((r) => r.samples);
  const resumed = sum((r) => r.resumed);
  const maxOf = (h: number[]) => h.reduce((m, n, i) => (n > 0 ? i : m), 0);
  return {
    frames: sum((r) => r.frames),
    bytes: sum((r) => r.bytes),
    reads: sum((r) => r.reads),
    samples,
    sampledFrames: sum((r) => r.sampledFrames),
    checkedFrames: sum((r) => r.checkedFrames),
    gaps: sum((r) => r.gaps),
    closed: sum((r) => r.closed),
    open: sum((r) => r.open),
    clientCpu: sum((r) => r.cpuSeconds),
    clientUserCpu: sum((r) => r.userSeconds ?? Number.NaN),
    minClientFrames: Math.min(...reports.map((r) => r.minClientFrames)),
    medianClientFrames: Math.min(...reports.map((r) => r.medianClientFrames)),
    p50: percentile(histogram, samples, 0.5),
    p99: percentile(histogram, samples, 0.99),
    max: maxOf(histogram),
    canvases: sum((r) => r.canvases),
    tileFrames: sum((r) => r.tileFrames ?? 0),
    tileSnapshots: sum((r) => r.tileSnapshots ?? 0),
    strayTiles: sum((r) => r.strayTiles ?? 0),
    staleTiles: sum((r) => r.staleTiles ?? 0),
    resumed,
    resumeGaps: sum((r) => r.resumeGaps),
    notResumed: sum((r) => r.notResumed),
    attempts: sum((r) => r.attempts),
    failedAttempts: sum((r) => r.failedAttempts),
    closeCodes: Object.fromEntries([
      ...reports
        .flatMap((r) => r.closeCodes ?? [])
        .reduce((m, [code, n]) => m.set(code, (m.get(code) ?? 0) + n), new Map<number, number>()),
    ]),
    lastResumedAt: Math.max(0, ...reports.map((r) => r.lastResumedAt ?? 0)),
    resumeP50: percentile(resume, resumed, 0.5),
    resumeP99: percentile(resume, resumed, 0.99),
    resumeMax: maxOf(resume),
  };
}
