/**
 * `npm run bench -- fanout [--clients 10000] [--rate 3333] [--seconds 15] [--window 50] [--per-worker 5000] [--sampled 200]`
 *
 * One edge (a child process running the real role) with N WebSocket clients spread over client worker
 * processes (`bench/_fanout-client.ts`: raw `node:net` sockets that only walk frame headers; `sampled`
 * clients in all also decode the pixels for latency and sequence gaps), while this process places pixels
 * at `rate`/s through the real command path (createPlacePixel → Redis cooldown → JetStream append). Then,
 * in the same run, the same clients connect to a bare uWS server (`bench/_fanout-bare.ts`) publishing
 * frames of the same size at the same window, while the same placements keep loading the machine: the
 * baseline. Prints latency p50/p99/max, deliveries/s, CPU per delivered frame for both, their ratio, the
 * harness's own CPU per frame, and the edge's RSS per connection.
 */
import { cpuSeconds, rssBytes, waitFor } from './_process.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { createRedisCooldownStore } from '../src/adapters/redis/cooldown-store.ts';
import { createPlacePixel } from '../src/app/place-pixel.ts';
import { systemClock } from '../src/app/ports.ts';
import { namesFor } from '../src/config/names.ts';
import { PALETTE_32 } from '../src/domain/palette.ts';
import { deleteRedisKeys } from '../test/helpers/isolation.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '15' },
    window: { type: 'string', default: '50' },
    'per-worker': { type: 'string', default: '5000' },
    sampled: { type: 'string', default: '200' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOW = Number(values.window);
// 20,000 descriptors per process here; 5,000 sockets per worker keeps each worker's read loop short.
const PER_WORKER = Math.max(1, Math.min(5_000, Number(values['per-worker'])));
const SAMPLE_EVERY = Math.max(1, Math.floor(CLIENTS / Math.max(1, Number(values.sampled))));
const MOD = 4_000_000;
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

const canvasId = `t_benchfanout_${randomBytes(4).toString('hex')}`;
const names = namesFor(canvasId);
const log = (line: string) => process.stdout.write(`${line}\n`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Report {
  cpuSeconds: number;
  frames: number;
  bytes: number;
  reads: number;
  samples: number;
  sampledFrames: number;
  gaps: number;
  closed: number;
  failed: number;
  open: number;
  minClientFrames: number;
  medianClientFrames: number;
  histogram: number[];
}
function percentile(histogram: number[], total: number, p: number): number {
  let seen = 0;
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms] ?? 0;
    if (seen >= total * p) return ms;
  }
  return histogram.length - 1;
}
function summarize(reports: Report[]) {
  const histogram = new Array<number>(30_001).fill(0);
  const sum = (f: (r: Report) => number) => reports.reduce((a, r) => a + f(r), 0);
  for (const r of reports) r.histogram.forEach((n, i) => (histogram[i] = (histogram[i] ?? 0) + n));
  const samples = sum((r) => r.samples);
  let max = 0;
  histogram.forEach((n, i) => n > 0 && (max = i));
  return {
    frames: sum((r) => r.frames), bytes: sum((r) => r.bytes), reads: sum((r) => r.reads), samples, sampledFrames: sum((r) => r.sampledFrames),
    gaps: sum((r) => r.gaps), closed: sum((r) => r.closed), open: sum((r) => r.open), clientCpu: sum((r) => r.cpuSeconds),
    minClientFrames: Math.min(...reports.map((r) => r.minClientFrames)), medianClientFrames: Math.min(...reports.map((r) => r.medianClientFrames)),
    p50: percentile(histogram, samples, 0.5), p99: percentile(histogram, samples, 0.99), max,
  };
}

