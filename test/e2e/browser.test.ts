/**
 * The web client in a real browser (Debian chromium, headless) against the real processes: an edge and a
 * bitmap projector spawned as children on this file's own canvas id and a free port.
 *
 * Given two players, when one places a pixel, then the other sees it within 1 s, the first sees its
 * cooldown, and both canvases equal `GET /api/v1/canvas` byte for byte. Given a page whose edge is killed
 * while others keep placing, when the edge restarts, then the page reconnects by itself and ends equal to
 * the canonical canvas. Given a phone-sized touch screen, pinch zooms, a drag pans and tap-tap-tap places.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { RplaceClient } from '../../src/client/index.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';
import {
  ARTIFACTS,
  ensureWebBuilt,
  freePort,
  launchChromium,
  pageCanvas,
  settledCanvases,
  startRole,
  startServingRole,
  sessionSecret,
  type RoleProcess,
} from './browser-harness.ts';

const names = testNames('browser');
const WIDTH = 96;
const HEIGHT = 64;
const COOLDOWN_SECONDS = 30;

let env: Record<string, string>;
let base = '';
let port = 0;
let edge: RoleProcess | undefined;
let projector: RoleProcess | undefined;
const extraRoles: RoleProcess[] = [];
let browser: Browser | undefined;
const contexts: BrowserContext[] = [];

const startEdge = (onPort: number) => startServingRole('edge', env, onPort);

async function openPlayer(viewport: { width: number; height: number }, touch = false): Promise<Page> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({
    viewport,
    hasTouch: touch,
    isMobile: touch,
    deviceScaleFactor: touch ? 2 : 1,
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}/?debug`);
  await page.waitForSelector('html[data-painted]', { timeout: 10_000 });
  await page.waitForFunction(() => window.rplaceDebug.client.status === 'synced');
  expect(errors).toEqual([]);
  return page;
}

/** Selects (x, y) by clicking it on screen, picks `color` from the palette and presses Place. */
async function placeByClicks(page: Page, x: number, y: number, color: number): Promise<void> {
  const at = await page.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
  await page.mouse.click(at.x, at.y);
  expect(await page.evaluate(() => window.rplaceDebug.placement().selected)).toEqual({ x, y });
  await page.click(`.swatch[data-color="${color}"]`);
  await page.click('#place');
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureWebBuilt();
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = testEnv(names, {
    CANVAS_WIDTH: String(WIDTH),
    CANVAS_HEIGHT: String(HEIGHT),
    COOLDOWN_SECONDS: String(COOLDOWN_SECONDS),
    SESSION_SECRET: sessionSecret(),
    FLUSH_WINDOW_MS: '20',
  });
  projector = startRole('bitmap-projector', env);
  edge = await startEdge(port);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await Promise.all([edge, projector, ...extraRoles].map((r) => r?.stop()));
  await cleanupCanvas(names);
}, 60_000);

