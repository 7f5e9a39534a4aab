/**
 * `npm run bench -- fanout-viewport [--clients 10000] [--rate 3333] [--seconds 10] [--window 50] [--view 200x150] [--zoomed 0.8] [--tile-window 200] [--port P]`
 *
 * Viewport subscriptions (issue 14, deliverable 3): two edges (the real role, child processes on PORT and
 * PORT + 1, one canvas) while pixels are placed at `rate`/s at uniformly random coordinates of the 2000×2000
 * canvas through the real command path. The clients are the C epoll harness (bench/_fanout-epoll.c): whole-canvas clients (no `view`) in one harness
 * process, zoomed-in clients (`?view=` of one `--view` rectangle at a random place each) in another, so each
 * class's bytes, frames, reads and harness CPU are counted apart. Edge A runs TILE_WINDOW_MS=0 (a tile frame
 * per published frame), edge B `--tile-window` (one frame per tile per window): the before and after of the
 * tile window in one run. Phases, each measured for `seconds`: no client (both edges' fixed cost, at once),
 * N whole-canvas clients on A (the same-run baseline), N zoomed-in clients on A then on B, and the mix
 * (N × (1 − zoomed) whole-canvas + N × zoomed zoomed-in) on A then on B. Every `pixels` frame of every
 * whole-canvas client and every `tilePixels` frame of every zoomed-in client is checked for sequence gaps
 * (per tile), and ~200 clients per class time every record by its color (the placer's color is its start time
 * in 50 ms slots: "clock color" in the harness). Prints, per phase, the edge's CPU above its fixed cost per
 * client, placement → receipt p50/p99 per class, the ratio to the
 * whole-canvas phase, and for the mix the measured CPU against the share-weighted sum of the pure phases;
 * plus the load average at each phase.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { cpuSeconds, rssBytes } from './_process.ts';
import { startHarnesses, summarize, type Harness, type HarnessView } from './_fanout-harness.ts';
import {
  benchCanvas,
  benchPlace,
  edgeSeq,
  randomCoordinates,
  runBench,
  sleep,
  startEdgeProcess,
  startPlacer,
} from './_fanout-edge.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '50' },
    view: { type: 'string', default: '200x150' },
    zoomed: { type: 'string', default: '0.8' },
    // FLUSH_WINDOW_MAX_MS of the edge (default: = window, a fixed window, so the phases compare alike).
    'max-window': { type: 'string' },
    'tile-window': { type: 'string', default: '200' },
    port: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOW = Number(values.window);
const ZOOMED = Number(values.zoomed);
const SIDE = 2000;
const [VIEW_W, VIEW_H] = (values.view as string).split('x').map(Number) as [number, number];
const VIEW: HarnessView = { width: VIEW_W, height: VIEW_H, side: SIDE };
const PORT = Number(values.port ?? 20_000 + Math.floor(Math.random() * 20_000));
if (!(CLIENTS > 0 && CLIENTS <= 19_500)) throw new Error('--clients: 1 to 19,500 (one harness process per class)');
if (!(ZOOMED >= 0 && ZOOMED <= 1)) throw new Error('--zoomed is a share in [0, 1]');
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () => readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ');

/** About 200 timed clients per class. */
const sampleEvery = (count: number) => Math.max(1, Math.floor(count / 200));

let harnesses: Harness[] = [];
const children: ChildProcess[] = [];

interface EdgeUnderTest {
  readonly name: string;
  readonly port: number;
  readonly pid: number;
  /** CPU with placements flowing and no client (cores). */
  fixed: number;
}
interface ClassResult {
  readonly clients: number;
  readonly s: ReturnType<typeof summarize>;
}
interface PhaseResult {
  readonly label: string;
  readonly edge: EdgeUnderTest;
  readonly cores: number;
  readonly elapsed: number;
  readonly rssMiB: number;
  readonly load: string;
  readonly whole: ClassResult | null;
  readonly zoomed: ClassResult | null;
}

