/**
 * The history API in the production topology, not only under `npm start`: a private three-node NATS
 * cluster and every role as its own process (startTopology, as `npm run topology` and the fault suite run
 * them), two edges on free ports. Through EACH edge's port: a placement, its pixel history, the
 * point-in-time snapshot raw and as PNG, a timelapse; then the browser's history mode against one edge.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { freeNatsPorts, startTopology, type Topology } from '../../deploy/local/topology.ts';
import { nodeClient } from '../helpers/edge-process.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';
import { ensureWebBuilt, freePort, launchChromium, sessionSecret } from './browser-harness.ts';

const names = testNames('topohist');
const dataDir = mkdtempSync(join(tmpdir(), 'rplace-topohist-'));
let topology: Topology | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  const natsPorts = await freeNatsPorts();
  const edgePorts = [await freePort(), await freePort()];
  topology = await startTopology({
    dataDir,
    natsPorts,
    edgePorts,
    env: testEnv(names, {
      CANVAS_WIDTH: '40',
      CANVAS_HEIGHT: '30',
      COOLDOWN_SECONDS: '1',
      SESSION_SECRET: sessionSecret(),
      SNAPSHOT_INTERVAL_MS: '1000',
      HOST: '127.0.0.1',
    }),
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await topology?.stop();
  await cleanupCanvas(names);
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

async function eventually<T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it("serves the whole history API through each edge of the topology, and the browser's history mode", async () => {
  const edges = topology!.edgeUrls.map((url) => url.replace('localhost', '127.0.0.1'));
  const placed = [
    { x: 3, y: 4, color: 3 },
    { x: 30, y: 20, color: 28 },
  ];
  const seqs: number[] = [];
  for (const [i, edge] of edges.entries()) {
    const client = nodeClient(edge, { trackCanvas: false });
    await client.connect();
    const result = await client.place(placed[i]!.x, placed[i]!.y, placed[i]!.color);
    client.close();
    expect(result.type, JSON.stringify(result)).toBe('success');
    if (result.type === 'success') seqs.push(result.seq);
  }
  const from = Date.now() - 60_000;

  for (const [i, edge] of edges.entries()) {
    // Every edge answers for every placement, whichever edge took it: the API reads the one history.
    for (const [j, p] of placed.entries()) {
      const listed = await eventually(`${edge} pixel history of (${p.x},${p.y})`, async () => {
        const response = await fetch(`${edge}/api/v1/history/pixel?x=${p.x}&y=${p.y}`);
        expect(response.status).toBe(200);
        const body = (await response.json()) as { placements: { seq: number; color: number }[] };
        return body.placements.length > 0 ? body.placements : undefined;
      });
      expect(listed[0]).toMatchObject({ seq: seqs[j], color: p.color });
    }
    const raw = await fetch(`${edge}/api/v1/history/snapshot?time=${Date.now()}`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/octet-stream');
    const canvas = new Uint8Array(await raw.arrayBuffer());
    expect(canvas.length).toBe(40 * 30);
    for (const p of placed) expect(canvas[p.y * 40 + p.x], `edge${i + 1} snapshot at (${p.x},${p.y})`).toBe(p.color);
    const png = await fetch(`${edge}/api/v1/history/snapshot?time=${Date.now()}&format=png`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect([...new Uint8Array(await png.arrayBuffer()).subarray(0, 8)]).toEqual([
      0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a,
    ]);
    const timelapse = await fetch(
      `${edge}/api/v1/history/timelapse?from=${from}&to=${Date.now()}&fps=2&duration=2&format=apng`,
    );
    expect(timelapse.status).toBe(200);
    expect(timelapse.headers.get('content-type')).toBe('image/apng');
    expect(timelapse.headers.get('x-rplace-frames')).toBe('4');
    expect((await timelapse.arrayBuffer()).byteLength).toBeGreaterThan(100);
  }

  // The browser's history mode against the second edge: the pixel's history, the slider, back to live.
  const page = await browser!.newPage({ viewport: { width: 1000, height: 760 } });
  page.setDefaultTimeout(15_000);
  await page.goto(`${edges[1]}/?debug`);
  await page.waitForSelector('html[data-painted]');
  await page.waitForFunction(() => window.rplaceDebug.rendered(30, 20) === '#000000');
  const at = await page.evaluate(() => window.rplaceDebug.screenOf(3, 4));
  await page.mouse.click(at.x, at.y);
  await page.click('#history-toggle');
  await page.waitForSelector('#history:not([hidden])');
  await page.waitForFunction(() => document.querySelectorAll('#pixel-info li').length === 1);
  expect((await page.locator('#pixel-info li').allTextContents())[0]).toMatch(/^red by /);
  const slider = page.locator('#history-time');
  await slider.fill('0');
  await page.waitForFunction(() => window.rplaceDebug.rendered(30, 20) === '#FFFFFF');
  await slider.fill('1000');
  await page.waitForFunction(() => window.rplaceDebug.rendered(30, 20) === '#000000');
  const href = await page.getAttribute('#history-timelapse', 'href');
  expect(href).toMatch(/^\/api\/v1\/history\/timelapse\?from=/);
  const fromPage = await fetch(`${edges[1]}${href}`);
  expect(fromPage.status).toBe(200);
  await fromPage.arrayBuffer();
  await page.click('#history-live');
  await page.waitForSelector('#history', { state: 'hidden' });
  await page.close();
}, 120_000);
