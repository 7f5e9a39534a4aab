/**
 * Snapshot and timelapse concurrency with a fair share per client, on the real history API (Postgres) mounted
 * on a real edge (in-process `startEdge`, uWS, NATS, Redis) as `npm start` mounts it, on a 2000×2000 canvas:
 * one address gets its share and a 429, every slot taken answers 503, both with `Retry-After` and a JSON code;
 * 200 concurrent PNG snapshots stay within bounded RSS; a timelapse whose body is dropped before its first
 * frame gives its slot back. The exact counts are checked on the routes themselves (deterministic), the
 * bounds and the client address through the edge.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { request } from 'node:http';
import { createLogger } from '../../src/adapters/logger.ts';
import type { HttpResponse, HttpRoute } from '../../src/app/http.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { startEdge } from '../../src/roles/edge/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { publishEvents, randomEvents } from '../helpers/history.ts';
import { startHistoryApi } from '../../src/roles/history/api.ts';
import { cleanupCanvas, testEnv, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';

const names = testNames('historybounds');
const logger = pino({ level: 'silent' });
const config = loadConfig(
  historySchema,
  testEnv(names, {
    CANVAS_WIDTH: '2000',
    CANVAS_HEIGHT: '2000',
    SNAPSHOT_MAX_CONCURRENT: '4',
    SNAPSHOT_MAX_PER_IP: '2',
    TIMELAPSE_MAX_CONCURRENT: '2',
    TIMELAPSE_MAX_PER_IP: '1',
  }),
);
let api: { routes: HttpRoute[]; close(): Promise<void> };
let stopEdge: (() => Promise<void>) | undefined;
let stopHistory: (() => Promise<void>) | undefined;
let port = 0;
const MB = 2 ** 20;

beforeAll(async () => {
  // 30,000 placements over the whole canvas, so every point-in-time canvas touches all its 4 MB and its PNG is not trivial.
  const nc = await connectNats(TEST_NATS_URL, 'history-bounds');
  await applyStreams(nc, names);
  const events = await publishEvents(nc, names, randomEvents(30_000, 2000, 2000, Date.now() - 120_000, 60_000, 32, 11));
  await nc.close();
  stopHistory = await startHistory(config, logger);
  api = await startHistoryApi(config, logger, { ffmpegPath: null });
  const last = events.at(-1)?.seq ?? 0;
  const probe = api.routes.find((r) => r.path === '/api/v1/history/info')!;
  // In a hook, where expect.poll is not available: vi.waitFor retries the assertion.
  await vi.waitFor(
    async () => {
      const info = JSON.parse(
        String(
          (
            await probe.handle({
              method: 'GET',
              path: probe.path,
              query: new URLSearchParams(),
              headers: {},
              remoteAddress: 'x',
            })
          ).body,
        ),
      ) as { position: number };
      expect(info.position, 'history to reach the last event').toBe(last);
    },
    { timeout: 60_000, interval: 100 },
  );
  const edgeConfig = loadConfig(
    edgeSchema,
    testEnv(names, {
      PORT: '0',
      HOST: '127.0.0.1',
      SESSION_SECRET: 'history-bounds-secret-0123456789abcdef',
      CANVAS_WIDTH: '2000',
      CANVAS_HEIGHT: '2000',
      LOG_LEVEL: 'silent',
    }),
  );
  stopEdge = await startEdge(edgeConfig, createLogger('edge', 'silent'), {
    routes: api.routes,
    onListening: (p) => (port = p),
  });
}, 60_000);

afterAll(async () => {
  await stopEdge?.();
  await stopHistory?.();
  await api?.close();
  await cleanupCanvas(names);
}, 30_000);

/** GET through the edge from a 127.x source address; the status once the body is read. */
function viaEdge(path: string, from: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, localAddress: from }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

function handle(path: string, query: Record<string, string>, from: string): Promise<HttpResponse> {
  const route = api.routes.find((r) => r.path === path);
  if (!route) throw new Error(`no route ${path}`);
  return route.handle({ method: 'GET', path, query: new URLSearchParams(query), headers: {}, remoteAddress: from });
}
const code = (r: HttpResponse) => (JSON.parse(String(r.body)) as { code: string }).code;
const snapshotQuery = () => ({ time: String(Date.now() - 1000), format: 'png' });

