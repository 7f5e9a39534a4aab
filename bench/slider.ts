/**
 * `npm run bench -- slider [--events N] [--steps S]`: the web client's history slider on a full, busy canvas,
 * end to end in headless chromium (issue 16, deliverable 5).
 *
 * N events (default 500,000: random pixels, every other one in 64-px colour blocks so the canvas neither
 * compresses unrealistically well nor is pure noise) are appended to this run's stream with `placedAt` spread
 * over the last 20 minutes; the all-in-one process (`dev`: edge, projectors, history API with snapshots every
 * 30 s of event time) ingests them on a 2000×2000 canvas. Two pages open history mode: one on the previous
 * path (`?slider=png`: a PNG encoded per step on the server, decoded and drawn by the browser), one on the
 * new (`GET /api/v1/history/canvas`: palette indices drawn with the client's palette). Both then drag the
 * slider through S steps of a random walk (±1–20 of the slider's 1000), alternating page by page so the
 * machine's load falls on both alike; each step is timed inside the page from the `input` event to the
 * animation frame that painted the answer. A third page, zoomed in, shows the region-only path. Target: p50 ≤ 50 ms per step (new path).
 */
import { execSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { Page } from 'playwright-core';
import { encodeEvent, EventKind } from '../proto/event-codec.ts';
import { applyStreams } from '../streams/apply.ts';
import { randomPixels } from '../test/helpers/append-events.ts';
import {
  deleteRedisKeys,
  deleteStream,
  dropSchema,
  TEST_NATS_URL,
  TEST_REDIS_URL,
  testEnv,
  testNames,
} from '../test/helpers/isolation.ts';
import {
  ensureWebBuilt,
  freePort,
  launchChromium,
  sessionSecret,
  type startRole,
  startServingRole,
} from '../test/e2e/browser-harness.ts';

const { values } = parseArgs({
  options: { events: { type: 'string', default: '500000' }, steps: { type: 'string', default: '60' } },
});
const EVENTS = Number(values.events);
const STEPS = Number(values.steps);
const WIDTH = 2000;
const HEIGHT = 2000;
const SPAN_MS = 20 * 60_000;
const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))] ?? Number.NaN;
const load = () =>
  execSync('uptime')
    .toString()
    .trim()
    .replace(/^.*load/, 'load');

/** Slider positions of a drag: a deterministic random walk inside (0, 1000). */
function walk(steps: number, from: number, seed: number): number[] {
  let s = seed;
  const out: number[] = [];
  let v = from;
  for (let i = 0; i < steps; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const d = 1 + (s % 20);
    v = v + (s & 0x10000 ? d : -d);
    if (v < 1 || v > 999) v = from;
    out.push(v);
  }
  return out;
}

/** One step, timed in the page: `input` → the answer drawn (the frame after the renderer's flush). Source text: see bench/client.ts. */
function step(page: Page, value: number): Promise<number> {
  return page.evaluate(`(async () => {
    const slider = document.getElementById('history-time');
    const before = window.rplaceDebug.history().steps;
    const t0 = performance.now();
    slider.value = '${value}';
    slider.dispatchEvent(new Event('input'));
    while (window.rplaceDebug.history().steps === before) {
      if (performance.now() - t0 > 60000) throw new Error('no answer drawn in 60 s: ' + document.getElementById('history-note').textContent);
      await new Promise((r) => setTimeout(r, 0));
    }
    await new Promise((r) => requestAnimationFrame(() => r()));
    return performance.now() - t0;
  })()`);
}

