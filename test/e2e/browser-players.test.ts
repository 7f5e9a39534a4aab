/**
 * Templates and placing that cannot miss, in chromium (desktop and phone viewports) against a real edge and
 * bitmap projector. Placements reach the stream directly (appendPixels), as other players' would.
 *
 * Given a template added from a URL, its right / wrong / remaining equal a count made in the test from the
 * page's canvas bytes, before and after live updates; "next wrong pixel" selects a wrong pixel with its colour;
 * bad templates get a message and break nothing; a reload keeps the template and a link shares it. Given the
 * whole canvas on screen, a tap zooms in around the pixel first and only the next tap selects it. Also: a
 * template from a file, two at once (one scaled 2×), and the reconnect countdown with "Retry now".
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { NO_PIXEL } from '../../web/src/template.ts';
import { appendPixels, type TestPixel } from '../helpers/append-events.ts';
import { cleanupCanvas, TEST_NATS_URL, testEnv, testNames } from '../helpers/isolation.ts';
import { encodeRgbaPng } from '../helpers/png.ts';
import {
  ARTIFACTS,
  ensureWebBuilt,
  freePort,
  launchChromium,
  settledCanvases,
  startRole,
  startServingRole,
  sessionSecret,
  type RoleProcess,
} from './browser-harness.ts';

const names = testNames('players');
const WIDTH = 200;
const HEIGHT = 150;
const TPL = { x: 30, y: 40, w: 24, h: 16 };
const TEMPLATE_URL = 'https://templates.example/heart.png';

let env: Record<string, string>;
let base = '';
let edge: RoleProcess | undefined;
let projector: RoleProcess | undefined;
let browser: Browser | undefined;
let nc: NatsConnection;
const contexts: BrowserContext[] = [];

/** Template pixels: palette colours by a pattern, a transparent column (no pixel) and one colour far from the palette. */
const FAR = [0x00, 0x0f, 0x4b]; // 0.24 from every r/place 2022 colour (test/unit/template.test.ts)
function templateTarget(tx: number, ty: number): number | 'far' {
  if (tx === 0) return NO_PIXEL;
  if (tx === 1 && ty === 1) return 'far';
  return ((tx + ty * 3) % 5) + 1;
}
function templatePng(): Buffer {
  const rgba = new Uint8Array(TPL.w * TPL.h * 4);
  for (let ty = 0; ty < TPL.h; ty++) {
    for (let tx = 0; tx < TPL.w; tx++) {
      const t = templateTarget(tx, ty);
      const o = (ty * TPL.w + tx) * 4;
      if (t === NO_PIXEL) continue;
      if (t === 'far') rgba.set([...FAR, 255], o);
      else {
        const n = Number.parseInt((PALETTE_32[t] as { hex: string }).hex.slice(1), 16);
        rgba.set([n >> 16, (n >> 8) & 0xff, n & 0xff, 255], o);
      }
    }
  }
  return encodeRgbaPng(rgba, TPL.w, TPL.h);
}

/** The reference count, from the canvas bytes alone. */
function countFromCanvas(canvas: Buffer): { total: number; right: number; wrong: number; remaining: number } {
  let total = 0,
    right = 0,
    wrong = 0,
    remaining = 0;
  for (let ty = 0; ty < TPL.h; ty++) {
    for (let tx = 0; tx < TPL.w; tx++) {
      const t = templateTarget(tx, ty);
      if (t === NO_PIXEL || t === 'far') continue;
      total++;
      const c = canvas[(TPL.y + ty) * WIDTH + TPL.x + tx];
      if (c === t) right++;
      else if (c === 0) remaining++;
      else wrong++;
    }
  }
  return { total, right, wrong, remaining };
}

async function openPage(viewport: { width: number; height: number }, touch: boolean, hash = ''): Promise<Page> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({
    viewport,
    hasTouch: touch,
    isMobile: touch,
    deviceScaleFactor: touch ? 2 : 1,
  });
  contexts.push(context);
  const png = templatePng();
  // The template host: a cross-origin image server that allows reads (CORS), plus the failure cases.
  await context.route('https://templates.example/**', async (route) => {
    const path = new URL(route.request().url()).pathname;
    if (path === '/heart.png')
      return route.fulfill({
        status: 200,
        body: png,
        headers: { 'content-type': 'image/png', 'access-control-allow-origin': '*' },
      });
    if (path === '/not-an-image.png')
      return route.fulfill({
        status: 200,
        body: '<html>hello</html>',
        headers: { 'content-type': 'text/html', 'access-control-allow-origin': '*' },
      });
    if (path === '/huge.png')
      return route.fulfill({
        status: 200,
        body: Buffer.alloc(17 * 1024 * 1024),
        headers: { 'content-type': 'image/png', 'access-control-allow-origin': '*' },
      });
    return route.abort('connectionrefused');
  });
  const page = await context.newPage();
  page.setDefaultTimeout(10_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  (page as Page & { errors?: string[] }).errors = errors;
  await page.goto(`${base}/?debug${hash}`);
  await page.waitForSelector('html[data-painted]');
  await page.waitForFunction(() => window.rplaceDebug.client.status === 'synced');
  return page;
}

