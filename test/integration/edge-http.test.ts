/**
 * The uWS adapter for framework-free HTTP routes: body size limits, streamed bodies, aborts, 404/405 and the
 * static-file fallback, on a real uWS app (no services needed).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import type { us_listen_socket } from '@trufflesuite/uws-js-unofficial';
import { loadUws } from '../../src/adapters/uws/load.ts';
import { mountHttpRoutes } from '../../src/adapters/uws/http-routes.ts';
import { json, type HttpRoute } from '../../src/app/http.ts';
import { sleep } from '../../src/app/sleep.ts';

const uws = loadUws();
let listen: us_listen_socket;
let base = '';
let streamed = 0;
const staticDir = mkdtempSync(join(tmpdir(), 'rplace-static-'));
const big = new Uint8Array(6 * 2 ** 20).map((_, i) => (i * 2654435761) >>> 24); // larger than the kernel's socket buffers

const routes: HttpRoute[] = [
  {
    method: 'POST',
    path: '/echo',
    maxBodyBytes: 1024,
    handle: async (r) => json(200, { bytes: r.body?.length ?? 0, q: r.query.get('q') }),
  },
  {
    method: 'GET',
    path: '/stream',
    handle: async () => ({
      status: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: (async function* () {
        for (let i = 0; i < 64; i++) {
          streamed++;
          yield new Uint8Array(256 * 1024).fill(i);
        }
      })(),
    }),
  },
  {
    method: 'GET',
    path: '/boom',
    handle: async () => {
      throw new Error('boom');
    },
  },
  {
    method: 'GET',
    path: '/big',
    handle: async () => ({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: big }),
  },
];

beforeAll(async () => {
  const app = uws.App();
  mountHttpRoutes(app, routes, staticDir, pino({ level: 'silent' }));
  listen = await new Promise((resolve, reject) =>
    app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))),
  );
  base = `http://127.0.0.1:${uws.us_socket_local_port(listen as never)}`;
});
afterAll(() => uws.us_listen_socket_close(listen));

it('passes bodies within the limit and refuses larger ones with 413 too_large', async () => {
  const ok = await fetch(`${base}/echo?q=1`, { method: 'POST', body: 'x'.repeat(1000) });
  expect(await ok.json()).toEqual({ bytes: 1000, q: '1' });
  const big = await fetch(`${base}/echo`, { method: 'POST', body: 'x'.repeat(5000) });
  expect(big.status).toBe(413);
  expect(((await big.json()) as { code: string }).code).toBe('too_large');
});

it('streams an AsyncIterable body completely, and stops producing when the client aborts', async () => {
  const full = await fetch(`${base}/stream`);
  expect((await full.arrayBuffer()).byteLength).toBe(64 * 256 * 1024);
  streamed = 0;
  const controller = new AbortController();
  const partial = await fetch(`${base}/stream`, { signal: controller.signal });
  const reader = partial.body?.getReader();
  await reader?.read();
  controller.abort();
  await sleep(500);
  expect(streamed).toBeLessThan(64); // backpressure: the generator was not drained into memory
});

it('answers unknown routes, wrong methods and failing handlers with JSON errors; serves static files', async () => {
  expect((await fetch(`${base}/api/v1/nope`)).status).toBe(404);
  expect((await fetch(`${base}/echo`)).status).toBe(405);
  const boom = await fetch(`${base}/boom`);
  expect([boom.status, ((await boom.json()) as { code: string }).code]).toEqual([500, 'internal']);
  const missing = await fetch(`${base}/`);
  expect(missing.status).toBe(503);
  expect(await missing.text()).toContain('npm run build:web');
  writeFileSync(join(staticDir, 'index.html'), '<h1>hi</h1>');
  const index = await fetch(`${base}/`);
  expect([index.status, index.headers.get('content-type'), await index.text()]).toEqual([
    200,
    'text/html; charset=utf-8',
    '<h1>hi</h1>',
  ]);
  expect((await fetch(`${base}/..%2F..%2Fetc%2Fpasswd`)).status).toBe(404);
});

it('writes a whole body larger than the socket buffers intact to a reader that drains it slowly (tryEnd + onWritable)', async () => {
  const response = await fetch(`${base}/big`);
  const reader = response.body!.getReader();
  const parts: Uint8Array[] = [];
  for (let i = 0; ; i++) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    if (i % 8 === 0) await sleep(5); // let uWS hit backpressure and resume
  }
  expect(Buffer.concat(parts).equals(Buffer.from(big))).toBe(true);
});
