/**
 * `npm run bench -- client-bounds [--baseline-rev 45a0234] [--port 3340] [--seconds 5]`
 *
 * The issue-11 probes of one client's work against two real edge processes in the same run, on one
 * 2000×2000 canvas with more events than the ring holds (the shared NATS and Redis): this tree's edge, and
 * the edge of `--baseline-rev` (extracted with `git archive` into a temporary directory, sharing this
 * tree's node_modules). Same probes, same machine, same minute; prints each figure and the ratio.
 *
 * 1. unread pipelined HTTP: 20 sockets × 25 pipelined `GET /api/v1/canvas` never read; the edge's RSS
 *    before and at its peak over 3 s.
 * 2. messages: one socket sends pings as fast as it can for `--seconds`; pongs answered.
 * 3. resumes: 10 sockets send `resume {since: 0}` every 10 ms for `--seconds`; bytes of canvas received.
 * 4. the per-message limit check alone (`takeToken`), 10M calls against an empty loop of the same shape;
 *    GCs observed during each (zero: the check allocates nothing).
 * 5. the message path's cost with the check in it: probe 2 against a third edge of this tree whose message
 *    rate is lifted (so nothing is refused), the edge's CPU time per answered ping against the baseline edge's.
 * 6. what a reader pays for the tryEnd writes: `GET /api/v1/canvas` (4 MB, identity) fetched and read 40 times,
 *    median and p90 ms, against the baseline edge's `res.end`.
 * Figures taken on a shared, loaded 2-core machine are noisy; the ratios are what to read.
 */
import { appendThroughLog } from '../test/helpers/append-events.ts';
import { spawn, execSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { fullBucket, takeToken, type Bucket } from '../src/domain/limits.ts';
import { applyStreams } from '../streams/apply.ts';
import { cleanupCanvas, testEnv, testNames, TEST_NATS_URL } from '../test/helpers/isolation.ts';
import { cpuSeconds, rssBytes } from './_process.ts';

const { values: args } = parseArgs({
  options: {
    'baseline-rev': { type: 'string', default: '45a0234' },
    port: { type: 'string', default: '3340' },
    seconds: { type: 'string', default: '5' },
  },
});
const seconds = Number(args.seconds);
const MB = 2 ** 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const names = testNames('benchbounds');

interface Edge {
  readonly label: string;
  readonly port: number;
  readonly child: ChildProcess;
}

async function startEdge(label: string, cwd: string, port: number, extra: Record<string, string> = {}): Promise<Edge> {
  const env = testEnv(names, {
    PORT: String(port),
    HOST: '127.0.0.1',
    SESSION_SECRET: 'bench-secret-bench-secret-bench-secret-01',
    CANVAS_WIDTH: '2000',
    CANVAS_HEIGHT: '2000',
    RING_EVENTS: '1024',
    LOG_LEVEL: 'warn',
    // The probes come from 127.0.0.1: the per-address resync budget is the default (30/min), not the tests' override.
    WS_RESYNCS_PER_IP_PER_MINUTE: '30',
    ...extra,
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/roles/edge/main.ts'], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const deadline = Date.now() + 120_000;
  while (
    !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  ) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${label} edge did not start`);
    await sleep(200);
  }
  return { label, port, child };
}

async function unreadPipelined(edge: Edge): Promise<{ before: number; peak: number }> {
  const before = rssBytes(edge.child.pid!);
  let peak = before;
  const sockets: Socket[] = [];
  for (let i = 0; i < 20; i++) {
    const socket = connect({ host: '127.0.0.1', port: edge.port });
    socket.on('error', () => undefined);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    socket.pause();
    socket.write('GET /api/v1/canvas HTTP/1.1\r\nHost: edge\r\n\r\n'.repeat(25));
    sockets.push(socket);
  }
  for (let t = 0; t < 60; t++) {
    await sleep(50);
    peak = Math.max(peak, rssBytes(edge.child.pid!));
  }
  for (const s of sockets) s.destroy();
  await sleep(1000);
  return { before, peak };
}

function openWs(edge: Edge): Promise<WebSocket> {
  return new Promise((res, rej) => {
    const ws = new WebSocket(`ws://127.0.0.1:${edge.port}/ws?v=1`, { perMessageDeflate: false });
    ws.once('open', () => res(ws));
    ws.once('error', rej);
  });
}

async function pings(edge: Edge): Promise<{ pongs: number; sent: number; closedWith: number | null }> {
  const ws = await openWs(edge);
  let pongs = 0;
  let closedWith: number | null = null;
  ws.on('message', (d, binary) => {
    if (!binary && String(d) === '{"type":"pong"}') pongs++;
  });
  ws.on('close', (code) => (closedWith = code));
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && closedWith === null) {
    if (ws.bufferedAmount < 1 * MB) for (let i = 0; i < 1000; i++, sent++) ws.send('{"type":"ping"}');
    await sleep(1);
  }
  await sleep(500);
  ws.terminate();
  return { pongs, sent, closedWith };
}

