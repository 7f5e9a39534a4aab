/**
 * History mode of the web client in chromium, against `npm start`'s all-in-one process (edge + projectors +
 * history API on one port) on this file's own canvas id.
 *
 * Given pixels placed one after another, when the player opens history mode and drags the time slider to
 * the start, then the canvas shows the blank board; back at the end, the placed pixels; the selected
 * pixel's history lists its placements; and leaving history mode shows the live canvas again.
 */
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RplaceClient } from '../../src/client/index.ts';
import { HEAT_PALETTE } from '../../src/app/history/heatmap.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';
import {
  ARTIFACTS,
  ensureWebBuilt,
  freePort,
  launchChromium,
  sessionSecret,
  startServingRole,
  type RoleProcess,
} from './browser-harness.ts';

const names = testNames('bhistory');
let base = '';
let all: RoleProcess | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  all = await startServingRole(
    'dev',
    testEnv(names, {
      START_SERVICES: '0',
      CANVAS_WIDTH: '40',
      CANVAS_HEIGHT: '30',
      COOLDOWN_SECONDS: '1',
      SESSION_SECRET: sessionSecret(),
      SNAPSHOT_INTERVAL_MS: '1000',
    }),
    port,
    '/api/v1/history/info',
    60_000,
  );
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await all?.stop();
  await cleanupCanvas(names);
}, 60_000);

