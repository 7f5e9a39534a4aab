/**
 * `npm run bench -- fanout-connections [--clients 19000] [--rate 3333] [--seconds 30] [--window 50] [--returning] [--port P]`
 *
 * Connections: N clients of the C harness (bench/_fanout-epoll.c) on ONE real edge process (the
 * per-process descriptor limit here is 20,000) while placements flow at `rate`/s through the real command
 * path. Prints the edge's RSS per connection (idle after connecting, and with live updates flowing),
 * delivery latency, gaps and drops; then the same clients on a bare uWS server (bench/_fanout-bare.ts)
 * publishing frames of the same kind: the same-run baseline of RSS per connection. The RSS with live updates
 * is sampled every 250 ms for `seconds` (30: several major collections of the edge's heap, whose timing
 * alone moved a 10 s median between 1.1 and 2.2 KiB a connection): the median is the figure, low and peak
 * are printed beside it. Clients send no cookie by default, so each upgrade mints a guest (the edge then skips
 * the cooldown lookup: nothing is stored under a new id); `--returning` gives every client one signed guest
 * cookie, so each upgrade verifies it and reads that guest's cooldown from Redis, as reloading players do.
 * Floor (issue 14): 19,000 connections, ≤ 2 KiB RSS each.
 */
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createGuestIdentity, GUEST_COOKIE } from '../src/adapters/identity/guest-cookie.ts';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { cpuSeconds, rssBytes } from './_process.ts';
import { startHarnesses, summarize, type Harness } from './_fanout-harness.ts';
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
    clients: { type: 'string', default: '19000' },
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '30' },
    window: { type: 'string', default: '50' },
    warm: { type: 'string', default: '25' },
    port: { type: 'string' },
    returning: { type: 'boolean', default: false },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const WINDOW = Number(values.window);
// Placements before the clients connect, so the edge's ring (65,536 events ≈ 20 s at 3,333/s) and heap are
// full: otherwise their growth is counted as the connections' memory.
const WARM_S = Number(values.warm);
const PORT = Number(values.port ?? 20_000 + Math.floor(Math.random() * 20_000));
const log = (line: string) => process.stdout.write(`${line}\n`);
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const { canvasId, names } = benchCanvas('benchconns');

let harnesses: Harness[] = [];
const children: ChildProcess[] = [];
const kib = (bytes: number) => (bytes / CLIENTS / 1024).toFixed(2);

/** The edge's V8 heap in use, from its /metrics (prom-client's default metrics); NaN when not served. */
async function heapUsed(port: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => (r.ok ? r.text() : ''),
    () => '',
  );
  const m = /^(?:rplace_process_)?nodejs_heap_size_used_bytes(?:\{[^}]*\})? (\S+)$/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

/** Connects every client to `port`, then measures `SECONDS` of live frames; RSS of `pid` throughout. */
async function phase(pid: number, port: number, since: number, start?: () => void) {
  const per = Math.ceil(CLIENTS / harnesses.length);
  const rssBefore = rssBytes(pid);
  const heapBefore = await heapUsed(port);
  const t0 = Date.now();
  let left = CLIENTS;
  const replies = await Promise.all(
    harnesses.map((h, i) => {
      const count = Math.min(per, left);
      left -= count;
      return h.connect(port, count, since, i * per, Math.max(1, Math.floor(CLIENTS / 200)));
    }),
  );
  const connectS = (Date.now() - t0) / 1000;
  const open = replies.reduce((a, r) => a + r.open, 0);
  await sleep(2000);
  const rssConnected = rssBytes(pid);
  start?.();
  await sleep(3000);
  await Promise.all(harnesses.map((h) => h.reset()));
  const cpu0 = cpuSeconds(pid);
  const rss: number[] = [];
  for (let t = 0; t < SECONDS * 4; t++) {
    await sleep(250);
    rss.push(rssBytes(pid));
  }
  const cpu = cpuSeconds(pid) - cpu0;
  const heapDuring = await heapUsed(port);
  const rssPeak = Math.max(...rss);
  const rssLow = Math.min(...rss);
  const rssSteady = rss.sort((a, b) => a - b)[Math.floor(rss.length / 2)] as number;
  const s = summarize(await Promise.all(harnesses.map((h) => h.report())));
  await Promise.all(harnesses.map((h) => h.disconnect()));
  return {
    ...s,
    open,
    failed: replies.reduce((a, r) => a + r.failed, 0),
    connectS,
    rssBefore,
    rssConnected,
    rssPeak,
    rssLow,
    rssSteady,
    heapBefore,
    heapDuring,
    cpu,
  };
}