async function resumes(edge: Edge): Promise<{ bytes: number; closed: number }> {
  let bytes = 0;
  let closed = 0;
  const sockets = await Promise.all(Array.from({ length: 10 }, () => openWs(edge)));
  for (const ws of sockets) {
    ws.on('message', (d, binary) => {
      if (binary) bytes += (d as Buffer).length;
    });
    ws.on('close', () => closed++);
  }
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send('{"type":"resume","since":0}');
    await sleep(10);
  }
  for (const ws of sockets) ws.terminate();
  return { bytes, closed };
}

function limitCheck(): { emptyNs: number; checkNs: number; gcsEmpty: number; gcsCheck: number } {
  let gcs = 0;
  const observer = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  observer.observe({ entryTypes: ['gc'] });
  const n = 10_000_000;
  const rate = { perSecond: 20, burst: 60 };
  const bucket: Bucket = fullBucket(rate, 0);
  const time = (body: (i: number) => boolean) => {
    let ok = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) if (body(i)) ok++;
    return { ns: Number(process.hrtime.bigint() - start) / n, ok };
  };
  const before = gcs;
  const empty = time((i) => (i & 1) === 0);
  const gcsEmpty = gcs - before;
  const mid = gcs;
  const check = time((i) => takeToken(bucket, rate, i * 0.05));
  const gcsCheck = gcs - mid;
  observer.disconnect();
  return { emptyNs: empty.ns, checkNs: check.ns, gcsEmpty, gcsCheck };
}

