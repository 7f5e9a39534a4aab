/**
 * The moderator console in chromium (desktop and phone viewports) against real edge, bitmap-projector and
 * history processes. A vandal's placements (appended to the stream as the edge would store them) cover a
 * player's work; the moderator drags a rectangle over it, lists who placed there, previews the rollback,
 * confirms a dialog that names the size (double-clicking it), and every connected page (a guest watching
 * too) shows the restored region, with exactly one compensating event per pixel in the stream. The audit
 * log shows the rollback; a ban from the selected pixel's info works. A signed-in player sees no console
 * and is refused (403) at every moderator route, as is a guest.
 */
import { appendPlacementsBy, lastStreamSeq, type TestPixel } from '../helpers/append-events.ts';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import pg from 'pg';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPgModeratorRoles } from '../../src/adapters/pg/moderators.ts';
import { cleanupCanvas, TEST_DATABASE_URL, TEST_NATS_URL, testEnv, testNames } from '../helpers/isolation.ts';
import {
  ARTIFACTS,
  ensureWebBuilt,
  freePort,
  launchChromium,
  sessionSecret,
  settledCanvases,
  startRole,
  startServingRole,
  type RoleProcess,
} from './browser-harness.ts';

const names = testNames('modweb');
const WIDTH = 120;
const HEIGHT = 90;
let base = '';
const roles: RoleProcess[] = [];
let browser: Browser | undefined;
let nc: NatsConnection;
let pool: pg.Pool;
const contexts: BrowserContext[] = [];
const accounts: Record<'moderator' | 'player' | 'vandal', { cookie: string; userId: string }> = {} as never;

