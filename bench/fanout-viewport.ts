/**
 * `npm run bench -- fanout-viewport [--clients 500] [--rate 3333] [--seconds 10] [--window 50] [--view 400x300]`
 *
 * Viewport subscriptions (issue 14, deliverable 3): one edge (the real role, a child process) with N `ws`
 * clients held in this process, while pixels are placed at `rate`/s at uniformly random coordinates of the
 * 2000×2000 canvas through the real command path. Three phases, each measured for `seconds`: no client
 * (the edge's fixed cost), N whole-canvas clients (no `view`: today's protocol), N zoomed-in clients (each a
 * `view` of one rectangle of `--view` pixels at a random place, 1–4 tiles). Prints, per phase, the edge's CPU
 * above its fixed cost per client, and bytes and frames received per client per second, plus `uptime`.
 */
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { cpuSeconds } from './_process.ts';
import { benchCanvas, benchPlace, sleep, startEdgeProcess, type PlaceFn } from './_fanout-edge.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '500' },
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '50' },
    view: { type: 'string', default: '400x300' },
    port: { type: 'string' },
  },
});
const CLIENTS = Number(values.clients);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const [VIEW_W, VIEW_H] = (values.view as string).split('x').map(Number) as [number, number];
const PORT = Number(values.port ?? 20_000 + Math.floor(Math.random() * 20_000));
const SIDE = 2000;
const log = (line: string) => process.stdout.write(`${line}\n`);
const uptime = () => execSync('uptime').toString().trim();

/** Places `rate` pixels a second at random coordinates (no cooldown clash: one user id per placement slot). */
function startRandomPlacer(place: PlaceFn, rate: number) {
  const stats = { placed: 0, failed: 0 };
  let n = 0;
  const timer = setInterval(() => {
    for (let i = 0; i < Math.round(rate / 20); i++) {
      n++;
      place({
        userId: `vp${n % 50_000}`,
        requestId: `v${n}`,
        x: Math.floor(Math.random() * SIDE),
        y: Math.floor(Math.random() * SIDE),
        color: 1 + (n % 31),
      }).then(
        (o) => (o.ok ? stats.placed++ : stats.failed++),
        () => stats.failed++,
      );
    }
  }, 50);
  return { stats, stop: () => clearInterval(timer) };
}

interface Group {
  sockets: WebSocket[];
  bytes: number;
  frames: number;
}

async function connectGroup(count: number, zoomed: boolean): Promise<Group> {
  const group: Group = { sockets: [], bytes: 0, frames: 0 };
  for (let i = 0; i < count; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, count - i) }, () => {
        const ws = new WebSocket(`ws://127.0.0.1:${PORT}/ws?v=1`, { perMessageDeflate: false });
        group.sockets.push(ws);
        ws.on('message', (data: Buffer, isBinary) => {
          group.bytes += data.length;
          if (isBinary) group.frames++;
          else if (zoomed && data.includes('"welcome"')) {
            const x = Math.floor(Math.random() * (SIDE - VIEW_W));
            const y = Math.floor(Math.random() * (SIDE - VIEW_H));
            ws.send(JSON.stringify({ type: 'view', x, y, width: VIEW_W, height: VIEW_H }));
          }
        });
        return new Promise((resolve) => ws.once('open', resolve).once('error', resolve));
      }),
    );
  }
  return group;
}

async function measure(pid: number, group: Group | null) {
  await sleep(2000); // past the connections' canvases and tiles
  if (group) {
    group.bytes = 0;
    group.frames = 0;
  }
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const cores = (cpuSeconds(pid) - cpu0) / elapsed;
  const per = group ? group.sockets.length * elapsed : 1;
  return {
    cores,
    bytesPerClientSecond: group ? group.bytes / per : 0,
    framesPerClientSecond: group ? group.frames / per : 0,
  };
}

async function main() {
  const { canvasId, names } = benchCanvas('benchviewport');
  log(
    `fanout-viewport: ${CLIENTS} clients per phase, ${RATE} placements/s uniformly random, view ${VIEW_W}x${VIEW_H}, ${SECONDS} s per phase, canvas ${canvasId}`,
  );
  log(`start: ${uptime()}`);
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-viewport');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-viewport');
  const edge = await startEdgeProcess(canvasId, PORT, Number(values.window), {
    FLUSH_WINDOW_MAX_MS: String(values.window),
  });
  const pid = edge.pid ?? 0;
  const { place, cleanup } = benchPlace(nc, redis, names);
  const placer = startRandomPlacer(place, RATE);
  try {
    await sleep(2000);
    const fixed = await measure(pid, null);
    log(`no clients: edge ${(fixed.cores * 100).toFixed(1)} % of a core (fixed cost); ${uptime()}`);
    for (const zoomed of [false, true]) {
      const group = await connectGroup(CLIENTS, zoomed);
      const m = await measure(pid, group);
      const open = group.sockets.filter((s) => s.readyState === WebSocket.OPEN).length;
      const perClientUs = (((m.cores - fixed.cores) * 1e6) / Math.max(1, open)).toFixed(1);
      log(
        `${zoomed ? 'zoomed-in ' : 'whole-canvas'}: ${open} open; edge ${(m.cores * 100).toFixed(1)} % of a core, ` +
          `${perClientUs} µs CPU per client per second above the fixed cost; per client ${(m.bytesPerClientSecond / 1024).toFixed(2)} KiB/s, ` +
          `${m.framesPerClientSecond.toFixed(1)} frames/s; ${uptime()}`,
      );
      for (const s of group.sockets) s.close();
      await sleep(1000);
    }
    log(`placements: ${placer.stats.placed} ok, ${placer.stats.failed} failed`);
  } finally {
    placer.stop();
    edge.kill('SIGTERM');
    await sleep(500);
    await cleanup();
  }
}

await main();
process.exit(0);