async function phase(
  label: string,
  edge: EdgeUnderTest,
  wholeCount: number,
  zoomedCount: number,
): Promise<PhaseResult> {
  const [wholeH, zoomedH] = harnesses as [Harness, Harness];
  const { port, pid } = edge;
  // Whole-canvas clients resume from the edge's sequence (a short catch-up, not a 4 MB canvas each).
  const since = await edgeSeq(port);
  const replies = await Promise.all([
    wholeCount > 0 ? wholeH.connect(port, wholeCount, since, 0, sampleEvery(wholeCount)) : null,
    zoomedCount > 0 ? zoomedH.connect(port, zoomedCount, -1, 0, sampleEvery(zoomedCount), VIEW) : null,
  ]);
  const failed = replies.reduce((a, r) => a + (r?.failed ?? 0), 0);
  if (failed > 0) log(`warning: ${failed} clients failed to connect`);
  await sleep(3000); // past the connections' catch-ups and tile snapshots
  await Promise.all(harnesses.map((h) => h.reset()));
  const atStart = load();
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const reports = await Promise.all(harnesses.map((h) => h.report()));
  const elapsed = (Date.now() - t0) / 1000;
  const cores = (cpuSeconds(pid) - cpu0) / elapsed;
  const rssMiB = rssBytes(pid) / 2 ** 20;
  await Promise.all(harnesses.map((h) => h.disconnect()));
  await sleep(1500);
  const [wr, zr] = reports as [(typeof reports)[0], (typeof reports)[0]];
  return {
    label: `${label} on ${edge.name}`,
    edge,
    cores,
    elapsed,
    rssMiB,
    load: atStart,
    whole: wholeCount > 0 ? { clients: wholeCount, s: summarize([wr]) } : null,
    zoomed: zoomedCount > 0 ? { clients: zoomedCount, s: summarize([zr]) } : null,
  };
}

function describeClass(name: string, c: ClassResult, elapsed: number): string {
  const per = c.clients * elapsed;
  const { s } = c;
  const tiles =
    name === 'zoomed-in'
      ? `, ${s.tileFrames.toLocaleString('en')} tilePixels frames checked (${s.strayTiles} stray, ${s.staleTiles} stale)`
      : '';
  return (
    `    ${name}: ${s.open}/${c.clients} open, ${s.closed} closed by the edge; per client ${(s.bytes / per / 1024).toFixed(2)} KiB/s, ` +
    `${(s.frames / per).toFixed(1)} frames/s, ${(s.reads / per).toFixed(1)} reads/s; ${s.gaps} gaps in ${s.checkedFrames.toLocaleString('en')} checked frames${tiles}; ` +
    `harness ${((s.clientCpu / elapsed) * 100).toFixed(0)} % of a core; ` +
    `placement → receipt p50 ${s.p50} / p99 ${s.p99} ms (${s.samples.toLocaleString('en')} pixels timed to 50 ms by color)`
  );
}