async function register(username: string): Promise<{ cookie: string; userId: string }> {
  const res = await fetch(`${base}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-rplace-csrf': '1' },
    body: JSON.stringify({ username, password: 'password-123' }),
  });
  expect(res.status).toBe(201);
  const sid = /rplace_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1] ?? '';
  return { cookie: sid, userId: String(((await res.json()) as { userId: string }).userId) };
}

/** Placements as the edge stores them, by `userId`, at `placedAt`. */
const place = (userId: string, pixels: readonly TestPixel[], placedAt: number) =>
  appendPlacementsBy(nc, names, userId, pixels, placedAt);

const lastSeq = () => lastStreamSeq(nc, names);

async function openPage(
  viewport: { width: number; height: number },
  touch: boolean,
  sessionCookie?: string,
): Promise<Page> {
  if (!browser) throw new Error('no browser');
  const context = await browser.newContext({
    viewport,
    hasTouch: touch,
    isMobile: touch,
    deviceScaleFactor: touch ? 2 : 1,
  });
  contexts.push(context);
  if (sessionCookie) await context.addCookies([{ name: 'rplace_session', value: sessionCookie, url: base }]);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  await page.goto(`${base}/?debug`);
  await page.waitForSelector('html[data-painted]');
  await page.waitForFunction(() => window.rplaceDebug.client.status === 'synced');
  return page;
}

const MOD_ROUTES: readonly [string, string][] = [
  ['GET', 'me'],
  ['POST', 'survey'],
  ['POST', 'preview'],
  ['POST', 'apply'],
  ['POST', 'ban'],
  ['POST', 'unban'],
  ['GET', 'audit'],
];
const valid = { region: { x: 0, y: 0, width: 4, height: 4 }, since: 0 };
const bodies: Record<string, unknown> = {
  survey: valid,
  preview: valid,
  apply: { selection: valid, idempotencyKey: 'e2e-refused-1' },
  ban: { user: 'vandalvic', mode: 'ban', idempotencyKey: 'e2e-refused-2' },
  unban: { user: 'vandalvic', idempotencyKey: 'e2e-refused-3' },
};

/** Every moderator route as the page's own session calls it; the statuses. */
function statusesFrom(page: Page): Promise<number[]> {
  return page.evaluate(
    async ({ routes, bodies }) =>
      Promise.all(
        routes.map(
          async ([method, path]) =>
            (
              await fetch(`/api/v1/mod/${path}`, {
                method,
                credentials: 'include',
                ...(method === 'POST'
                  ? {
                      headers: { 'x-rplace-csrf': '1', 'content-type': 'application/json' },
                      body: JSON.stringify(bodies[path]),
                    }
                  : {}),
              })
            ).status,
        ),
      ),
    { routes: MOD_ROUTES, bodies },
  );
}

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  await ensureWebBuilt();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env = testEnv(names, {
    CANVAS_WIDTH: String(WIDTH),
    CANVAS_HEIGHT: String(HEIGHT),
    COOLDOWN_SECONDS: '1',
    SESSION_SECRET: sessionSecret(),
    FLUSH_WINDOW_MS: '20',
    REGISTRATIONS_PER_IP_PER_HOUR: '100',
  });
  const edge = startServingRole('edge', env, port, '/api/v1/canvas/info', 60_000); // spawned now, awaited below
  roles.push(startRole('bitmap-projector', env));
  roles.push(await edge);
  roles.push(startRole('history', env)); // after the edge migrated the schema
  nc = await connect({ servers: TEST_NATS_URL });
  pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  accounts.moderator = await register('modmia');
  accounts.player = await register('painterpat');
  accounts.vandal = await register('vandalvic');
  expect(await createPgModeratorRoles(pool, names.pgSchema).grant(accounts.moderator.userId, 'm_e2e')).toBe(true);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await Promise.all(roles.map((r) => r.stop()));
  await pool?.end();
  await nc?.close();
  await cleanupCanvas(names);
}, 60_000);

const VIEWPORTS = [
  { name: 'desktop', viewport: { width: 1280, height: 800 }, touch: false, at: { x: 10, y: 10 } },
  { name: 'phone', viewport: { width: 390, height: 844 }, touch: true, at: { x: 60, y: 50 } },
] as const;

describe.each(VIEWPORTS)('moderator console in chromium ($name)', ({ name, viewport, touch, at }) => {
  it('select → who placed → preview → confirm (double click) → every client shows the restored region; audit; ban from the pixel', async () => {
    const area = { x: at.x, y: at.y, width: 12, height: 8 };
    const good = Array.from({ length: area.width * area.height }, (_, i) => ({
      x: area.x + (i % area.width),
      y: area.y + Math.floor(i / area.width),
      color: 2 + ((i + Math.floor(i / area.width)) % 3),
    }));
    const now = Date.now();
    await place(accounts.player.userId, good, now - 30_000);
    const bad = good.filter((_, i) => i % 2 === 0).map((p) => ({ ...p, color: 27 }));
    await place(accounts.vandal.userId, bad, now - 10_000);

    const mod = await openPage(viewport, touch, accounts.moderator.cookie);
    const watcher = await openPage(viewport, touch);
    await mod.waitForSelector('#mod-toggle');
    await (touch ? mod.locator('#mod-toggle').tap() : mod.click('#mod-toggle'));
    await settledCanvases(mod, base);

    // Drag from one corner of the area to the other (the pointer, on the phone too: the overlay takes it).
    await (touch ? mod.locator('#mod-select').tap() : mod.click('#mod-select'));
    const from = await mod.evaluate(({ x, y }) => window.rplaceDebug.screenOf(x, y), { x: area.x, y: area.y });
    const to = await mod.evaluate(({ x, y }) => window.rplaceDebug.screenOf(x, y), {
      x: area.x + area.width - 1,
      y: area.y + area.height - 1,
    });
    await mod.mouse.move(from.x, from.y);
    await mod.mouse.down();
    await mod.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 3 });
    await mod.mouse.move(to.x, to.y, { steps: 3 });
    await mod.mouse.up();
    expect(await mod.inputValue('#mod-x')).toBe(String(area.x));
    expect(await mod.inputValue('#mod-h')).toBe(String(area.height));
    expect(await mod.isVisible('#mod-rect')).toBe(true);

    await mod.selectOption('#mod-since', { label: 'all time' });
    await mod.click('#mod-survey');
    await mod.waitForSelector(`.mod-user[data-user-id="${accounts.vandal.userId}"]`);
    const listed = await mod.locator('.mod-user').allTextContents();
    expect(listed.find((t) => t.includes('vandalvic'))).toContain(`${bad.length} placements`);
    expect(listed.find((t) => t.includes('painterpat'))).toContain(`${good.length} placements`);

    await mod.fill('#mod-user', 'vandalvic');
    await mod.click('#mod-preview');
    await mod.waitForSelector('#mod-apply:not([disabled])');
    expect(await mod.textContent('#mod-apply')).toBe(`Restore ${bad.length} pixels…`);
    await mod.waitForFunction(
      () => (document.getElementById('mod-after') as HTMLImageElement | null)?.naturalWidth === 12,
    );
    await mod.screenshot({ path: join(ARTIFACTS, `browser-moderation-${name}.png`) });

    const before = await lastSeq();
    await mod.click('#mod-apply');
    expect(await mod.textContent('#mod-confirm-text')).toContain(
      `Restore ${bad.length} pixels in 12×8 at (${area.x}, ${area.y})`,
    );
    await mod.dblclick('#mod-confirm-ok');
    await mod.waitForFunction(
      (n) => document.getElementById('mod-message')?.textContent?.startsWith(`Restored ${n} pixels`),
      bad.length,
    );
    // Every client, the moderator's and a guest's, shows the player's work again, byte for byte with the edge.
    for (const page of [mod, watcher]) {
      await page.waitForFunction((px) => px.every((p) => window.rplaceDebug.pixel(p.x, p.y) === p.color), good, {
        timeout: 10_000,
      });
      const settled = await settledCanvases(page, base);
      expect(settled.page.equals(settled.canonical)).toBe(true);
    }
    expect(await lastSeq()).toBe(before + bad.length);

    await mod.click('#mod-audit');
    await mod.waitForSelector('#mod-audit-list li[data-kind="rollback"]');
    expect(await mod.textContent('#mod-audit-list li[data-kind="rollback"]')).toContain(
      `modmia restored ${bad.length} pixels`,
    );

    // Ban from a pixel's info: the last (non-restore) placement of an untouched player pixel.
    await mod.click('#mod-close');
    const p = good[1] as { x: number; y: number };
    // A tap below placing zoom zooms in around the pixel first; the next one selects it.
    for (let i = 0; i < 4; i++) {
      const selected = await mod.evaluate(() => window.rplaceDebug.placement().selected);
      if (selected?.x === p.x && selected.y === p.y) break;
      const here = await mod.evaluate(({ x, y }) => window.rplaceDebug.screenOf(x, y), p);
      await (touch ? mod.touchscreen.tap(here.x, here.y) : mod.mouse.click(here.x, here.y));
    }
    await mod.waitForSelector('#mod-pixel button[data-mod-action="shadow-ban"]', { timeout: 15_000 });
    expect(await mod.textContent('#mod-pixel')).toContain('painterpat');
    await mod.click('#mod-pixel button[data-mod-action="shadow-ban"]');
    await mod.click('#mod-confirm-ok');
    await mod.waitForFunction(
      () => document.getElementById('mod-message')?.textContent === 'painterpat is shadow-banned.',
    );
    await mod.click('#mod-pixel button[data-mod-action="unban"]');
    await mod.click('#mod-confirm-ok');
    await mod.waitForFunction(() => document.getElementById('mod-message')?.textContent === 'painterpat is unbanned.');
  }, 120_000);

  it('a player sees no console and is refused at every moderator route, like a guest', async () => {
    const player = await openPage(viewport, touch, accounts.player.cookie);
    await player.waitForFunction(() => document.getElementById('user')?.textContent === 'painterpat');
    expect(await statusesFrom(player)).toEqual(MOD_ROUTES.map(() => 403));
    expect(await player.locator('#mod-toggle').count()).toBe(0);
    const guest = await openPage(viewport, touch);
    expect(await statusesFrom(guest)).toEqual(MOD_ROUTES.map(() => 403));
    expect(await guest.locator('#mod-toggle').count()).toBe(0);
  }, 60_000);
});