const names = testNames('h_slider_bench');
const nc = await connect({ servers: TEST_NATS_URL });
const redis = new Redis(TEST_REDIS_URL);
let role: ReturnType<typeof startRole> | undefined;
try {
  process.stdout.write(
    `slider bench: ${WIDTH}×${HEIGHT} canvas, ${EVENTS} events over ${SPAN_MS / 60_000} min, ${STEPS} steps per path; ${load()}\n`,
  );
  await ensureWebBuilt();
  await applyStreams(nc, names);
  const pixels = randomPixels(EVENTS, WIDTH, HEIGHT, 32, 16);
  const js = jetstream(nc);
  const from = Date.now() - SPAN_MS - 30_000;
  const t0 = performance.now();
  for (let i = 0; i < EVENTS; i += 2000) {
    await Promise.all(
      pixels.slice(i, i + 2000).map((p, j) => {
        const n = i + j;
        const color = n % 2 === 0 ? ((p.x >> 6) + (p.y >> 6)) % 32 : p.color;
        const placedAt = from + Math.floor((n * SPAN_MS) / EVENTS);
        return js.publish(
          names.pixelSubject(p.x, p.y),
          encodeEvent({
            kind: EventKind.PixelPlaced,
            x: p.x,
            y: p.y,
            color,
            userId: `u${n % 5000}`,
            requestId: `r${n}`,
            placedAt,
          }),
        );
      }),
    );
  }
  process.stdout.write(`  appended in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  role = await startServingRole(
    'dev',
    testEnv(names, {
      START_SERVICES: '0',
      CANVAS_WIDTH: String(WIDTH),
      CANVAS_HEIGHT: String(HEIGHT),
      SESSION_SECRET: sessionSecret(),
    }),
    port,
    '/api/v1/history/info',
    120_000,
  );
  const ingest = performance.now();
  for (;;) {
    const info = (await (await fetch(`${base}/api/v1/history/info`)).json()) as { position: number; snapshots: number };
    if (info.position >= EVENTS) {
      process.stdout.write(
        `  history ingested in ${((performance.now() - ingest) / 1000).toFixed(1)} s, ${info.snapshots} snapshots\n`,
      );
      break;
    }
    if (performance.now() - ingest > 600_000) throw new Error(`history stuck at ${info.position}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const browser = await launchChromium();
  try {
    const open = async (query: string, hash = ''): Promise<Page> => {
      const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      await page.goto(`${base}/?debug${query}${hash}`);
      await page.waitForSelector('html[data-painted]', { timeout: 60_000 });
      await page.click('#history-toggle');
      await page.waitForSelector('#history:not([hidden])');
      return page;
    };
    const png = await open('&slider=png');
    const indices = await open('');
    // Zoomed in (8 px per pixel: a 160×100 view): the region asked for is 320×200.
    const zoomed = await open('', '#x=1000&y=1000&z=8');
    // One warm-up step each (JIT, first snapshot reads), not counted.
    await step(png, 500);
    await step(indices, 501);
    await step(zoomed, 502);
    const times = { png: [] as number[], indices: [] as number[], zoomed: [] as number[] };
    const walkPng = walk(STEPS, 500, 7);
    const walkIdx = walkPng.map((v) => (v >= 999 ? v - 1 : v + 1));
    for (let i = 0; i < STEPS; i++) {
      times.png.push(await step(png, walkPng[i] as number));
      times.indices.push(await step(indices, walkIdx[i] as number));
      times.zoomed.push(await step(zoomed, Math.max(1, (walkIdx[i] as number) - 2)));
    }
    const sizes = (await indices.evaluate(`(async () => {
      const iso = new Date(Date.now() - 60000).toISOString();
      const a = await fetch('/api/v1/history/snapshot?format=png&time=' + iso);
      const b = await fetch('/api/v1/history/canvas?encoding=identity&time=' + iso);
      return { png: (await a.arrayBuffer()).byteLength, indices: (await b.arrayBuffer()).byteLength, encoding: b.headers.get('content-encoding') };
    })()`)) as { png: number; indices: number; encoding: string | null };
    const line = (label: string, xs: number[]) => {
      const s = [...xs].sort((a, b) => a - b);
      return `  ${label.padEnd(34)} p50 ${pct(s, 0.5).toFixed(1)} ms, p99 ${pct(s, 0.99).toFixed(1)} ms, max ${(s.at(-1) ?? 0).toFixed(1)} ms`;
    };
    process.stdout.write(`\nslider step, input → drawn (${STEPS} steps each, alternating):\n`);
    process.stdout.write(`${line('previous: PNG per step', times.png)}\n`);
    process.stdout.write(`${line('new: palette indices (history/canvas)', times.indices)}  [target p50 ≤ 50 ms]\n`);
    const p50 = (xs: number[]) =>
      pct(
        [...xs].sort((a, b) => a - b),
        0.5,
      );
    process.stdout.write(`${line('new, zoomed in (visible region)', times.zoomed)}\n`);
    process.stdout.write(`  ratio new / previous p50: ${(p50(times.indices) / p50(times.png)).toFixed(2)}×\n`);
    process.stdout.write(
      `  one full answer on the wire (as the slider asks for it): PNG ${(sizes.png / 1e6).toFixed(2)} MB, indices ${(sizes.indices / 1e6).toFixed(2)} MB (content-encoding ${sizes.encoding ?? 'identity'})\n`,
    );
    // Where the time goes: the same answers fetched from Node (no browser), 10 instants each.
    const server = async (path: string, gzip: boolean) => {
      const xs: number[] = [];
      for (let i = 0; i < 10; i++) {
        const iso = new Date(from + SPAN_MS * (0.3 + i * 0.05)).toISOString();
        const t = performance.now();
        const res = await fetch(`${base}${path}${iso}`, { headers: { 'accept-encoding': gzip ? 'gzip' : 'identity' } });
        await res.arrayBuffer();
        xs.push(performance.now() - t);
      }
      return pct(
        xs.sort((a, b) => a - b),
        0.5,
      ).toFixed(1);
    };
    process.stdout.write(
      `  server only (Node fetch, p50 of 10): PNG ${await server('/api/v1/history/snapshot?format=png&time=', false)} ms, raw snapshot ${await server('/api/v1/history/snapshot?format=raw&time=', false)} ms, indices identity ${await server('/api/v1/history/canvas?time=', false)} ms, indices gzip ${await server('/api/v1/history/canvas?time=', true)} ms\n`,
    );
    process.stdout.write(`  ${load()}\n`);
  } finally {
    await browser.close();
  }
} finally {
  await role?.stop();
  await deleteStream(nc, names);
  await deleteRedisKeys(redis, names);
  await dropSchema(names).catch(() => undefined);
  await nc.close();
  redis.disconnect();
}