describe('web client in chromium', () => {
  it('shows a placement in another page within 1 s, shows the cooldown, and both canvases equal the canonical one', async () => {
    const alice = await openPlayer({ width: 1280, height: 800 });
    const bob = await openPlayer({ width: 1024, height: 700 });

    const x = 17;
    const y = 23;
    const color = 5;
    expect(await bob.evaluate((a) => window.rplaceDebug.pixel(a.x, a.y), { x, y })).not.toBe(color);
    await placeByClicks(alice, x, y, color);
    const clickedAt = Date.now();
    await bob.waitForFunction(
      ({ x, y, color }) => window.rplaceDebug.pixel(x, y) === color,
      { x, y, color },
      { timeout: 1000, polling: 10 },
    );
    const seenAfterMs = Date.now() - clickedAt;
    expect(seenAfterMs).toBeLessThan(1000);
    // Drawn on bob's screen too, not only in his bytes (yellow in the default palette).
    await bob.waitForFunction(
      ({ x, y }) => window.rplaceDebug.rendered(x, y) === '#FFD635',
      { x, y },
      { timeout: 1000 },
    );

    // Alice: success, then a countdown on the Place button.
    await alice.waitForFunction(() => document.getElementById('feedback')?.dataset.kind === 'ok');
    const label = await alice.textContent('#place');
    expect(label).toMatch(/^0:(2\d|30)$/);
    expect(await alice.isDisabled('#place')).toBe(true);
    const cooldownMs = await alice.evaluate(() => window.rplaceDebug.placement().cooldownMs);
    expect(cooldownMs).toBeGreaterThan((COOLDOWN_SECONDS - 5) * 1000);

    // A reload keeps the cooldown (from welcome.cooldownRemaining).
    await alice.reload();
    await alice.waitForSelector('html[data-painted]');
    await alice.waitForFunction(() => /^0:[0-3]\d$/.test(document.getElementById('place')?.textContent ?? ''));
    expect(await alice.evaluate(() => window.rplaceDebug.placement().cooldownMs)).toBeGreaterThan(
      (COOLDOWN_SECONDS - 8) * 1000,
    );

    // A second try during the cooldown is refused with a clear message (through a fresh selection).
    await placeByClicksExpectingDisabled(alice, 3, 4, 7);

    for (const page of [alice, bob]) {
      const { page: bytes, canonical } = await settledCanvases(page, base);
      expect(bytes.length).toBe(WIDTH * HEIGHT);
      expect(bytes.equals(canonical)).toBe(true);
    }
    expect((await (await fetch(`${base}/api/v1/canvas`)).arrayBuffer()).byteLength).toBe(WIDTH * HEIGHT);
    await alice.screenshot({ path: join(ARTIFACTS, 'browser-desktop.png') });
  }, 45_000);

  it('reconnects by itself after the edge is killed and restarted, ending equal to the canonical canvas', async () => {
    const carol = await openPlayer({ width: 900, height: 700 });
    const before = await pageCanvas(carol);

    // A second edge keeps taking placements while the first is down.
    const otherPort = await freePort();
    const other = await startEdge(otherPort);
    extraRoles.push(other);

    await edge?.stop('SIGKILL');
    await carol.waitForFunction(() => window.rplaceDebug.client.status === 'reconnecting', undefined, {
      timeout: 5000,
    });
    expect(await carol.getAttribute('#status', 'data-state')).toBe('pending');

    const placer = new RplaceClient({ url: `http://127.0.0.1:${otherPort}`, WebSocket, trackCanvas: false });
    await placer.connect();
    const placed: { x: number; y: number; color: number }[] = [{ x: 40, y: 10, color: 13 }];
    const result = await placer.place(40, 10, 13);
    expect(result.type).toBe('success');
    placer.close();

    edge = await startEdge(port);
    // Back-off is 1 s, 2 s, 4 s … plus jitter: a few seconds at most here.
    await carol.waitForFunction(() => window.rplaceDebug.client.status === 'synced', undefined, { timeout: 15_000 });
    for (const p of placed) await carol.waitForFunction((q) => window.rplaceDebug.pixel(q.x, q.y) === q.color, p);
    const after = await settledCanvases(carol, base);
    expect(after.seq).toBeGreaterThan(before.seq);
    expect(after.page.equals(after.canonical)).toBe(true);
    expect(await carol.getAttribute('#status', 'data-state')).toBe('live');
  }, 45_000);

  it('on a phone-sized touch screen: pinch zooms, a drag pans, tap-tap-tap places', async () => {
    const phone = await openPlayer({ width: 360, height: 740 }, true);
    const cdp: CDPSession = await phone.context().newCDPSession(phone);
    const box = await phone.locator('#viewport').boundingBox();
    if (!box) throw new Error('no viewport');
    const cx = box.x + box.width / 2;
    const cy = box.y + box.height / 2;
    const touch = (type: 'touchStart' | 'touchMove' | 'touchEnd', points: { x: number; y: number }[]) =>
      cdp.send('Input.dispatchTouchEvent', { type, touchPoints: points.map((p, id) => ({ x: p.x, y: p.y, id })) });

    // Pinch out: two fingers moving apart around the centre.
    const zoom0 = (await phone.evaluate(() => window.rplaceDebug.camera())).zoom;
    await touch('touchStart', [
      { x: cx - 20, y: cy },
      { x: cx + 20, y: cy },
    ]);
    for (let i = 1; i <= 10; i++)
      await touch('touchMove', [
        { x: cx - 20 - i * 8, y: cy },
        { x: cx + 20 + i * 8, y: cy },
      ]);
    await touch('touchEnd', []);
    const zoom1 = (await phone.evaluate(() => window.rplaceDebug.camera())).zoom;
    expect(zoom1).toBeGreaterThan(zoom0 * 2.5);

    // Drag with one finger: the canvas follows the finger.
    const cam1 = await phone.evaluate(() => window.rplaceDebug.camera());
    await touch('touchStart', [{ x: cx, y: cy }]);
    for (let i = 1; i <= 8; i++) await touch('touchMove', [{ x: cx - i * 10, y: cy - i * 5 }]);
    await touch('touchEnd', []);
    const cam2 = await phone.evaluate(() => window.rplaceDebug.camera());
    expect(cam2.x - cam1.x).toBeCloseTo(80 / cam1.zoom, 1);
    expect(cam2.y - cam1.y).toBeCloseTo(40 / cam1.zoom, 1);
    expect(await phone.evaluate(() => window.rplaceDebug.placement().selected)).toBeNull(); // a drag is not a tap

    // Tap a pixel, tap a colour, tap Place.
    const x = 60;
    const y = 40;
    const color = 28;
    const at = await phone.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
    const inView = at.x > box.x && at.x < box.x + box.width && at.y > box.y && at.y < box.y + box.height;
    if (!inView) {
      // Bring the pixel under the finger first: the view's URL hash is the shareable position.
      await phone.evaluate(
        ({ x, y, z }) => {
          location.hash = `#x=${x}&y=${y}&z=${z}`;
        },
        { x, y, z: zoom1 },
      );
      await phone.waitForFunction(
        ({ x, y }) => {
          const c = window.rplaceDebug.camera();
          return Math.abs(c.x - x) < 1 && Math.abs(c.y - y) < 1;
        },
        { x, y },
      );
    }
    const target = await phone.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
    await phone.touchscreen.tap(target.x, target.y);
    expect(await phone.evaluate(() => window.rplaceDebug.placement().selected)).toEqual({ x, y });
    await phone.locator(`.swatch[data-color="${color}"]`).tap();
    await phone.locator('#place').tap();
    await phone.waitForFunction(({ x, y, color }) => window.rplaceDebug.pixel(x, y) === color, { x, y, color });
    await phone.waitForFunction(() => document.getElementById('feedback')?.dataset.kind === 'ok');
    // The layout fits 360 px: nothing wider than the screen.
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
    const settled = await settledCanvases(phone, base);
    expect(settled.page.equals(settled.canonical)).toBe(true);
    await phone.screenshot({ path: join(ARTIFACTS, 'browser-phone.png') });
  }, 45_000);
});

/** During a cooldown, selecting and picking still work but Place stays disabled and shows the countdown. */
async function placeByClicksExpectingDisabled(page: Page, x: number, y: number, color: number): Promise<void> {
  const at = await page.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
  await page.mouse.click(at.x, at.y);
  await page.click(`.swatch[data-color="${color}"]`);
  expect(await page.isDisabled('#place')).toBe(true);
  expect(await page.getAttribute('#place', 'aria-label')).toMatch(/^Next pixel in 0:\d\d$/);
}