async function main() {
  log(
    `fanout-connections: ${CLIENTS} clients on one edge (port ${PORT}), ${RATE} placements/s, window ${WINDOW} ms, canvas ${canvasId}; load ${load()}`,
  );
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-conns');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-conns');
  const { place, cleanup } = benchPlace(nc, redis, names);
  const secret = randomBytes(24).toString('hex');
  const edge = await startEdgeProcess(canvasId, PORT, WINDOW, { SESSION_SECRET: secret });
  children.push(edge);
  if (values.returning) {
    const guest = createGuestIdentity({ secret }).sign(`g_${randomBytes(8).toString('hex')}`);
    process.env.FANOUT_COOKIE = `${GUEST_COOKIE}=${guest}`; // read by the C harness (bench/_fanout-epoll.c)
  }
  log(
    `clients: ${values.returning ? 'one returning guest (signed cookie: verified, cooldown read)' : 'new guests (no cookie)'}`,
  );
  harnesses = await startHarnesses('c', CLIENTS);
  const warm = startPlacer(place, RATE);
  await sleep(WARM_S * 1000);
  warm.stop();
  await sleep(1000);
  // Clients connect with no placement flowing (as in `fanout`): each catch-up is then (nearly) empty rather
  // than a frame of every event placed since the first client connected, built per socket.
  let placer = warm;
  const edgeResult = await phase(edge.pid ?? 0, PORT, await edgeSeq(PORT), () => (placer = startPlacer(place, RATE)));
  placer.stop();
  edge.kill('SIGTERM');

  const bare = await startBareProcess(PORT + 1, WINDOW, RATE);
  children.push(bare);
  const bareResult = await phase(bare.pid ?? 0, PORT + 1, 0, () => {
    placer = startPlacer(place, RATE); // the same load on the machine as in the edge phase
    bare.send({ cmd: 'start' });
  });
  placer.stop();

  const fmt = (r: typeof edgeResult) =>
    `${r.open}/${CLIENTS} connected in ${r.connectS.toFixed(1)} s (${r.failed} failed); RSS ${(r.rssBefore / 2 ** 20).toFixed(0)} MiB before, ` +
    `${(r.rssConnected / 2 ** 20).toFixed(0)} MiB connected (${kib(r.rssConnected - r.rssBefore)} KiB per connection), ` +
    `with live updates median ${(r.rssSteady / 2 ** 20).toFixed(0)} MiB (${kib(r.rssSteady - r.rssBefore)} KiB per connection), low ${kib(r.rssLow - r.rssBefore)}, peak ${(r.rssPeak / 2 ** 20).toFixed(0)} MiB (${kib(r.rssPeak - r.rssBefore)} KiB); ` +
    (Number.isNaN(r.heapBefore)
      ? ''
      : `V8 heap used ${(r.heapBefore / 2 ** 20).toFixed(0)} → ${(r.heapDuring / 2 ** 20).toFixed(0)} MiB (${kib(r.heapDuring - r.heapBefore)} KiB per connection); `) +
    `${Math.round(r.frames / SECONDS).toLocaleString('en')} deliveries/s (${(r.bytes / Math.max(1, r.frames)).toFixed(0)} B average), server ${((r.cpu / SECONDS) * 100).toFixed(0)}% of a core; ` +
    `latency p50 ${r.p50} ms, p99 ${r.p99} ms; ${r.open - r.closed} still open, drops ${JSON.stringify(r.closeCodes)}, ${r.gaps} gaps in ${r.checkedFrames.toLocaleString('en')} checked frames; ` +
    `harness ${((r.clientCpu / SECONDS) * 100).toFixed(0)}% of a core`;
  log(`edge     (load ${load()}): ${fmt(edgeResult)}`);
  log(`bare uWS: ${fmt(bareResult)}`);
  const perConn = (edgeResult.rssSteady - edgeResult.rssBefore) / CLIENTS / 1024;
  const bareGrowth = bareResult.rssSteady - bareResult.rssBefore;
  // The bare server's RSS can end below where it started (pages given back while it ran): no ratio then.
  log(
    `ratio edge/bare RSS per connection with live updates: ${
      bareGrowth > 0
        ? ((edgeResult.rssSteady - edgeResult.rssBefore) / bareGrowth).toFixed(2)
        : 'n/a (the bare RSS did not grow)'
    }`,
  );
  const pass = edgeResult.open === CLIENTS && edgeResult.closed === 0 && edgeResult.gaps === 0 && perConn <= 2;
  log(
    pass
      ? `floors (${CLIENTS} connections, ≤ 2 KiB each, 0 gaps): PASS`
      : `floors (${CLIENTS} connections, ≤ 2 KiB each, 0 gaps): FAIL`,
  );
  await cleanup();
}

await runBench(main, () => harnesses, children);
