/**
 * `npm run bench -- fanout [--clients 10000] [--rate 3333] [--seconds 15] [--window 50] [--max-window M] [--groups G] [--bare-window W] [--harness c|node] [--per-process N] [--sampled 200] [--port P]`
 *
 * One edge (a child process running the real role) with N WebSocket clients held by harness processes
 * (`bench/_fanout-harness.ts`: `c` = the epoll client bench/_fanout-epoll.c, built with gcc, the default;
 * `node` = the reference bench/_fanout-client.ts), while this process places pixels at `rate`/s through the
 * real command path (createPlacePixel → Redis cooldown → JetStream append). Then, in the same run, the same
 * clients connect to a bare uWS server (`bench/_fanout-bare.ts`) publishing frames of the same size, while
 * the same placements keep loading the machine: the baseline. Same size means the same frames per client per
 * second as the edge delivered: a starved edge runs its cycles late (14.6 a second for a 50 ms window at
 * 10,000 clients), so its frames carry more pixels, and a bare server at the nominal window would be compared
 * per frame against smaller frames. The bare window is therefore the edge's measured frame interval
 * (`--bare-window W` fixes it instead, e.g. 50 for the nominal window). Prints latency p50/p99/max,
 * deliveries/s, CPU per delivered frame and per placement delivered to every client for both, their ratio,
 * the harness's own CPU per frame, sequence gaps and the edge's RSS per connection; and from the edge's own
 * /metrics over the measured seconds: its flush window, the synchronous cost of a flush cycle and its
 * event-loop delay (how long the loop was blocked, e.g. writing a frame to every socket).
 */
import { cpuSeconds, rssBytes } from './_process.ts';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { PER_PROCESS, startHarnesses, summarize, type Harness, type HarnessKind } from './_fanout-harness.ts';
import {
  benchCanvas,
  benchPlace,
  edgeSeq,
  sleep,
  startEdgeProcess,
  runBench,
  startBareProcess,
  startPlacer,
} from './_fanout-edge.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '15' },
    window: { type: 'string', default: '50' },
    // The bare baseline's window (ms); unset: the edge's measured interval between frames to one client.
    'bare-window': { type: 'string' },
    // FLUSH_WINDOW_MAX_MS of the edge (unset: the role's default, adaptive up to 250 ms; = window: fixed).
    'max-window': { type: 'string' },
    // SEND_GROUPS of the edge (unset: the role's default).
    groups: { type: 'string' },
    harness: { type: 'string', default: 'c' },
    'per-process': { type: 'string' },
    sampled: { type: 'string', default: '200' },
    port: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOW = Number(values.window);
const MAX_WINDOW = values['max-window'];
const GROUPS = values.groups;
const HARNESS = values.harness as HarnessKind;
if (HARNESS !== 'c' && HARNESS !== 'node') throw new Error('--harness is c or node');
const PER = Math.max(1, Math.min(PER_PROCESS[HARNESS], Number(values['per-process'] ?? PER_PROCESS[HARNESS])));
const SAMPLE_EVERY = Math.max(1, Math.floor(CLIENTS / Math.max(1, Number(values.sampled))));
// Edge on PORT, bare uWS on PORT + 1 (a random high port pair unless given).
const PORT = Number(values.port ?? 20_000 + Math.floor(Math.random() * 20_000));

const { canvasId, names } = benchCanvas('benchfanout');
const log = (line: string) => process.stdout.write(`${line}\n`);

let harnesses: Harness[] = [];
const children: ChildProcess[] = [];
async function connectClients(port: number, since: number) {
  let left = CLIENTS;
  const replies = await Promise.all(
    harnesses.map((h, i) => {
      const count = Math.min(PER, left);
      left -= count;
      return h.connect(port, count, since, i * PER, SAMPLE_EVERY);
    }),
  );
  const failed = replies.reduce((a, r) => a + r.failed, 0);
  if (failed > 0) log(`warning: ${failed} of ${CLIENTS} clients failed to connect`);
}
/** The edge's own figures (its /metrics) that explain its latency; scraping also resets its loop-delay histogram. */
async function edgeMetrics(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
  };
  return {
    windowMs: value('rplace_edge_flush_window_ms'),
    cycleSum: value('rplace_edge_flush_cycle_ms_sum'),
    cycles: value('rplace_edge_flush_cycle_ms_count'),
    loopP50Ms: value('rplace_process_nodejs_eventloop_lag_p50_seconds') * 1000,
    loopP99Ms: value('rplace_process_nodejs_eventloop_lag_p99_seconds') * 1000,
    loopMaxMs: value('rplace_process_nodejs_eventloop_lag_max_seconds') * 1000,
  };
}