async function press(page: Page, selector: string, touch: boolean): Promise<void> {
  if (touch) await page.locator(selector).tap();
  else await page.click(selector);
}

async function addTemplate(page: Page, touch: boolean, url: string, x: number, y: number, scale = '1'): Promise<void> {
  if (await page.locator('#templates').isHidden()) await press(page, '#templates-toggle', touch);
  await page.fill('#template-url', url);
  await page.fill('#template-x', String(x));
  await page.fill('#template-y', String(y));
  await page.fill('#template-scale', scale);
  await press(page, '#template-add', touch);
}

type Counts = { total: number; right: number; wrong: number; remaining: number };
const pageCounts = (page: Page) =>
  page.evaluate(() => (window.rplaceDebug as unknown as { templates(): Counts[] }).templates());

/** Waits until the page's counts equal a count from its own canvas bytes at the edge's sequence. */
async function expectCountsMatchCanvas(page: Page): Promise<Counts> {
  const settled = await settledCanvases(page, base);
  expect(settled.page.equals(settled.canonical)).toBe(true);
  const want = countFromCanvas(settled.page);
  await page
    .waitForFunction(
      (w) => {
        const t = (window.rplaceDebug as unknown as { templates(): Counts[] }).templates()[0];
        return t && t.right === w.right && t.wrong === w.wrong && t.remaining === w.remaining && t.total === w.total;
      },
      want,
      { timeout: 5000 },
    )
    .catch(() => undefined);
  const [got] = await pageCounts(page);
  expect({ total: got?.total, right: got?.right, wrong: got?.wrong, remaining: got?.remaining }).toEqual(want);
  return want;
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureWebBuilt();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  env = testEnv(names, {
    CANVAS_WIDTH: String(WIDTH),
    CANVAS_HEIGHT: String(HEIGHT),
    COOLDOWN_SECONDS: '1',
    SESSION_SECRET: sessionSecret(),
    FLUSH_WINDOW_MS: '20',
  });
  projector = startRole('bitmap-projector', env);
  edge = await startServingRole('edge', env, port);
  nc = await connect({ servers: TEST_NATS_URL });
  // Someone already worked on the template's area: some right, some wrong, the rest blank.
  const prefill: TestPixel[] = [];
  for (let ty = 0; ty < TPL.h; ty++) {
    for (let tx = 0; tx < TPL.w; tx += 2) {
      const t = templateTarget(tx, ty);
      prefill.push({
        x: TPL.x + tx,
        y: TPL.y + ty,
        color: typeof t === 'number' && t !== NO_PIXEL && ty % 3 === 0 ? t : 20 + (tx % 4),
      });
    }
  }
  await appendPixels(nc, names, prefill);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await Promise.all([edge, projector].map((r) => r?.stop()));
  await nc?.close();
  await cleanupCanvas(names);
}, 60_000);

const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, touch: false },
  { name: 'phone', viewport: { width: 390, height: 844 }, touch: true },
] as const;

