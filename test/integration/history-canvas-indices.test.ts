/**
 * `GET /api/v1/history/canvas` on the real Postgres: 2,000 events through the real history projector (with
 * snapshots) into this file's schema, then the route answers, for instants and sequences on either side of
 * snapshots, exactly the bytes of the reference replay (whole canvas and regions, gzipped or not); an ETag
 * match is a 304; by `seq` the answer is immutable; bad parameters are 400 `bad_request` naming the problem.
 */
import { gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventKind } from '../../proto/event-codec.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { canvasIndexRoutes } from '../../src/app/history/canvas-routes.ts';
import type { HttpResponse, HttpRoute } from '../../src/app/http.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import { projectFromMemory } from '../helpers/history-fixture.ts';
import { randomEvents, referenceCanvasAt, referenceCanvasToSeq, type TestEvent } from '../helpers/history.ts';
import { dropSchema, TEST_DATABASE_URL, testNames } from '../helpers/isolation.ts';

const W = 50;
const H = 40;
const N = 2_000;
const names = testNames('h_slider_canvas');
const logger = pino({ level: 'silent' });
const projection = 'history-projector';
const start = Date.now() - 3_600_000;
const SPAN = 60_000;
let pg: PgConnection;
let store: HistoryStore;
let events: TestEvent[] = [];
let route: HttpRoute;

function get(query: Record<string, string>, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return route.handle({
    method: 'GET',
    path: route.path,
    query: new URLSearchParams(query),
    headers,
    remoteAddress: '127.0.0.1',
  });
}

function bytes(res: HttpResponse): Buffer {
  const body = Buffer.from(res.body as Uint8Array);
  return res.headers?.['content-encoding'] === 'gzip' ? gunzipSync(body) : body;
}

function crop(canvas: Uint8Array, x: number, y: number, w: number, h: number): Buffer {
  const out = Buffer.alloc(w * h);
  for (let r = 0; r < h; r++) out.set(canvas.subarray((y + r) * W + x, (y + r) * W + x + w), r * w);
  return out;
}

beforeAll(async () => {
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, logger);
  await migrateToLatest(pg.pool, names.pgSchema);
  store = createPgHistoryStore(pg, logger);
  events = randomEvents(N, W, H, start, SPAN, 32, 11).map((e, i) => ({
    kind: EventKind.PixelPlaced,
    ...e,
    seq: i + 1,
  }));
  await projectFromMemory(events, 200, {
    store,
    width: W,
    height: H,
    projection,
    snapshotIntervalMs: 5_000,
    snapshotMaxEvents: 300,
  });
  expect(await store.position(projection)).toBe(N);
  [route] = canvasIndexRoutes({ store, width: W, height: H, projection, clock: { now: () => Date.now() } }) as [
    HttpRoute,
  ];
}, 60_000);

afterAll(async () => {
  await pg?.close();
  await dropSchema(names);
});

describe('GET /api/v1/history/canvas', () => {
  it('answers the replay at an instant, whole or a region, plain or gzipped, with its seq', async () => {
    const snapshots = Number((await pg.pool.query('SELECT count(*) AS n FROM snapshots')).rows[0].n);
    expect(snapshots).toBeGreaterThan(2);
    for (const fraction of [0, 0.13, 0.5, 0.77, 1]) {
      const time = Math.round(start + SPAN * fraction);
      const ref = referenceCanvasAt(events, W, H, time);
      const whole = await get({ time: String(time) });
      expect(whole.status).toBe(200);
      expect(whole.headers?.['x-rplace-seq']).toBe(String(ref.seq));
      expect(whole.headers?.['cache-control']).toBe('no-cache');
      expect(bytes(whole).equals(Buffer.from(ref.canvas))).toBe(true);
      const zipped = await get(
        { time: new Date(time).toISOString(), x: '7', y: '3', w: '20', h: '11' },
        { 'accept-encoding': 'gzip, deflate, br' },
      );
      expect(zipped.headers?.['content-encoding']).toBe('gzip');
      expect([zipped.headers?.['x-rplace-width'], zipped.headers?.['x-rplace-height']]).toEqual(['20', '11']);
      expect(bytes(zipped).equals(crop(ref.canvas, 7, 3, 20, 11))).toBe(true);
    }
  });

  it('answers by seq (immutable), and 304 when the ETag matches', async () => {
    for (const seq of [0, 1, 299, 300, 301, 1234, N]) {
      const res = await get({ seq: String(seq), x: '49', y: '0', w: '1', h: '40' });
      expect(res.status).toBe(200);
      expect(res.headers?.['cache-control']).toMatch(/immutable/);
      expect(res.headers?.etag).toBe(`"${seq}:49.0.1x40"`);
      expect(bytes(res).equals(crop(referenceCanvasToSeq(events, W, H, seq), 49, 0, 1, 40))).toBe(true);
    }
    const whole = await get({ seq: '1500' });
    expect(bytes(whole).equals(Buffer.from(referenceCanvasToSeq(events, W, H, 1500)))).toBe(true);
    const again = await get({ seq: '1500' }, { 'if-none-match': whole.headers?.etag ?? '' });
    expect(again.status).toBe(304);
    expect(again.body).toBeUndefined();
  });

  it('refuses bad parameters with 400 bad_request naming the problem, and an unknown seq with 404', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /exactly one of time and seq/],
      [{ time: String(start), seq: '3' }, /exactly one of time and seq/],
      [{ time: 'yesterday' }, /time: must be an ISO 8601 time/],
      [{ time: String(Date.now() + 60_000) }, /in the future/],
      [{ seq: '-1' }, /seq/],
      [{ seq: '5', x: '40', w: '20' }, /leaves the 50×40 canvas/],
      [{ seq: '5', x: '50' }, /x:/],
      [{ seq: '5', h: '0' }, /h:/],
      [{ seq: '5', zoom: '2' }, /zoom|Unrecognized/i],
    ];
    for (const [query, message] of cases) {
      const res = await get(query);
      expect(res.status, JSON.stringify(query)).toBe(400);
      const body = JSON.parse(res.body as string) as { code: string; message: string };
      expect(body.code).toBe('bad_request');
      expect(body.message).toMatch(message);
    }
    const ahead = await get({ seq: String(N + 1) });
    expect(ahead.status).toBe(404);
    expect(JSON.parse(ahead.body as string).code).toBe('not_found');
  });
});