const baselineDir = mkdtempSync(join(tmpdir(), 'rplace-baseline-'));
const edges: Edge[] = [];
try {
  execSync(`git archive ${args['baseline-rev']} | tar -x -C ${baselineDir}`, { stdio: 'inherit', shell: '/bin/bash' });
  symlinkSync(resolve('node_modules'), join(baselineDir, 'node_modules'));
  const nc = await connectNats(TEST_NATS_URL, 'bench-client-bounds');
  await applyStreams(nc, names, { replicas: 1 });
  await appendThroughLog(
    nc,
    names,
    Array.from({ length: 1100 }, (_, i) => ({ x: i % 2000, y: (i * 7) % 2000, color: i % 32 })),
    'bench',
    'b',
  );
  await nc.close();
  const port = Number(args.port);
  const current = await startEdge('this tree', process.cwd(), port);
  edges.push(current);
  const baseline = await startEdge(`baseline ${args['baseline-rev']}`, baselineDir, port + 1);
  edges.push(baseline);
  const lifted = await startEdge('this tree, lifted', process.cwd(), port + 2, {
    WS_MESSAGES_PER_SECOND: '100000',
    WS_MESSAGE_BURST: '1000000',
  });
  edges.push(lifted);

  console.log('probe 1: 20 sockets × 25 pipelined GET /api/v1/canvas (4 MB each), never read');
  const r1 = { base: await unreadPipelined(baseline), cur: await unreadPipelined(current) };
  for (const [label, r] of [
    [baseline.label, r1.base],
    [current.label, r1.cur],
  ] as const) {
    console.log(
      `  ${label.padEnd(18)} RSS ${(r.before / MB).toFixed(0)} MB -> peak ${(r.peak / MB).toFixed(0)} MB (+${((r.peak - r.before) / MB).toFixed(0)} MB)`,
    );
  }
  console.log(
    `  growth ratio this/baseline: ${((r1.cur.peak - r1.cur.before) / Math.max(1, r1.base.peak - r1.base.before)).toFixed(4)}`,
  );

  console.log(`probe 2: one socket sending pings for ${seconds} s`);
  const r2 = { base: await pings(baseline), cur: await pings(current) };
  for (const [label, r] of [
    [baseline.label, r2.base],
    [current.label, r2.cur],
  ] as const) {
    console.log(`  ${label.padEnd(18)} sent ${r.sent}, answered ${r.pongs}, closed with ${r.closedWith ?? '-'}`);
  }

  console.log(`probe 3: 10 sockets sending resume {since: 0} every 10 ms for ${seconds} s`);
  const r3 = { base: await resumes(baseline), cur: await resumes(current) };
  for (const [label, r] of [
    [baseline.label, r3.base],
    [current.label, r3.cur],
  ] as const) {
    console.log(
      `  ${label.padEnd(18)} received ${(r.bytes / MB).toFixed(1)} MB of frames, ${r.closed} sockets closed by the edge`,
    );
  }
  console.log(`  bytes ratio this/baseline: ${(r3.cur.bytes / Math.max(1, r3.base.bytes)).toFixed(4)}`);

  console.log(`probe 5: the message path with the check, nothing refused: one socket sending pings for ${seconds} s`);
  const cpuPerPong = async (edge: Edge) => {
    const cpu = cpuSeconds(edge.child.pid!);
    const r = await pings(edge);
    return { ...r, usPerPong: ((cpuSeconds(edge.child.pid!) - cpu) * 1e6) / Math.max(1, r.pongs) };
  };
  const r5 = { base: await cpuPerPong(baseline), cur: await cpuPerPong(lifted) };
  for (const [label, r] of [
    [baseline.label, r5.base],
    [lifted.label, r5.cur],
  ] as const) {
    console.log(
      `  ${label.padEnd(18)} ${r.pongs} of ${r.sent} answered, edge CPU ${r.usPerPong.toFixed(2)} µs per ping, closed with ${r.closedWith ?? '-'}`,
    );
  }
  console.log(`  CPU per ping ratio this/baseline: ${(r5.cur.usPerPong / r5.base.usPerPong).toFixed(3)}`);

  console.log('probe 6: GET /api/v1/canvas (4 MB, identity) read whole, 40 times each, alternating');
  const times: Record<string, number[]> = { [baseline.label]: [], [current.label]: [] };
  for (let i = 0; i < 80; i++) {
    const edge = i % 2 === 0 ? baseline : current;
    const start = performance.now();
    const bytes = (await (await fetch(`http://127.0.0.1:${edge.port}/api/v1/canvas`)).arrayBuffer()).byteLength;
    if (bytes !== 2000 * 2000) throw new Error(`short canvas from ${edge.label}: ${bytes}`);
    times[edge.label]!.push(performance.now() - start);
  }
  const pct = (xs: number[], p: number) =>
    [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
  for (const label of [baseline.label, current.label])
    console.log(
      `  ${label.padEnd(18)} median ${pct(times[label]!, 0.5).toFixed(1)} ms, p90 ${pct(times[label]!, 0.9).toFixed(1)} ms`,
    );
  console.log(
    `  median ratio this/baseline: ${(pct(times[current.label]!, 0.5) / pct(times[baseline.label]!, 0.5)).toFixed(3)}`,
  );

  const r4 = limitCheck();
  console.log(
    `probe 4: per-message limit check: ${r4.checkNs.toFixed(1)} ns/check vs ${r4.emptyNs.toFixed(1)} ns empty loop; GCs during 10M checks: ${r4.gcsCheck} (empty loop: ${r4.gcsEmpty})`,
  );
} finally {
  for (const edge of edges) edge.child.kill('SIGTERM');
  await sleep(500);
  rmSync(baselineDir, { recursive: true, force: true });
  await cleanupCanvas(names);
}