it("scrubs the canvas through time, lists a pixel's history and returns to live", async () => {
  // Three placements by three guests (no cooldown between them), the first two on the same pixel.
  const placed: { x: number; y: number; color: number }[] = [
    { x: 5, y: 6, color: 3 },
    { x: 5, y: 6, color: 13 },
    { x: 20, y: 10, color: 28 },
  ];
  for (const p of placed) {
    const c = new RplaceClient({ url: base, WebSocket, trackCanvas: false });
    await c.connect();
    expect((await c.place(p.x, p.y, p.color)).type).toBe('success');
    c.close();
  }
  // The history projector has written them when /info says so.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = (await (await fetch(`${base}/api/v1/history/info`)).json()) as {
      position: number;
      lastPlacedAt: number | null;
    };
    if (info.position >= placed.length && info.lastPlacedAt !== null) break;
    if (Date.now() > deadline) throw new Error(`history projector did not catch up: ${JSON.stringify(info)}`);
    await new Promise((r) => setTimeout(r, 200));
  }

  if (!browser) throw new Error('no browser');
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  page.setDefaultTimeout(10_000);
  await page.goto(`${base}/?debug`);
  await page.waitForSelector('html[data-painted]');
  await page.waitForFunction(() => window.rplaceDebug.rendered(20, 10) === '#000000');

  // Select (5, 6), then open history mode: the pixel's history lists both placements, newest first.
  const at = await page.evaluate(() => window.rplaceDebug.screenOf(5, 6));
  await page.mouse.click(at.x, at.y);
  await page.click('#history-toggle');
  await page.waitForSelector('#history:not([hidden])');
  await page.waitForFunction(() => document.querySelectorAll('#pixel-info li').length === 2);
  const items = await page.locator('#pixel-info li').allTextContents();
  // Guests by the same label the header gives them, never their id.
  expect(items[0]).toMatch(/^dark blue by Guest [0-9a-f]{6}, /);
  expect(items[1]).toMatch(/^red by Guest [0-9a-f]{6}, /);

  // Slider to the start: the blank canvas.
  const slider = page.locator('#history-time');
  await slider.fill('0');
  await page.waitForFunction(() => /^Showing /.test(document.getElementById('history-note')?.textContent ?? ''));
  await page.waitForFunction(
    () => window.rplaceDebug.rendered(20, 10) === '#FFFFFF' && window.rplaceDebug.rendered(5, 6) === '#FFFFFF',
  );
  // The timelapse ending here would show nothing: the line under the link names its range and says so.
  await page.waitForFunction(() =>
    /^Timelapse: 40×\d+ at \(0,\d+\), .+ – .+\. No pixel of this region changes in that range/.test(
      document.getElementById('history-timelapse-range')?.textContent ?? '',
    ),
  );
  // The header says this is the past, and when: not a green "Live".
  expect(await page.getAttribute('#status', 'data-state')).toBe('past');
  expect(await page.textContent('#status .status-text')).toMatch(/^History: \S/);

  // Slider to the end: every placement.
  await slider.fill('1000');
  await page.waitForFunction(
    () => window.rplaceDebug.rendered(20, 10) === '#000000' && window.rplaceDebug.rendered(5, 6) === '#2450A4',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'browser-history.png') });
  await page.waitForFunction(() =>
    /^Timelapse: 40×\d+ at \(0,\d+\), .+ – [^.]+$/.test(
      document.getElementById('history-timelapse-range')?.textContent ?? '',
    ),
  );

  // The layer picker: the heatmap (5,6 placed twice is the busiest, 20,10 once), the never-placed pixels, the canvas again.
  await page.selectOption('#history-layer', 'heatmap');
  await page.waitForFunction(
    ([hot, once]) =>
      window.rplaceDebug.rendered(5, 6) === hot &&
      window.rplaceDebug.rendered(20, 10) === once &&
      window.rplaceDebug.rendered(0, 0) === '#000000',
    [HEAT_PALETTE[31]?.hex, HEAT_PALETTE[1]?.hex],
  );
  await page.selectOption('#history-layer', 'virgin');
  await page.waitForFunction(
    () =>
      window.rplaceDebug.rendered(5, 6) === '#000000' &&
      window.rplaceDebug.rendered(20, 10) === '#000000' &&
      window.rplaceDebug.rendered(0, 0) === '#FFFFFF',
  );
  await page.selectOption('#history-layer', 'canvas');
  await page.waitForFunction(
    () => window.rplaceDebug.rendered(20, 10) === '#000000' && window.rplaceDebug.rendered(5, 6) === '#2450A4',
  );

  // The timelapse link covers the visible region (the history panel hides a few rows at the bottom).
  const href = await page.getAttribute('#history-timelapse', 'href');
  const region = /&x=(\d+)&y=(\d+)&w=(\d+)&h=(\d+)&fps=10&duration=10&format=apng$/.exec(href ?? '');
  expect(href).toMatch(/^\/api\/v1\/history\/timelapse\?from=/);
  expect(region?.slice(1).map(Number)).toEqual([0, expect.any(Number), 40, expect.any(Number)]);
  const [, , ry, , rh] = (region ?? []).map(Number) as number[];
  expect((ry ?? 99) <= 10 && (ry ?? 0) + (rh ?? 0) > 10).toBe(true); // row 10 is on screen
  const timelapse = await fetch(`${base}${href}`);
  expect(timelapse.status).toBe(200);
  expect(timelapse.headers.get('content-type')).toBe('image/apng');
  await timelapse.arrayBuffer();

  // This server has ffmpeg (CI installs it): the format picker offers MP4/WebM, and the link follows it.
  await page.waitForSelector('#history-format', { state: 'visible' });
  expect(
    await page.$$eval('#history-format option', (options) => options.map((o) => (o as HTMLOptionElement).value)),
  ).toEqual(['apng', 'mp4', 'webm']);
  await page.selectOption('#history-format', 'mp4');
  const mp4Href = await page.getAttribute('#history-timelapse', 'href');
  expect(mp4Href).toMatch(/&format=mp4$/);
  expect(await page.getAttribute('#history-timelapse', 'download')).toMatch(/\.mp4$/);
  const mp4 = await fetch(`${base}${mp4Href}`);
  expect(mp4.headers.get('content-type')).toBe('video/mp4');
  await mp4.arrayBuffer();

  // Back to live: the live canvas again, history panel closed.
  await slider.fill('0');
  await page.waitForFunction(() => window.rplaceDebug.rendered(20, 10) === '#FFFFFF');
  await page.click('#history-live');
  await page.waitForSelector('#history', { state: 'hidden' });
  await page.waitForFunction(() => window.rplaceDebug.rendered(20, 10) === '#000000');

  // Sign-in state: a guest creates an account from the dialog; the page comes back signed in, same view.
  expect(await page.textContent('#user')).toMatch(/^Guest /);
  const username = `web${Date.now().toString(36)}`;
  await page.click('#account');
  await page.fill('input[name="username"]', username);
  await page.fill('input[name="password"]', 'correct horse battery');
  await page.click('button[value="register"]');
  await page.waitForFunction((name) => document.getElementById('user')?.textContent === name, username, {
    timeout: 15_000,
  });
  expect(await page.textContent('#account')).toBe('Sign out');
  await page.close();
}, 60_000);