const workers: ChildProcess[] = [];
const children: ChildProcess[] = [];
async function startWorkers() {
  const count = Math.ceil(CLIENTS / PER_WORKER);
  for (let i = 0; i < count; i++) {
    const w = fork(here('./_fanout-client.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    workers.push(w);
    await waitFor(w, 'ready', 120_000);
  }
}
async function broadcast(message: object, reply: string): Promise<unknown[]> {
  const waits = workers.map((w) => waitFor(w, reply, 300_000));
  for (const w of workers) w.send(message);
  return Promise.all(waits);
}
async function connectClients(port: number, since: number) {
  const waits = workers.map((w) => waitFor(w, 'connected', 300_000));
  let left = CLIENTS;
  workers.forEach((w, i) => {
    const count = Math.min(PER_WORKER, left);
    left -= count;
    w.send({ cmd: 'connect', port, count, since, offset: i * PER_WORKER, sampleEvery: SAMPLE_EVERY });
  });
  const replies = (await Promise.all(waits)) as { open: number; failed: number }[];
  const failed = replies.reduce((a, r) => a + r.failed, 0);
  if (failed > 0) log(`warning: ${failed} of ${CLIENTS} clients failed to connect`);
}
async function measure(pid: number) {
  await broadcast({ cmd: 'reset' }, 'reset');
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const reports = (await broadcast({ cmd: 'report' }, 'report')) as Report[];
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const s = summarize(reports);
  // frames counts every binary frame received by every client (sampled or not).
  return { ...s, elapsed, cpu, deliveriesPerSecond: s.frames / elapsed, cpuPerFrameUs: (cpu / s.frames) * 1e6 };
}

type PlaceFn = ReturnType<typeof createPlacePixel>;
/** Places at RATE/s, open loop, until stopped; never a burst after a stall and never more than 5,000 in flight. */
function startPlacer(place: PlaceFn) {
  const stats = { placed: 0, failed: 0, inFlight: 0, failures: new Map<string, number>(), latencies: [] as number[] };
  let user = 0;
  let carry = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    carry += ((now - last) * RATE) / 1000;
    last = now;
    const count = Math.min(Math.floor(carry), Math.ceil(RATE / 20), 5000 - stats.inFlight);
    carry = Math.min(carry - Math.floor(carry), 1);
    for (let i = 0; i < count; i++) {
      stats.inFlight++;
      const code = Date.now() % MOD; // the start time, read back by the clients from the coordinates
      user = (user + 1) % 50_000;
      const startedAt = Date.now();
      place({ userId: `bench${user}`, requestId: `r${now}_${i}`, x: code % 2000, y: Math.floor(code / 2000), color: 1 + (i % 31) }).then(
        (o) => {
          stats.inFlight--;
          stats.latencies.push(Date.now() - startedAt);
          if (o.ok) stats.placed++;
          else {
            stats.failed++;
            stats.failures.set(o.code, (stats.failures.get(o.code) ?? 0) + 1);
          }
        },
        () => {
          stats.inFlight--;
          stats.failed++;
        },
      );
    }
  }, 10);
  return { stats, stop: () => clearInterval(timer) };
}