describe.each(VIEWPORTS)('templates in chromium ($name)', ({ name, viewport, touch }) => {
  it('progress equals a count from the canvas bytes, live; next wrong pixel selects it with its colour; reload and link keep it', async () => {
    const page = await openPage(viewport, touch);
    await addTemplate(page, touch, TEMPLATE_URL, TPL.x, TPL.y);
    await page.waitForSelector('.template-item');
    expect(await page.textContent('#template-message')).toMatch(/Added heart\.png: 24×16 at \(30, 40\)/);
    // The mapping lists the far colour as unmatched, and the transparent column as no pixel.
    const summary = await page.textContent('.template-mapping summary');
    expect(summary).toMatch(/1 pixels unmatched/);
    expect(summary).toMatch(/16 transparent \(no pixel\)/);
    const before = await expectCountsMatchCanvas(page);
    expect(before.right).toBeGreaterThan(0);
    expect(before.wrong).toBeGreaterThan(0);
    expect(before.remaining).toBeGreaterThan(0);
    expect(await page.textContent('.template-progress')).toContain(
      `${before.right} right · ${before.wrong} wrong · ${before.remaining} remaining`,
    );

    // Live: others fix some pixels and spoil others; the counts follow, frame by frame.
    const live: TestPixel[] = [];
    for (let ty = 0; ty < TPL.h; ty += 2) {
      for (let tx = 1; tx < TPL.w; tx += 3) {
        const t = templateTarget(tx, ty);
        live.push({ x: TPL.x + tx, y: TPL.y + ty, color: typeof t === 'number' && tx % 2 === 0 ? t : 9 });
      }
    }
    await appendPixels(nc, names, live);
    await expectCountsMatchCanvas(page);

    // Next wrong pixel: centred, zoomed in enough to place, selected, its colour picked.
    await press(page, '.template-next', touch);
    const state = await page.evaluate(() => ({
      selected: window.rplaceDebug.placement().selected,
      color: (window.rplaceDebug.placement() as unknown as { color: number }).color,
      zoom: window.rplaceDebug.camera().zoom,
    }));
    expect(state.selected).not.toBeNull();
    const { x, y } = state.selected as { x: number; y: number };
    const t = templateTarget(x - TPL.x, y - TPL.y);
    expect(typeof t).toBe('number');
    expect(state.color).toBe(t);
    const canvasNow = (await settledCanvases(page, base)).page;
    expect(canvasNow[y * WIDTH + x]).not.toBe(t);
    expect(state.zoom).toBeGreaterThanOrEqual(8);
    expect(await page.getAttribute(`.swatch[data-color="${t}"]`, 'aria-checked')).toBe('true');
    if (await page.locator('#templates').isHidden()) await press(page, '#templates-toggle', touch);
    await page.screenshot({ path: join(ARTIFACTS, `browser-template-${name}.png`) });

    // Kept across a reload (localStorage), with the same counts.
    await page.reload();
    await page.waitForSelector('html[data-painted]');
    await page.waitForSelector('.template-item', { state: 'attached' });
    await expectCountsMatchCanvas(page);

    // A link carries the template: a browser that never saw it opens it from the hash.
    const hash = `#x=40&y=45&z=10&tpl=${TPL.x},${TPL.y},1,${encodeURIComponent(TEMPLATE_URL)}`;
    const friend = await openPage(viewport, touch, hash);
    await friend.waitForSelector('.template-item', { state: 'attached' });
    await expectCountsMatchCanvas(friend);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
    expect((friend as Page & { errors?: string[] }).errors).toEqual([]);
  }, 60_000);

  it('a bad template gets a clear message in the page and nothing else breaks', async () => {
    const page = await openPage(viewport, touch);
    const cases: [string, number, number, RegExp][] = [
      ['https://templates.example/not-an-image.png', 0, 0, /not an image/],
      ['https://templates.example/huge.png', 0, 0, /limited to 16 MB/],
      ['https://templates.example/unreachable.png', 0, 0, /Could not load the image from templates\.example/],
      [TEMPLATE_URL, WIDTH - 10, 0, /runs off the 200×150 canvas/],
      [TEMPLATE_URL, WIDTH, 0, /off the canvas/],
    ];
    for (const [url, x, y, message] of cases) {
      await addTemplate(page, touch, url, x, y);
      await page.waitForFunction(() => document.getElementById('template-message')?.dataset.kind === 'error');
      expect(await page.textContent('#template-message')).toMatch(message);
      expect(await page.locator('.template-item').count()).toBe(0);
      await page.evaluate(() => {
        const m = document.getElementById('template-message');
        if (m) m.dataset.kind = '';
      });
    }
    // A file that is not an image, then the same template as a file from the device.
    await page.setInputFiles('#template-file', {
      name: 'notes.png',
      mimeType: 'image/png',
      buffer: Buffer.from('not a png'),
    });
    await addTemplate(page, touch, '', TPL.x, TPL.y);
    await page.waitForFunction(() => document.getElementById('template-message')?.dataset.kind === 'error');
    expect(await page.textContent('#template-message')).toMatch(/not an image/);
    // Still live and usable: a placement by someone else shows, and a good template adds.
    await appendPixels(nc, names, [{ x: 150, y: 100, color: 7 }]);
    await page.waitForFunction(() => window.rplaceDebug.pixel(150, 100) === 7);
    await page.setInputFiles('#template-file', {
      name: 'heart-file.png',
      mimeType: 'image/png',
      buffer: templatePng(),
    });
    await addTemplate(page, touch, '', TPL.x, TPL.y);
    await page.waitForSelector('.template-item');
    expect(await page.textContent('.template-title')).toMatch(/^heart-file\.png · 24×16 at \(30, 40\)/);
    await expectCountsMatchCanvas(page);
    // Several at once: the same image at scale 2 elsewhere, each pixel becoming 2×2.
    await addTemplate(page, touch, TEMPLATE_URL, 100, 60, '2');
    await page.waitForFunction(() => document.querySelectorAll('.template-item').length === 2);
    const [one, two] = await pageCounts(page);
    expect(two).toMatchObject({ x: 100, y: 60, width: 48, height: 32, total: (one as Counts).total * 4 });
    expect((two as Counts).right + (two as Counts).wrong + (two as Counts).remaining).toBe((two as Counts).total);
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
  }, 60_000);
});

