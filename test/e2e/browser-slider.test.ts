/**
 * The history slider in chromium draws palette indices (`GET /api/v1/history/canvas`), against `npm start`'s
 * all-in-one process on this file's own canvas id.
 *
 * Given 600 events placed over 50 s of the past, when the player drags the slider's thumb with the mouse from
 * "now" to about 40 % of the range, then the page asked for indices (never a PNG), several steps were drawn,
 * and the drawn <canvas>, read back pixel by pixel, equals a replay of the events up to the sequence the last
 * drawn answer was for (a sequence strictly inside the history, so a blank or a live canvas would fail).
 * Zoomed in, the page asks for a region only and draws that region of the same replay.
 */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeEvent, EventKind } from '../../proto/event-codec.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { applyStreams } from '../../streams/apply.ts';
import { randomPixels } from '../helpers/append-events.ts';
import { cleanupCanvas, TEST_NATS_URL, testEnv, testNames } from '../helpers/isolation.ts';
import {
  ensureWebBuilt,
  freePort,
  launchChromium,
  sessionSecret,
  startServingRole,
  type RoleProcess,
} from './browser-harness.ts';

const W = 60;
const H = 40;
const N = 600;
const names = testNames('h_slider_e2e');
const pixels = randomPixels(N, W, H, 32, 3);
let nc: NatsConnection;
let base = '';
let all: RoleProcess | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  await ensureWebBuilt();
  nc = await connectNats(TEST_NATS_URL, 'slider-e2e');
  await applyStreams(nc, names);
  const js = jetstream(nc);
  const from = Date.now() - 60_000;
  // One at a time, in order: event i is stream sequence i + 1 on this fresh stream.
  for (let i = 0; i < N; i++) {
    const p = pixels[i] as { x: number; y: number; color: number };
    await js.publish(
      names.pixelSubject(p.x, p.y),
      encodeEvent({
        kind: EventKind.PixelPlaced,
        ...p,
        userId: `u${i % 7}`,
        requestId: `r${i}`,
        placedAt: from + Math.floor((i * 50_000) / N),
      }),
    );
  }
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  all = await startServingRole(
    'dev',
    testEnv(names, {
      START_SERVICES: '0',
      CANVAS_WIDTH: String(W),
      CANVAS_HEIGHT: String(H),
      SESSION_SECRET: sessionSecret(),
      SNAPSHOT_INTERVAL_MS: '5000',
    }),
    port,
    '/api/v1/history/info',
    60_000,
  );
  const deadline = Date.now() + 30_000;
  while (((await (await fetch(`${base}/api/v1/history/info`)).json()) as { position: number }).position < N) {
    if (Date.now() > deadline) throw new Error('history projector did not catch up');
    await new Promise((r) => setTimeout(r, 200));
  }
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await all?.stop();
  await cleanupCanvas(names);
  await nc?.close();
}, 60_000);

/** Drags the slider's thumb from the right end ("now") to 40 % of its width, then waits until nothing new is drawn. */
async function dragAndSettle(
  page: import('playwright-core').Page,
): Promise<{ steps: number; seq: number; time: number }> {
  const box = await page.locator('#history-time').boundingBox();
  if (!box) throw new Error('no slider');
  const y = box.y + box.height / 2;
  await page.mouse.move(box.x + box.width - 4, y);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++)
    await page.mouse.move(box.x + box.width - 4 - (box.width * 0.6 * i) / 12, y, { steps: 2 });
  await page.mouse.up();
  let last = '';
  for (let stable = 0; stable < 5; ) {
    await new Promise((r) => setTimeout(r, 100));
    const now = JSON.stringify(await page.evaluate(() => window.rplaceDebug.history()));
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return page.evaluate(() => window.rplaceDebug.history());
}

function replayTo(seq: number): Uint8Array {
  const canvas = new Uint8Array(W * H);
  for (let i = 0; i < seq; i++) {
    const p = pixels[i] as { x: number; y: number; color: number };
    canvas[p.y * W + p.x] = p.color;
  }
  return canvas;
}

it('zoomed in, the slider asks for the visible region only and draws it', async () => {
  if (!browser) throw new Error('no browser');
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  page.setDefaultTimeout(15_000);
  const asked: URL[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/history/canvas')) asked.push(new URL(r.url()));
  });
  await page.goto(`${base}/?debug#x=20&y=15&z=50`);
  await page.waitForSelector('html[data-painted]');
  await page.click('#history-toggle');
  await page.waitForSelector('#history:not([hidden])');
  const shown = await dragAndSettle(page);
  expect(shown.steps).toBeGreaterThan(1);
  const lastAsked = asked.at(-1);
  if (!lastAsked) throw new Error('no canvas request');
  const [x, y, w, h] = ['x', 'y', 'w', 'h'].map((k) => Number(lastAsked.searchParams.get(k))) as [
    number,
    number,
    number,
    number,
  ];
  expect(w * h).toBeGreaterThan(0);
  expect(w * h, lastAsked.search).toBeLessThan(W * H);
  const drawn = Buffer.from(await page.evaluate(() => window.rplaceDebug.renderedIndicesBase64()), 'base64');
  const reference = replayTo(shown.seq);
  let wrong = 0;
  for (let row = y as number; row < y + h; row++) {
    for (let col = x as number; col < x + w; col++) if (drawn[row * W + col] !== reference[row * W + col]) wrong++;
  }
  expect(wrong).toBe(0);
  await page.close();
}, 90_000);

it('dragging the slider draws the point-in-time canvas from palette indices', async () => {
  if (!browser) throw new Error('no browser');
  const page = await browser.newPage({ viewport: { width: 1000, height: 760 } });
  page.setDefaultTimeout(15_000);
  const asked: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/history/canvas') || r.url().includes('/api/v1/history/snapshot'))
      asked.push(new URL(r.url()).pathname);
  });
  await page.goto(`${base}/?debug`);
  await page.waitForSelector('html[data-painted]');
  await page.click('#history-toggle');
  await page.waitForSelector('#history:not([hidden])');
  // A real drag: press on the thumb, move left in steps, release; then settled.
  const shown = await dragAndSettle(page);
  expect(shown.steps).toBeGreaterThan(1);
  expect(shown.seq).toBeGreaterThan(N * 0.2);
  expect(shown.seq).toBeLessThan(N * 0.8);
  expect(asked.filter((p) => p.endsWith('/snapshot'))).toEqual([]);
  expect(asked.filter((p) => p.endsWith('/canvas')).length).toBeGreaterThanOrEqual(shown.steps);

  const reference = replayTo(shown.seq);
  const drawn = Buffer.from(await page.evaluate(() => window.rplaceDebug.renderedIndicesBase64()), 'base64');
  expect(drawn.length).toBe(W * H);
  expect(drawn.equals(Buffer.from(reference))).toBe(true);
  // And the endpoint agrees for that sequence.
  const bySeq = Buffer.from(await (await fetch(`${base}/api/v1/history/canvas?seq=${shown.seq}`)).arrayBuffer());
  expect(bySeq.equals(Buffer.from(reference))).toBe(true);
  await page.close();
}, 90_000);
