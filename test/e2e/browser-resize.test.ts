/**
 * The web client in chromium while the operator grows the canvas: given a page showing a 48×32 canvas, when
 * `rplace canvas resize` grows it to 96×48, then the page follows without a reload (same page, same socket
 * status `synced`), draws the new size, shows a placement outside the old bounds, and its bytes equal the
 * edge's canonical canvas.
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canvasCli } from '../helpers/cli.ts';
import { nodeClient } from '../helpers/edge-process.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';
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

const names = testNames('browserresize');
const OLD = { width: 48, height: 32 };
let base = '';
let roles: RoleProcess[] = [];
let browser: Browser | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = testEnv(names, {
    CANVAS_WIDTH: String(OLD.width),
    CANVAS_HEIGHT: String(OLD.height),
    COOLDOWN_SECONDS: '1',
    SESSION_SECRET: sessionSecret(),
    FLUSH_WINDOW_MS: '20',
  });
  roles = [startRole('bitmap-projector', env), await startServingRole('edge', env, port)];
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await Promise.all(roles.map((r) => r.stop()));
  await cleanupCanvas(names);
}, 60_000);

describe('a canvas resize in the browser', () => {
  it('the page grows to the new size without a reload and shows placements outside the old bounds', async () => {
    const context = await browser!.newContext({ viewport: { width: 1024, height: 700 } });
    const page: Page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/?debug`);
    await page.waitForSelector('html[data-painted]', { timeout: 15_000 });
    await page.waitForFunction(() => window.rplaceDebug.client.status === 'synced');
    expect(await page.evaluate(() => window.rplaceDebug.size())).toEqual(OLD);
    await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 42; // gone if the page reloads
    });

    const grown = await canvasCli(names, OLD)(['canvas', 'resize', '--width', '96', '--height', '48', '--yes']);
    expect([grown.code, grown.stderr]).toEqual([0, '']);
    await page.waitForFunction(() => window.rplaceDebug.size().width === 96, undefined, { timeout: 10_000 });
    expect(await page.evaluate(() => window.rplaceDebug.size())).toEqual({ width: 96, height: 48 });
    expect(await page.evaluate(() => document.querySelector('canvas')?.width)).toBe(96);

    const player = nodeClient(base);
    await player.connect();
    expect(await player.place(80, 40, 5)).toMatchObject({ type: 'success' });
    player.close();
    await page.waitForFunction(() => window.rplaceDebug.pixel(80, 40) === 5, undefined, { timeout: 5_000 });
    await page.waitForFunction(() => window.rplaceDebug.rendered(80, 40) === '#FFD635', undefined, { timeout: 5_000 });
    const { page: bytes, canonical } = await settledCanvases(page, base);
    expect(bytes.length).toBe(96 * 48);
    expect(bytes.equals(canonical)).toBe(true);
    expect(await page.evaluate(() => (window as unknown as { marker?: number }).marker)).toBe(42);
    expect(await page.evaluate(() => window.rplaceDebug.client.status)).toBe('synced');
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(ARTIFACTS, 'browser-resize.png') });
    await context.close();
  }, 90_000);
});