describe.each(VIEWPORTS)('placing that cannot miss ($name)', ({ viewport, touch }) => {
  it('zoomed out, a tap zooms in around the pixel and only the next tap selects it; the zoom level and a share link follow', async () => {
    const page = await openPage(viewport, touch);
    const zoom0 = (await page.evaluate(() => window.rplaceDebug.camera())).zoom;
    expect(zoom0).toBeLessThan(8);
    expect(await page.textContent('#zoom-level')).toBe(`${(zoom0 * 100).toFixed(zoom0 * 100 >= 10 ? 0 : 1)} %`);
    const x = 120;
    const y = 90;
    const tap = async (sx: number, sy: number) => (touch ? page.touchscreen.tap(sx, sy) : page.mouse.click(sx, sy));
    const first = await page.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
    await tap(first.x, first.y);
    const cam = await page.evaluate(() => window.rplaceDebug.camera());
    expect(cam.zoom).toBe(8);
    expect(await page.evaluate(() => window.rplaceDebug.placement().selected)).toBeNull();
    expect(await page.textContent('#zoom-level')).toBe('800 %');
    // The tapped pixel stayed under the finger.
    const second = await page.evaluate((a) => window.rplaceDebug.screenOf(a.x, a.y), { x, y });
    expect(Math.abs(second.x - first.x)).toBeLessThanOrEqual(8);
    expect(Math.abs(second.y - first.y)).toBeLessThanOrEqual(8);
    await tap(second.x, second.y);
    expect(await page.evaluate(() => window.rplaceDebug.placement().selected)).toEqual({ x, y });

    await press(page, '.swatch[data-color="13"]', touch);
    await page.waitForFunction(() => !(document.getElementById('place') as HTMLButtonElement).disabled);
    await press(page, '#place', touch);
    await page.waitForFunction(({ x, y }) => window.rplaceDebug.pixel(x, y) === 13, { x, y });

    // Share: a link to the selected pixel, which selects it when opened.
    await press(page, '#share', touch);
    await page.waitForFunction(() => !!document.getElementById('share')?.dataset.link);
    const link = (await page.getAttribute('#share', 'data-link')) as string;
    expect(new URLSearchParams(new URL(link).hash.slice(1)).get('p')).toBe(`${x},${y}`);
    const friend = await openPage(viewport, touch, new URL(link).hash);
    await friend.waitForFunction(
      ({ x, y }) => JSON.stringify(window.rplaceDebug.placement().selected) === JSON.stringify({ x, y }),
      { x, y },
    );

    // History mode says it is the past, never "Live".
    await press(page, '#history-toggle', touch);
    expect(await page.getAttribute('#status', 'data-state')).toBe('past');
    expect(await page.textContent('#status .status-text')).toMatch(/^History/);
    await press(page, '#history-live', touch);
    expect(await page.getAttribute('#status', 'data-state')).toBe('live');
    expect((page as Page & { errors?: string[] }).errors).toEqual([]);
  }, 60_000);
});

describe('reconnect', () => {
  it('shows the countdown to the next attempt and "Retry now" reconnects at once once the edge is back', async () => {
    const page = await openPage({ width: 1000, height: 700 }, false);
    const port = Number(new URL(base).port);
    await edge?.stop('SIGKILL');
    await page.waitForSelector('#retry-now:not([hidden])', { timeout: 5000 });
    // The first retry is immediate and fails; the ones after back off 1, 2, 4, 8, 16 s: wait for the 16 s one, so
    // an attempt is still pending once the edge is back (an edge start took over 8 s at load 31, and the 8 s attempt
    // reconnected before the click).
    await page.waitForFunction(
      () =>
        /^Reconnecting in (1[3-9]|[2-9]\d) s$/.test(document.querySelector('#status .status-text')?.textContent ?? ''),
      undefined,
      { timeout: 35_000, polling: 100 },
    );
    edge = await startServingRole('edge', env, port);
    const wait = await page.evaluate(
      () => (window.rplaceDebug.client as unknown as { nextRetryAt: number | null }).nextRetryAt,
    );
    expect(await page.isVisible('#retry-now')).toBe(true);
    const clicked = Date.now();
    await page.click('#retry-now');
    await page.waitForFunction(() => window.rplaceDebug.client.status === 'synced', undefined, { timeout: 5000 });
    const tookMs = Date.now() - clicked;
    // Synced before the scheduled attempt would even have started.
    expect(wait).not.toBeNull();
    expect(tookMs).toBeLessThan((wait as number) - clicked);
    expect(await page.isHidden('#retry-now')).toBe(true);
    expect(await page.getAttribute('#status', 'data-state')).toBe('live');
  }, 90_000);
});
