/**
 * `npm run bench -- fanout-storm [--clients 10000] [--rate 3333] [--window 50] [--port P] [--timeout 60]`
 *
 * A reconnect storm: two real edges on one canvas (ports P and P + 1) while placements flow at `rate`/s
 * through the real command path; N clients of the C harness (bench/_fanout-epoll.c) on edge 1, which is
 * then killed (SIGKILL: a crash, no goodbye). Each client reconnects to edge 2 as src/client/rplace-client.ts does
 * (1 s, 2 s, 4 s … 30 s plus 0–1 s of jitter) with `since` = the last sequence it applied, and counts as
 * resumed at its first frame that continues that sequence (or a whole canvas). Prints the time from the kill
 * until every client is resumed, gaps, whole canvases sent, failed attempts, edge 2's CPU and peak RSS
 * during the storm. Same-run baseline: edge 2's CPU and RSS over as long a quiet stretch before the kill.
 * Floor (issue 14): all resumed within 10 s, 0 gaps.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { cpuSeconds, rssBytes } from './_process.ts';
import { startHarnesses, summarize, type Harness } from './_fanout-harness.ts';
import {
  benchCanvas,
  benchPlace,
  edgeSeq,
  sampleProcess,
  sleep,
  startEdgeProcess,
  runBench,
  startPlacer,
} from './_fanout-edge.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '10000' },
    rate: { type: 'string', default: '3333' },
    window: { type: 'string', default: '50' },
    port: { type: 'string' },
    timeout: { type: 'string', default: '60' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const WINDOW = Number(values.window);
const PORT = Number(values.port ?? 20_000 + Math.floor(Math.random() * 20_000));
const TIMEOUT_S = Number(values.timeout);
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const { canvasId, names } = benchCanvas('benchstorm');

let harnesses: Harness[] = [];
const children: ChildProcess[] = [];

async function main() {
  log(
    `fanout-storm: ${CLIENTS} clients on edge 1 (port ${PORT}), edge 2 on ${PORT + 1}, ${RATE} placements/s, window ${WINDOW} ms, canvas ${canvasId}; load ${load()}`,
  );
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-storm');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-storm');
  const { place, cleanup } = benchPlace(nc, redis, names);
  const edge1 = await startEdgeProcess(canvasId, PORT, WINDOW);
  children.push(edge1);
  const edge2 = await startEdgeProcess(canvasId, PORT + 1, WINDOW);
  children.push(edge2);
  const edge2Pid = edge2.pid ?? 0;
  harnesses = await startHarnesses('c', CLIENTS);
  const per = Math.ceil(CLIENTS / harnesses.length);
  const sampleEvery = Math.max(1, Math.floor(CLIENTS / 200));
  let left = CLIENTS;
  const since = await edgeSeq(PORT);
  const t0 = Date.now();
  const connected = await Promise.all(
    harnesses.map((h, i) => {
      const count = Math.min(per, left);
      left -= count;
      return h.connect(PORT, count, since, i * per, sampleEvery);
    }),
  );
  log(
    `edge 1: ${connected.reduce((a, r) => a + r.open, 0)} clients connected in ${((Date.now() - t0) / 1000).toFixed(1)} s (${connected.reduce((a, r) => a + r.failed, 0)} failed)`,
  );
  await Promise.all(harnesses.map((h) => h.reconnectTo(PORT + 1)));

  const placer = startPlacer(place, RATE);
  await sleep(3000); // live frames flowing to every client
  await Promise.all(harnesses.map((h) => h.reset()));
  // Baseline: edge 2 tailing the stream with no client, over 5 s before the kill.
  const quiet = sampleProcess(edge2Pid, cpuSeconds, rssBytes);
  await sleep(5000);
  const before = quiet.stop();
  const live = summarize(await Promise.all(harnesses.map((h) => h.report())));
  log(
    `before the kill (load ${load()}): ${live.gaps} gaps in ${live.checkedFrames.toLocaleString('en')} checked frames on edge 1; delivery p50 ${live.p50} ms, p99 ${live.p99} ms; drops ${JSON.stringify(live.closeCodes)}`,
  );

  await Promise.all(harnesses.map((h) => h.reset()));
  const storm = sampleProcess(edge2Pid, cpuSeconds, rssBytes);
  const killedAt = Date.now();
  edge1.kill('SIGKILL');
  let s = summarize(await Promise.all(harnesses.map((h) => h.report())));
  while (Date.now() - killedAt < TIMEOUT_S * 1000) {
    await sleep(250);
    s = summarize(await Promise.all(harnesses.map((h) => h.report())));
    if (s.resumed >= CLIENTS && s.notResumed === 0) break; // every client dropped, reconnected and resumed
  }
  const during = storm.stop();
  const allResumedS = s.resumed >= CLIENTS ? (s.lastResumedAt - killedAt) / 1000 : Number.NaN;
  // A few more seconds of live frames on edge 2: the resumed clients stay gap-free.
  await Promise.all(harnesses.map((h) => h.reset()));
  await sleep(3000);
  const after = summarize(await Promise.all(harnesses.map((h) => h.report())));
  placer.stop();

  log(
    `storm (load ${load()}): ${s.resumed} resumes (${s.notResumed} clients not resumed) on edge 2, the last ${allResumedS.toFixed(2)} s after the kill; ` +
      `per client from its drop: p50 ${s.resumeP50} ms, p99 ${s.resumeP99} ms, max ${s.resumeMax} ms`,
  );
  log(
    `           ${s.attempts} reconnect attempts (${s.failedAttempts} failed), ${s.canvases} whole canvases sent, ${s.resumeGaps} resumes with a gap, ${s.gaps} sequence gaps in ${s.checkedFrames.toLocaleString('en')} checked frames; drops by close code ${JSON.stringify(s.closeCodes)} (0 = no close frame)`,
  );
  log(
    `edge 2 during the storm: ${(during.cores * 100).toFixed(0)}% of a core over ${during.seconds.toFixed(1)} s, peak RSS ${(during.peakRss / 2 ** 20).toFixed(0)} MiB; ` +
      `baseline before (no client): ${(before.cores * 100).toFixed(1)}% of a core, ${(before.peakRss / 2 ** 20).toFixed(0)} MiB ` +
      `(+${((during.peakRss - before.peakRss) / CLIENTS / 1024).toFixed(1)} KiB per client)`,
  );
  log(
    `after the storm, 3 s on edge 2: ${after.open}/${CLIENTS} open, ${after.gaps} gaps in ${after.checkedFrames.toLocaleString('en')} checked frames, delivery p50 ${after.p50} ms, p99 ${after.p99} ms; ` +
      `harness ${((after.clientCpu / 3) * 100).toFixed(0)}% of a core; drops ${JSON.stringify(after.closeCodes)}; placements ${placer.stats.placed} accepted, ${placer.stats.failed} failed`,
  );
  const pass =
    s.notResumed === 0 &&
    after.open === CLIENTS &&
    allResumedS <= 10 &&
    s.gaps === 0 &&
    s.resumeGaps === 0 &&
    after.gaps === 0 &&
    live.gaps === 0;
  log(pass ? 'floors (all resumed ≤ 10 s, 0 gaps): PASS' : 'floors (all resumed ≤ 10 s, 0 gaps): FAIL');
  await cleanup();
}

await runBench(main, () => harnesses, children);