async function main() {
  log(`fanout: ${CLIENTS} clients (${Math.ceil(CLIENTS / PER_WORKER)} worker processes, 1 in ${SAMPLE_EVERY} sampled), ${RATE} placements/s, ${SECONDS} s measured, window ${WINDOW} ms, canvas ${canvasId}`);
  log(`machine: ${readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ')} load average at start`);
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-fanout');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-fanout');
  const env = {
    ...process.env, CANVAS_ID: canvasId, PORT: '0', HOST: '127.0.0.1', SESSION_SECRET: randomBytes(24).toString('hex'), COOLDOWN_SECONDS: '1',
    FLUSH_WINDOW_MS: String(WINDOW), LOG_LEVEL: 'warn', WS_MAX_BACKPRESSURE: String(1024 * 1024),
    // Every bench client connects from 127.0.0.1 as a guest: lift the per-address caps and the guest switch
    // meant for the public (src/config/auth.ts).
    ALLOW_GUEST_PLACEMENT: '1', GUEST_COOLDOWN_PER_IP: '0', WS_MAX_CONNECTIONS_PER_IP: '100000', PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '1000000', PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: '1000000',
    WS_RESYNCS_PER_IP_PER_MINUTE: '1000000',
  };
  // A random high port: PORT=0 would work, but the parent then has to learn the port from the edge's logs.
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const edgeProc = fork(here('../src/roles/edge/main.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...env, PORT: String(port) }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(edgeProc);
  const edgePid = edgeProc.pid ?? 0;
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300) throw new Error('edge did not become ready');
    await sleep(100);
  }
  const rssBefore = rssBytes(edgePid);
  await startWorkers();

  // Placements through the real command path, pipelined at RATE/s.
  const eventLog = createJetStreamEventLog(nc, names, { timeoutMs: 5000 });
  const place = createPlacePixel({
    spec: { width: 2000, height: 2000, palette: PALETTE_32 },
    cooldownSeconds: 1,
    cooldowns: createRedisCooldownStore(redis, names),
    log: eventLog,
    clock: systemClock,
  });
  // The edge's fixed cost, before any client: reading the stream and batching, at RATE/s.
  const idlePlacer = startPlacer(place);
  await sleep(2000);
  const idleCpu0 = cpuSeconds(edgePid);
  const idleT0 = Date.now();
  await sleep(4000);
  const fixedCores = (cpuSeconds(edgePid) - idleCpu0) / ((Date.now() - idleT0) / 1000);
  idlePlacer.stop();
  await sleep(1000);
  // Connect with no placements running, so every client's catch-up is (nearly) empty rather than a whole
  // canvas once the ring (65,536 events ≈ 20 s at 3,333/s) no longer reaches back to the first client's seq.
  const info = (await (await fetch(`http://127.0.0.1:${port}/api/v1/canvas/info`)).json()) as { seq: number };
  const connectStart = Date.now();
  await connectClients(port, info.seq);
  log(`edge: ${CLIENTS} clients connected in ${((Date.now() - connectStart) / 1000).toFixed(1)} s`);
  const placer = startPlacer(place);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await sleep(3000); // warm-up
  const rssDuring = rssBytes(edgePid);
  const placedBefore = placer.stats.placed;
  const loadEdge = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const edgeResult = await measure(edgePid);
  const placedRate = (placer.stats.placed - placedBefore) / edgeResult.elapsed;
  const edgeRss = rssBytes(edgePid);
  placer.stop();
  loopDelay.disable();
  const placeLatencies = placer.stats.latencies.sort((a, b) => a - b);
  await sleep(1000);
  await broadcast({ cmd: 'disconnect' }, 'disconnected');
  edgeProc.kill('SIGTERM');

  // Baseline: bare uWS, same clients, same frame sizes and window; the same placements keep running (into
  // the stream, now unread) so the machine carries the same load as in the edge phase.
  const bare = fork(here('./_fanout-bare.ts'), [], { execArgv: ['--import', 'tsx'], env: { ...process.env, WINDOW_MS: String(WINDOW), RATE: String(RATE), PORT: '0' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(bare);
  const { port: barePort } = await waitFor<{ port: number }>(bare, 'listening', 120_000);
  await connectClients(barePort, 0);
  const barePlacer = startPlacer(place);
  bare.send({ cmd: 'start' });
  await sleep(3000);
  const loadBare = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const bareResult = await measure(bare.pid ?? 0);
  bare.send({ cmd: 'stop' });
  barePlacer.stop();
  await sleep(500);
  await eventLog.close();

  const expected = CLIENTS * (1000 / WINDOW);
  const fmt = (r: typeof edgeResult) =>
    `latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms (${r.samples.toLocaleString('en')} pixels timed); ` +
    `${Math.round(r.deliveriesPerSecond).toLocaleString('en')} deliveries/s (${Math.round(r.bytes / r.elapsed / 1024).toLocaleString('en')} KiB/s, full rate ≈ ${Math.round(expected).toLocaleString('en')}/s); ` +
    `server CPU ${((r.cpu / r.elapsed) * 100).toFixed(0)}% of a core = ${r.cpuPerFrameUs.toFixed(2)} µs per delivered frame ` +
    `(${(r.bytes / Math.max(1, r.frames)).toFixed(0)} B average) = ${((r.cpu / r.bytes) * 1024 * 1e6).toFixed(2)} µs per delivered KiB\n` +
    `           clients: ${r.open}/${CLIENTS} open, ${r.closed} closed by the server, frames per client min ${r.minClientFrames} median ${r.medianClientFrames}, ` +
    `${r.gaps} sequence gaps in ${r.sampledFrames.toLocaleString('en')} sampled frames; harness ${((r.clientCpu / r.elapsed) * 100).toFixed(0)}% of a core ` +
    `(${((r.clientCpu / r.frames) * 1e6).toFixed(2)} µs per frame received, ${(r.reads / Math.max(1, r.frames)).toFixed(2)} reads per frame)`;
  log(`placement command (cooldown + append ack) during the edge phase: p50 ${placeLatencies[Math.floor(placeLatencies.length / 2)]} ms, p99 ${placeLatencies[Math.floor(placeLatencies.length * 0.99)]} ms`);
  log(`placements: ${placedRate.toFixed(0)}/s accepted during measurement (${placer.stats.failed} failed: ${JSON.stringify(Object.fromEntries(placer.stats.failures))}); bench event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`);
  log(`edge     (load ${loadEdge}): ${fmt(edgeResult)}`);
  log(`bare uWS (load ${loadBare}): ${fmt(bareResult)}`);
  const marginalUs = ((edgeResult.cpu / edgeResult.elapsed - fixedCores) * edgeResult.elapsed / edgeResult.frames) * 1e6;
  log(`edge fixed cost with no client (reading the stream at ${RATE}/s): ${(fixedCores * 100).toFixed(1)}% of a core; per delivered frame above that: ${marginalUs.toFixed(2)} µs`);
  log(`edge RSS: ${(edgeRss / 2 ** 20).toFixed(0)} MiB with ${CLIENTS} clients (${(rssBefore / 2 ** 20).toFixed(0)} MiB before) = ${((rssDuring - rssBefore) / CLIENTS / 1024).toFixed(1)} KiB per connection`);
  const ratio = edgeResult.cpuPerFrameUs / bareResult.cpuPerFrameUs;
  const ratioPerByte = edgeResult.cpu / edgeResult.bytes / (bareResult.cpu / bareResult.bytes);
  log(`ratio edge/bare CPU per delivered KiB: ${ratioPerByte.toFixed(2)} (frames of different sizes when a starved server batches more)`);
  log(`ratio edge/bare CPU per delivered frame: ${ratio.toFixed(2)} (floor ≤ 1.5); p99 ${edgeResult.p99} ms (floor ≤ 250; bare ${bareResult.p99} ms)`);
  const pass = ratio <= 1.5 && edgeResult.p99 <= 250 && edgeResult.gaps === 0;
  log(pass ? 'floors: PASS' : 'floors: FAIL');

  await jetstreamManager(nc).then((jsm) => jsm.streams.delete(names.stream)).catch(() => undefined);
  await deleteRedisKeys(redis, names);
  await nc.close();
  redis.disconnect();
}

const killChildren = () => {
  for (const w of workers) w.kill('SIGKILL');
  for (const c of children) c.kill('SIGKILL');
};
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killChildren();
    process.exit(130);
  });
}
try {
  await main();
} finally {
  killChildren();
}
process.exit(0);