describe('point-in-time snapshots', () => {
  it('one address gets 2 at once, then 429 rate_limited with Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => handle('/api/v1/history/snapshot', snapshotQuery(), '10.0.0.1')),
    );
    expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 429, 429, 429, 429, 429, 429, 429, 429]);
    for (const refused of answers.filter((a) => a.status === 429)) {
      expect(code(refused)).toBe('rate_limited');
      expect(refused.headers?.['retry-after']).toBe('1');
    }
    // The slots were given back.
    expect((await handle('/api/v1/history/snapshot', snapshotQuery(), '10.0.0.1')).status).toBe(200);
  });

  it('ten addresses at once: 4 computed, the rest 503 with Retry-After', async () => {
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => handle('/api/v1/history/snapshot', snapshotQuery(), `10.0.1.${i}`)),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(4);
    const busy = answers.filter((a) => a.status === 503);
    expect(busy).toHaveLength(6);
    for (const refused of busy) expect([code(refused), refused.headers?.['retry-after']]).toEqual(['unavailable', '1']);
  });

  it('200 concurrent PNG snapshots through the edge from one address: bounded RSS, 429s for the excess, other addresses served', async () => {
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
    const path = `/api/v1/history/snapshot?${new URLSearchParams(snapshotQuery())}`;
    // One request from another address among them: 127.0.0.41 holds at most 2 of the 4 slots, so it is served.
    const [other, ...statuses] = await Promise.all([
      viaEdge(path, '127.0.0.42'),
      ...Array.from({ length: 200 }, () => viaEdge(path, '127.0.0.41')),
    ]);
    clearInterval(sampler);
    console.log(
      `200 concurrent PNG snapshots: RSS ${(before / MB).toFixed(0)} MB, peak ${(peak / MB).toFixed(0)} MB; ${statuses.filter((s) => s === 200).length} served, ${statuses.filter((s) => s === 429).length} refused`,
    );
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(2);
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    // Unbounded, this probe took an edge from 186 MB to 1.42 GB; here, with the caps lifted, +127 MB (Postgres pool-bound), with them +12 MB.
    expect(peak - before).toBeLessThan(64 * MB);
    expect(other).toBe(200); // the share is per address: the edge told them apart
  }, 60_000);
});

describe('timelapses', () => {
  const query = () => ({
    from: String(Date.now() - 60_000),
    to: String(Date.now() - 1000),
    x: '0',
    y: '0',
    w: '100',
    h: '100',
    fps: '10',
    duration: '2',
  });

  it('one client holds at most one of the two slots; the last free slot goes to another; a dropped body frees its slot', async () => {
    const first = await handle('/api/v1/history/timelapse', query(), '10.0.2.1');
    expect(first.status).toBe(200);
    const again = await handle('/api/v1/history/timelapse', query(), '10.0.2.1');
    expect([again.status, code(again), again.headers?.['retry-after']]).toEqual([429, 'rate_limited', '5']);
    const other = await handle('/api/v1/history/timelapse', query(), '10.0.2.2');
    expect(other.status).toBe(200);
    const third = await handle('/api/v1/history/timelapse', query(), '10.0.2.3');
    expect([third.status, code(third), third.headers?.['retry-after']]).toEqual([503, 'unavailable', '5']);
    // The first client goes away before a single frame: returning the body frees its slot and cancels its job.
    const body = first.body as AsyncIterable<Uint8Array>;
    await body[Symbol.asyncIterator]().return?.();
    const job = first.headers?.['x-rplace-job'] ?? '';
    const progress = JSON.parse(
      String((await handle('/api/v1/history/timelapse/progress', { job }, '10.0.2.1')).body),
    ) as { state: string };
    expect(progress.state).toBe('cancelled');
    const now = await handle('/api/v1/history/timelapse', query(), '10.0.2.3');
    expect(now.status).toBe(200);
    // Streaming one to the end frees it too.
    for await (const _ of now.body as AsyncIterable<Uint8Array>) void _;
    for await (const _ of other.body as AsyncIterable<Uint8Array>) void _;
    expect((await handle('/api/v1/history/timelapse', query(), '10.0.2.3')).status).toBe(200);
  }, 60_000);
});