async function measure(pid: number) {
  await Promise.all(harnesses.map((h) => h.reset()));
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const reports = await Promise.all(harnesses.map((h) => h.report()));
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(pid) - cpu0;
  const s = summarize(reports);
  // frames counts every binary frame received by every client (sampled or not).
  return { ...s, elapsed, cpu, deliveriesPerSecond: s.frames / elapsed, cpuPerFrameUs: (cpu / s.frames) * 1e6 };
}

async function main() {
  log(
    `fanout: ${CLIENTS} clients (${HARNESS} harness, ${Math.ceil(CLIENTS / PER)} processes, 1 in ${SAMPLE_EVERY} timed), ${RATE} placements/s, ${SECONDS} s measured, window ${WINDOW} ms (edge max ${MAX_WINDOW ?? 'default'}, send groups ${GROUPS ?? 'default'}), canvas ${canvasId}`,
  );
  log(
    `machine: ${readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ')} load average at start`,
  );
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-fanout');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-fanout');
  const edgeProc = await startEdgeProcess(canvasId, PORT, WINDOW, {
    ...(MAX_WINDOW ? { FLUSH_WINDOW_MAX_MS: MAX_WINDOW } : {}),
    ...(GROUPS ? { SEND_GROUPS: GROUPS } : {}),
  });
  children.push(edgeProc);
  const edgePid = edgeProc.pid ?? 0;
  const rssBefore = rssBytes(edgePid);
  harnesses = await startHarnesses(HARNESS, CLIENTS, PER);
  const { place, cleanup } = benchPlace(nc, redis, names);

  // The edge's fixed cost, before any client: reading the stream and batching, at RATE/s.
  const idlePlacer = startPlacer(place, RATE);
  await sleep(2000);
  const idleCpu0 = cpuSeconds(edgePid);
  const idleT0 = Date.now();
  await sleep(4000);
  const fixedCores = (cpuSeconds(edgePid) - idleCpu0) / ((Date.now() - idleT0) / 1000);
  idlePlacer.stop();
  await sleep(1000);
  // Connect with no placements running, so every client's catch-up is (nearly) empty rather than a whole
  // canvas once the ring (65,536 events ≈ 20 s at 3,333/s) no longer reaches back to the first client's seq.
  const connectStart = Date.now();
  await connectClients(PORT, await edgeSeq(PORT));
  log(`edge: ${CLIENTS} clients connected in ${((Date.now() - connectStart) / 1000).toFixed(1)} s`);
  const placer = startPlacer(place, RATE);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await sleep(3000); // warm-up
  const rssDuring = rssBytes(edgePid);
  const placedBefore = placer.stats.placed;
  const loadEdge = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const metricsBefore = await edgeMetrics(PORT);
  const edgeResult = await measure(edgePid);
  const metricsAfter = await edgeMetrics(PORT);
  const placedRate = (placer.stats.placed - placedBefore) / edgeResult.elapsed;
  const edgeRss = rssBytes(edgePid);
  placer.stop();
  loopDelay.disable();
  const placeLatencies = placer.stats.latencies.sort((a, b) => a - b);
  await sleep(1000);
  await Promise.all(harnesses.map((h) => h.disconnect()));
  edgeProc.kill('SIGTERM');

  // Baseline: bare uWS, same clients, same frame sizes and window; the same placements keep running (into
  // the stream, now unread) so the machine carries the same load as in the edge phase.
  const edgeFramesPerClientS = edgeResult.frames / CLIENTS / edgeResult.elapsed;
  const bareWindow = values['bare-window']
    ? Number(values['bare-window'])
    : Math.max(WINDOW, Math.round(1000 / Math.max(1, edgeFramesPerClientS)));
  log(
    `bare window: ${bareWindow} ms (${values['bare-window'] ? 'from --bare-window' : `the edge's measured frame interval: ${edgeFramesPerClientS.toFixed(1)} frames a second per client`})`,
  );
  const bare = await startBareProcess(PORT + 1, bareWindow, RATE);
  children.push(bare);
  await connectClients(PORT + 1, 0);
  const barePlacer = startPlacer(place, RATE);
  bare.send({ cmd: 'start' });
  await sleep(3000);
  const loadBare = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const bareResult = await measure(bare.pid ?? 0);
  bare.send({ cmd: 'stop' });
  barePlacer.stop();
  await sleep(500);

  const expected = CLIENTS * (1000 / WINDOW);
  const fmt = (r: typeof edgeResult, placements: number) =>
    `latency p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms (${r.samples.toLocaleString('en')} pixels timed); ` +
    `${Math.round(r.deliveriesPerSecond).toLocaleString('en')} deliveries/s (${Math.round(r.bytes / r.elapsed / 1024).toLocaleString('en')} KiB/s, full rate ≈ ${Math.round(expected).toLocaleString('en')}/s); ` +
    `server CPU ${((r.cpu / r.elapsed) * 100).toFixed(0)}% of a core = ${r.cpuPerFrameUs.toFixed(2)} µs per delivered frame ` +
    `(${(r.bytes / Math.max(1, r.frames)).toFixed(0)} B average) = ${((r.cpu / r.bytes) * 1024 * 1e6).toFixed(2)} µs per delivered KiB = ` +
    `${((r.cpu / (placements * r.elapsed)) * 1e6).toFixed(0)} µs per placement delivered to all ${CLIENTS} clients\n` +
    `           clients: ${r.open}/${CLIENTS} open, ${r.closed} closed by the server, frames per client min ${r.minClientFrames} median ${r.medianClientFrames}, ` +
    `${r.gaps} sequence gaps in ${r.checkedFrames.toLocaleString('en')} checked frames; harness ${((r.clientCpu / r.elapsed) * 100).toFixed(0)}% of a core ` +
    `(${((r.clientCpu / r.frames) * 1e6).toFixed(2)} µs per frame received, ${((r.clientUserCpu / r.frames) * 1e6).toFixed(2)} of them in user space, ${(r.reads / Math.max(1, r.frames)).toFixed(2)} reads per frame)`;
  log(
    `placement command (cooldown + append ack) during the edge phase: p50 ${placeLatencies[Math.floor(placeLatencies.length / 2)]} ms, p99 ${placeLatencies[Math.floor(placeLatencies.length * 0.99)]} ms`,
  );
  log(
    `placements: ${placedRate.toFixed(0)}/s accepted during measurement (${placer.stats.failed} failed: ${JSON.stringify(Object.fromEntries(placer.stats.failures))}); bench event-loop delay p50 ${(loopDelay.percentile(50) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
  );
  log(`edge     (load ${loadEdge}): ${fmt(edgeResult, placedRate)}`);
  log(`bare uWS (load ${loadBare}): ${fmt(bareResult, RATE)}`);
  const marginalUs =
    (((edgeResult.cpu / edgeResult.elapsed - fixedCores) * edgeResult.elapsed) / edgeResult.frames) * 1e6;
  log(
    `edge fixed cost with no client (reading the stream at ${RATE}/s): ${(fixedCores * 100).toFixed(1)}% of a core; per delivered frame above that: ${marginalUs.toFixed(2)} µs`,
  );
  log(
    `edge RSS: ${(edgeRss / 2 ** 20).toFixed(0)} MiB with ${CLIENTS} clients (${(rssBefore / 2 ** 20).toFixed(0)} MiB before) = ${((rssDuring - rssBefore) / CLIENTS / 1024).toFixed(1)} KiB per connection`,
  );
  const cycles = metricsAfter.cycles - metricsBefore.cycles;
  log(
    `edge internals over the measured ${edgeResult.elapsed.toFixed(1)} s: flush window ${metricsAfter.windowMs} ms at the end; ` +
      `${cycles} flush cycles (${(cycles / edgeResult.elapsed).toFixed(1)}/s), ${((metricsAfter.cycleSum - metricsBefore.cycleSum) / Math.max(1, cycles)).toFixed(2)} ms synchronous each; ` +
      `event-loop delay p50 ${metricsAfter.loopP50Ms.toFixed(0)} / p99 ${metricsAfter.loopP99Ms.toFixed(0)} / max ${metricsAfter.loopMaxMs.toFixed(0)} ms; ` +
      `frames per client per second: edge ${(edgeResult.frames / CLIENTS / edgeResult.elapsed).toFixed(1)}, bare ${(bareResult.frames / CLIENTS / bareResult.elapsed).toFixed(1)}`,
  );
  const ratio = edgeResult.cpuPerFrameUs / bareResult.cpuPerFrameUs;
  const ratioPerByte = edgeResult.cpu / edgeResult.bytes / (bareResult.cpu / bareResult.bytes);
  const sizeRatio =
    edgeResult.bytes / Math.max(1, edgeResult.frames) / (bareResult.bytes / Math.max(1, bareResult.frames));
  log(
    `ratio edge/bare CPU per delivered KiB: ${ratioPerByte.toFixed(2)}; average frame size edge/bare: ${sizeRatio.toFixed(2)} (the per-frame ratio compares like with like near 1.00)`,
  );
  log(
    `ratio edge/bare CPU per delivered frame: ${ratio.toFixed(2)} (floor ≤ 1.1); p99 ${edgeResult.p99} ms (floor ≤ 150; bare ${bareResult.p99} ms)`,
  );
  const pass = ratio <= 1.1 && edgeResult.p99 <= 150 && edgeResult.gaps === 0 && bareResult.gaps === 0;
  log(pass ? 'floors: PASS' : 'floors: FAIL');

  await cleanup();
}

await runBench(main, () => harnesses, children);