async function main() {
  const { canvasId, names } = benchCanvas('benchviewport');
  const zoomedCount = Math.round(CLIENTS * ZOOMED);
  log(
    `fanout-viewport: ${CLIENTS} clients per phase (C harness), ${RATE} placements/s uniformly random on ${SIDE}x${SIDE}, ` +
      `view ${VIEW_W}x${VIEW_H}, mix ${CLIENTS - zoomedCount} whole + ${zoomedCount} zoomed, window ${WINDOW} ms, ${SECONDS} s per phase, canvas ${canvasId}`,
  );
  log(`load average at start: ${load()}`);
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-viewport');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-viewport');
  const maxWindow = String(values['max-window'] ?? WINDOW);
  const tileWindow = String(values['tile-window']);
  const procA = await startEdgeProcess(canvasId, PORT, WINDOW, { FLUSH_WINDOW_MAX_MS: maxWindow, TILE_WINDOW_MS: '0' });
  children.push(procA);
  const procB = await startEdgeProcess(canvasId, PORT + 1, WINDOW, {
    FLUSH_WINDOW_MAX_MS: maxWindow,
    TILE_WINDOW_MS: tileWindow,
  });
  children.push(procB);
  const a: EdgeUnderTest = { name: 'A (TILE_WINDOW_MS=0)', port: PORT, pid: procA.pid ?? 0, fixed: 0 };
  const b: EdgeUnderTest = { name: `B (TILE_WINDOW_MS=${tileWindow})`, port: PORT + 1, pid: procB.pid ?? 0, fixed: 0 };
  // One harness process per class (each holds up to 19,500 clients).
  harnesses = [...(await startHarnesses('c', 1)), ...(await startHarnesses('c', 1))];
  await Promise.all(harnesses.map((h) => h.colorClock()));
  const { place, cleanup } = benchPlace(nc, redis, names);
  const placer = startPlacer(place, RATE, randomCoordinates(SIDE));
  try {
    await sleep(2000);
    const placed0 = placer.stats.placed;
    const t0 = Date.now();
    const cpuA = cpuSeconds(a.pid);
    const cpuB = cpuSeconds(b.pid);
    await sleep(Math.min(SECONDS, 5) * 1000);
    const fixedElapsed = (Date.now() - t0) / 1000;
    a.fixed = (cpuSeconds(a.pid) - cpuA) / fixedElapsed;
    b.fixed = (cpuSeconds(b.pid) - cpuB) / fixedElapsed;
    const rate = (placer.stats.placed - placed0) / fixedElapsed;
    log(
      `no clients (load ${load()}): edge A ${(a.fixed * 100).toFixed(1)} %, B ${(b.fixed * 100).toFixed(1)} % of a core (fixed cost), ${rate.toFixed(0)} placements/s accepted`,
    );
    const mixLabel = `mix ${Math.round(ZOOMED * 100)} % zoomed`;
    const hasMix = ZOOMED > 0 && ZOOMED < 1;
    const base = await phase('whole-canvas', a, CLIENTS, 0);
    const zoomedA = await phase('zoomed-in', a, 0, CLIENTS);
    const zoomedB = await phase('zoomed-in', b, 0, CLIENTS);
    const mixA = hasMix ? await phase(mixLabel, a, CLIENTS - zoomedCount, zoomedCount) : null;
    const mixB = hasMix ? await phase(mixLabel, b, CLIENTS - zoomedCount, zoomedCount) : null;
    const phases = [base, zoomedA, zoomedB, ...(mixA && mixB ? [mixA, mixB] : [])];
    const perClient = (p: PhaseResult) => ((p.cores - p.edge.fixed) * 1e6) / CLIENTS;
    let gaps = 0;
    for (const p of phases) {
      const bytes = (p.whole?.s.bytes ?? 0) + (p.zoomed?.s.bytes ?? 0);
      const reads = (p.whole?.s.reads ?? 0) + (p.zoomed?.s.reads ?? 0);
      const frames = (p.whole?.s.frames ?? 0) + (p.zoomed?.s.frames ?? 0);
      const cpuUs = (p.cores - p.edge.fixed) * p.elapsed * 1e6;
      log(
        `${p.label} (load ${p.load}): edge ${(p.cores * 100).toFixed(1)} % of a core, ${perClient(p).toFixed(1)} µs CPU per client per second above the fixed cost ` +
          `(ratio to whole-canvas ${(perClient(p) / perClient(base)).toFixed(2)}); ${(bytes / CLIENTS / p.elapsed / 1024).toFixed(2)} KiB/s per client ` +
          `(ratio ${(bytes / Math.max(1, base.whole?.s.bytes ?? 1)).toFixed(3)}); ${(cpuUs / Math.max(1, frames)).toFixed(2)} µs per frame, ` +
          `${(cpuUs / Math.max(1, reads)).toFixed(2)} µs per client read; edge RSS ${p.rssMiB.toFixed(0)} MiB`,
      );
      for (const [name, c] of [
        ['whole-canvas', p.whole],
        ['zoomed-in', p.zoomed],
      ] as const) {
        if (!c) continue;
        log(describeClass(name, c, p.elapsed));
        gaps += c.s.gaps + c.s.strayTiles;
      }
    }
    log(
      `tile window: a zoomed-in client costs ${perClient(zoomedB).toFixed(1)} µs of edge CPU per second on B against ${perClient(zoomedA).toFixed(1)} on A ` +
        `(ratio ${(perClient(zoomedB) / perClient(zoomedA)).toFixed(2)})`,
    );
    for (const [mix, zoomed] of [
      [mixA, zoomedA],
      [mixB, zoomedB],
    ] as const) {
      if (!mix) continue;
      const predicted = (1 - ZOOMED) * perClient(base) + ZOOMED * perClient(zoomed);
      log(
        `${mix.label}: measured ${perClient(mix).toFixed(1)} µs per client per second against ${predicted.toFixed(1)} from the pure phases weighted by share ` +
          `(ratio ${(perClient(mix) / predicted).toFixed(2)})`,
      );
    }
    log(`placements: ${placer.stats.placed} ok, ${placer.stats.failed} failed; gaps + strays over all phases: ${gaps}`);
    log(`load average at the end: ${load()}`);
    log(gaps === 0 ? 'sequence contract: PASS' : 'sequence contract: FAIL');
  } finally {
    placer.stop();
    procA.kill('SIGTERM');
    procB.kill('SIGTERM');
    await sleep(500);
    await cleanup();
  }
}

await runBench(main, () => harnesses, children);
