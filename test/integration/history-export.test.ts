/**
 * The dataset export against the real NATS and Postgres (issue 16): events published to the stream (times
 * deliberately not monotone in sequence), projected by the real history role, exported through the HTTP route
 * and the CLI. Round trip: an export of from..to replayed onto canvas(from) equals canvas(to) byte for byte,
 * in every format; region, resume, gzip, limits and bad input; a client that hangs up stops the Postgres read.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parquetReadObjects } from 'hyparquet';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { BACKFILL_CHUNKS_SQL } from '../../migrations/0003_event_chunks.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { loadUws } from '../../src/adapters/uws/load.ts';
import { mountHttpRoutes } from '../../src/adapters/uws/http-routes.ts';
import { exportBytes, seqAt } from '../../src/app/history/export.ts';
import { saltedUserKey } from '../../src/app/history/user-key.ts';
import { createPgPlacementLog } from '../../src/adapters/pg/placement-export.ts';
import { idleExportWorkers, liveExportWorkers } from '../../src/adapters/pg/export-workers.ts';
import { colorHexes } from '../../src/domain/history/export-format.ts';
import { HEAT_PALETTE, heatIndices } from '../../src/app/history/heatmap.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import type { HttpResponse, HttpRoute } from '../../src/app/http.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { startHistoryApi } from '../../src/roles/history/api.ts';
import { canvasCli } from '../helpers/cli.ts';
import { decodePng } from '../helpers/png.ts';
import { startProjectedHistory, stopProjectedHistory } from '../helpers/history-fixture.ts';
import { bytesOf, randomEvents, referenceCanvasAt, type TestEvent } from '../helpers/history.ts';
import { dropSchema, TEST_DATABASE_URL, testEnv, testNames } from '../helpers/isolation.ts';

const W = 40;
const H = 30;
const SALT = 'test-export-salt-0123456789abcdef';
const names = testNames('export');
const logger = pino({ level: 'silent' });
const config = loadConfig(
  historySchema,
  testEnv(names, {
    CANVAS_WIDTH: String(W),
    CANVAS_HEIGHT: String(H),
    SNAPSHOT_INTERVAL_MS: '300',
    SNAPSHOT_MAX_EVENTS: '1000',
    EXPORT_USER_SALT: SALT,
    EXPORT_MAX_PER_CLIENT: '1',
    EXPORT_MAX_CONCURRENT: '3',
    EXPORT_WORKERS: '2',
  }),
);
const projection = names.consumers.history;
const start = Date.now() - 3_600_000;
const SPAN = 60_000;
/** CLI tests start tsx processes: ~10 s each on a loaded 2-core machine. */
const CLI_TIMEOUT_MS = 120_000;
const HEX = PALETTE_32.map((c) => c.hex.toUpperCase());

let nc: NatsConnection;
let pg: PgConnection;
let store: HistoryStore;
let events: TestEvent[] = [];
let stop: (() => Promise<void>) | null = null;
let api: { routes: HttpRoute[]; close(): Promise<void> };

function exportRoute(routes = api.routes): HttpRoute {
  const found = routes.find((r) => r.path === '/api/v1/history/export');
  if (!found) throw new Error('no export route');
  return found;
}

function get(query: Record<string, string>, remoteAddress = '127.0.0.1', routes = api.routes): Promise<HttpResponse> {
  return exportRoute(routes).handle({
    method: 'GET',
    path: '/api/v1/history/export',
    query: new URLSearchParams(query),
    headers: {},
    remoteAddress,
  });
}

interface Row {
  x: number;
  y: number;
  color: number;
  userId: string;
  placedAt: number;
}

const CSV_ROW =
  /^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d{1,3})?) UTC,([A-Za-z0-9+/]{86}==),(#[0-9A-F]{6}),"(\d+),(\d+)"$/;

function parseCsv(text: string): Row[] {
  const lines = text.split('\n');
  expect(lines[0]).toBe('timestamp,user_id,pixel_color,coordinate');
  expect(lines.at(-1)).toBe('');
  return lines.slice(1, -1).map((line) => {
    const m = CSV_ROW.exec(line);
    if (!m) throw new Error(`not a Reddit-shaped CSV row: ${line}`);
    const [, ts, user, hex, x, y] = m as unknown as [string, string, string, string, string, string];
    // Trailing zeros of the fraction are dropped, as in the published file.
    expect(ts).not.toMatch(/\.\d*0$/);
    return {
      placedAt: Date.parse(`${ts.replace(' ', 'T')}Z`),
      userId: user,
      color: HEX.indexOf(hex),
      x: Number(x),
      y: Number(y),
    };
  });
}

function replayRows(base: Uint8Array, rows: readonly Row[]): Uint8Array {
  const canvas = base.slice();
  for (const r of rows) canvas[r.y * W + r.x] = r.color;
  return canvas;
}

/** The reference: events with seqAt(from) < seq ≤ seqAt(to). */
function expected(fromSeq: number, toSeq: number): TestEvent[] {
  return events.filter((e) => e.seq > fromSeq && e.seq <= toSeq);
}

beforeAll(async () => {
  const generated = randomEvents(3000, W, H, start, SPAN, 32, 11);
  // A raw id that needs CSV quoting, and one of the longest ids the codec allows.
  generated[10] = { ...(generated[10] as (typeof generated)[number]), userId: 'odd,"id"' };
  generated[11] = { ...(generated[11] as (typeof generated)[number]), userId: 'ü'.repeat(32) };
  ({ nc, pg, store, events, stop, api } = await startProjectedHistory({
    clientName: 'history-export-test',
    names,
    config,
    logger,
    events: generated,
  }));
}, 60_000);

afterAll(() => stopProjectedHistory({ nc, pg, stop, api }, names));

describe('GET /api/v1/history/export', () => {
  it('CSV in the r/place 2022 shape: replayed onto canvas(from) it equals canvas(to), byte for byte', async () => {
    for (const [from, to] of [
      [start + 7_000, start + 41_000],
      [start + 20_000, start + 20_500],
      [start - 5_000, start + SPAN + 5_000],
    ] as const) {
      const response = await get({ from: String(from), to: String(to) });
      expect(response.status).toBe(200);
      expect(response.headers?.['content-type']).toBe('text/csv; charset=utf-8');
      const rows = parseCsv((await bytesOf(response)).toString('utf8'));
      const [fromSeq, toSeq] = [await seqAt(store, from), await seqAt(store, to)];
      expect(response.headers?.['x-rplace-after-seq']).toBe(String(fromSeq));
      expect(response.headers?.['x-rplace-to-seq']).toBe(String(toSeq));
      const want = expected(fromSeq, toSeq);
      expect(rows.map((r) => [r.x, r.y, r.color, r.placedAt])).toEqual(
        want.map((e) => [e.x, e.y, e.color, e.placedAt]),
      );
      const before = await canvasAt(store, { width: W, height: H }, projection, from);
      const after = await canvasAt(store, { width: W, height: H }, projection, to);
      expect(Buffer.from(replayRows(before.canvas, rows))).toEqual(Buffer.from(after.canvas));
      expect(Buffer.from(after.canvas)).toEqual(Buffer.from(referenceCanvasAt(events, W, H, to).canvas));
      // One user, one stable hash; different users, different hashes; never the raw id.
      const byUser = new Map<string, Set<string>>();
      want.forEach((e, i) => byUser.set(e.userId, (byUser.get(e.userId) ?? new Set()).add((rows[i] as Row).userId)));
      for (const hashes of byUser.values()) expect(hashes.size).toBe(1);
      expect(new Set([...byUser.values()].map((h) => [...h][0])).size).toBe(byUser.size);
    }
  });

  it('without from, replayed onto a blank canvas it IS canvas(to)', async () => {
    const to = start + 33_333;
    const rows = parseCsv((await bytesOf(await get({ to: String(to) }))).toString('utf8'));
    expect(Buffer.from(replayRows(new Uint8Array(W * H), rows))).toEqual(
      Buffer.from(referenceCanvasAt(events, W, H, to).canvas),
    );
  });

  it('NDJSON carries sequence, time, colour, place and kind of every event in stream order', async () => {
    const from = start + 5_000,
      to = start + 50_000;
    const response = await get({ from: String(from), to: String(to), format: 'ndjson' });
    expect(response.headers?.['content-type']).toBe('application/x-ndjson');
    const lines = (await bytesOf(response))
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    const want = expected(await seqAt(store, from), await seqAt(store, to));
    expect(lines.map((l) => [l.seq, l.x, l.y, l.pixel_color, Date.parse(l.timestamp), l.kind])).toEqual(
      want.map((e) => [e.seq, e.x, e.y, HEX[e.color], e.placedAt, 'placed']),
    );
    expect(lines.every((l) => typeof l.user_id === 'string' && l.user_id.length === 88)).toBe(true);
  });

  it('Parquet (hyparquet-writer) reads back with hyparquet to the same placements, and gzip wraps any format', async () => {
    const from = start + 1_000,
      to = start + 59_000;
    const response = await get({ from: String(from), to: String(to), format: 'parquet' });
    expect(response.headers?.['content-type']).toBe('application/vnd.apache.parquet');
    const bytes = await bytesOf(response);
    const rows = await parquetReadObjects({
      file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
    });
    const want = expected(await seqAt(store, from), await seqAt(store, to));
    expect(rows.map((r) => [Number(r.seq), r.x, r.y, r.pixel_color, (r.timestamp as Date).getTime(), r.kind])).toEqual(
      want.map((e) => [e.seq, e.x, e.y, HEX[e.color], e.placedAt, 1]),
    );
    const replayed = replayRows(
      new Uint8Array(W * H),
      (
        await parquetReadObjects({
          file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
        })
      ).map((r) => ({ x: r.x, y: r.y, color: HEX.indexOf(r.pixel_color), userId: r.user_id, placedAt: 0 })),
    );
    const base = await canvasAt(store, { width: W, height: H }, projection, from);
    const both = replayRows(
      base.canvas,
      rows.map((r) => ({ x: r.x, y: r.y, color: HEX.indexOf(r.pixel_color), userId: '', placedAt: 0 })),
    );
    expect(Buffer.from(both)).toEqual(
      Buffer.from((await canvasAt(store, { width: W, height: H }, projection, to)).canvas),
    );
    expect(replayed.length).toBe(W * H);

    const gz = await get({ from: String(from), to: String(to), format: 'csv', compress: 'gzip' });
    expect(gz.headers?.['content-type']).toBe('application/gzip');
    expect(gz.headers?.['content-disposition']).toMatch(/\.csv\.gz"$/);
    const unzipped = gunzipSync(await bytesOf(gz));
    expect(unzipped).toEqual(await bytesOf(await get({ from: String(from), to: String(to), format: 'csv' })));
  });

  it('a region filter keeps only the placements inside it; after_seq resumes where a run stopped', async () => {
    const region = { x: 5, y: 7, w: 11, h: 9 };
    const rows = parseCsv((await bytesOf(await get({ x: '5', y: '7', w: '11', h: '9' }))).toString('utf8'));
    const inside = events.filter(
      (e) => e.x >= region.x && e.x < region.x + region.w && e.y >= region.y && e.y < region.y + region.h,
    );
    expect(inside.length).toBeGreaterThan(50);
    expect(rows.map((r) => [r.x, r.y, r.color])).toEqual(inside.map((e) => [e.x, e.y, e.color]));

    const whole = (await bytesOf(await get({ format: 'ndjson' }))).toString('utf8').trimEnd().split('\n');
    const cut = JSON.parse(whole[1234] as string).seq as number;
    const first = whole.slice(0, 1235);
    const rest = (await bytesOf(await get({ format: 'ndjson', after_seq: String(cut) })))
      .toString('utf8')
      .trimEnd()
      .split('\n');
    expect([...first, ...rest]).toEqual(whole);
    expect(whole).toHaveLength(events.length);
  });

  it('formats gzip on worker threads (plain text on this thread) byte for byte as one thread does, every format and region', async () => {
    const oneThread = createPgPlacementLog(pg, projection, { workers: 0 });
    const hex = colorHexes(PALETTE_32);
    for (const format of ['csv', 'ndjson'] as const) {
      const queries: Record<string, string>[] = [
        {},
        { x: '5', y: '7', w: '11', h: '9' },
        { from: String(start + 9_000), to: String(start + 30_000) },
      ];
      for (const query of queries) {
        for (const compress of ['none', 'gzip'] as const) {
          const response = await get({ ...query, format, compress });
          expect(response.status).toBe(200);
          const got = await bytesOf(response);
          const afterSeq = Number(response.headers?.['x-rplace-after-seq']);
          const toSeq = Number(response.headers?.['x-rplace-to-seq']);
          const region = 'x' in query ? { x: 5, y: 7, w: 11, h: 9 } : undefined;
          const parts: Uint8Array[] = [];
          for await (const part of exportBytes(
            oneThread,
            { fromSeq: afterSeq, startSeq: afterSeq, toSeq, ...(region ? { region } : {}) },
            { format, userKey: saltedUserKey(SALT), colorHex: hex },
          ))
            parts.push(part);
          const expected = Buffer.concat(parts);
          expect(expected.length).toBeGreaterThan(100);
          const text = compress === 'gzip' ? gunzipSync(got) : got;
          expect(text.equals(expected), `${format} ${JSON.stringify(query)} ${compress}`).toBe(true);
        }
      }
    }
    // The route's exports ran on worker threads, which are kept for the next one.
    expect(idleExportWorkers()).toBe(2);
  });

  it('answers bad input with a clear 400, never a stream', async () => {
    const now = Date.now();
    const cases: [Record<string, string>, RegExp][] = [
      [{ format: 'xml' }, /^format: /],
      [{ compress: 'brotli' }, /^compress: /],
      [{ x: '35', w: '10' }, /region 10×30 at \(35,0\) leaves the 40×30 canvas/],
      [{ x: '40' }, /^x: /],
      [{ to: String(now + 3_600_000) }, /is in the future/],
      [{ from: String(start + 10_000), to: String(start + 5_000) }, /to must be after from/],
      [{ from: 'yesterday' }, /^from: must be an ISO 8601 time/],
      [
        { after_seq: String(events.length + 5) },
        new RegExp(`after-seq ${events.length + 5} is beyond the history, which ends at seq ${events.at(-1)?.seq}`),
      ],
      [{ colour: 'red' }, /Unrecognized key/i],
    ];
    for (const [query, message] of cases) {
      const response = await get(query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(typeof response.body).toBe('string');
      const body = JSON.parse(String(response.body));
      expect(body.code).toBe('bad_request');
      expect(body.message).toMatch(message);
    }
  });

  it('limits concurrent exports per client and in all (429), and frees the slot when an export ends', async () => {
    const first = await get({});
    expect(first.status).toBe(200);
    const second = await get({});
    expect(second.status).toBe(429);
    expect(JSON.parse(String(second.body)).code).toBe('rate_limited');
    const other = await get({}, '10.0.0.2');
    expect(other.status).toBe(200);
    await bytesOf(first);
    await bytesOf(other);
    const again = await get({});
    expect(again.status).toBe(200);
    await bytesOf(again);
  });

  it('refuses (503) to export without a salt rather than publish raw user ids', async () => {
    const { EXPORT_USER_SALT: _unused, ...noSalt } = config;
    const bare = await startHistoryApi({ ...noSalt }, logger);
    try {
      const response = await get({}, '127.0.0.1', bare.routes);
      expect(response.status).toBe(503);
      expect(JSON.parse(String(response.body)).message).toMatch(/EXPORT_USER_SALT/);
    } finally {
      await bare.close();
    }
  });
});

function activity(path: string, query: Record<string, string>): Promise<HttpResponse> {
  const found = api.routes.find((r) => r.path === path);
  if (!found) throw new Error(`no route ${path}`);
  return found.handle({
    method: 'GET',
    path,
    query: new URLSearchParams(query),
    headers: {},
    remoteAddress: '127.0.0.1',
  });
}

function referenceCounts(list: readonly TestEvent[]): Uint32Array {
  const counts = new Uint32Array(W * H);
  for (const e of list) counts[e.y * W + e.x] = (counts[e.y * W + e.x] as number) + 1;
  return counts;
}

describe('heatmap and virgin map', () => {
  it('counts the placements of each pixel over a range (raw), and draws them on the heat scale (PNG)', async () => {
    const from = start + 12_000,
      to = start + 30_000;
    const want = referenceCounts(expected(await seqAt(store, from), await seqAt(store, to)));
    const raw = await activity('/api/v1/history/heatmap', { from: String(from), to: String(to), format: 'raw' });
    expect(raw.status).toBe(200);
    const bytes = await bytesOf(raw);
    expect(new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))).toEqual(want);
    expect(raw.headers?.['x-rplace-max-count']).toBe(String(Math.max(...want)));
    const png = decodePng(
      await bytesOf(await activity('/api/v1/history/heatmap', { from: String(from), to: String(to) })),
    );
    expect([png.width, png.height]).toEqual([W, H]);
    expect(Buffer.from(png.frames[0] as Uint8Array)).toEqual(Buffer.from(heatIndices(want)));
    expect(png.palette.slice(0, 2)).toEqual([
      [0, 0, 0],
      HEAT_PALETTE[1]?.hex.match(/[0-9A-F]{2}/g)?.map((h) => parseInt(h, 16)),
    ]);
    const all = await bytesOf(await activity('/api/v1/history/heatmap', { format: 'raw' }));
    expect(new Uint32Array(all.buffer.slice(all.byteOffset, all.byteOffset + all.length))).toEqual(
      referenceCounts(events),
    );
  });

  it('marks the pixels never placed up to an instant', async () => {
    const to = start + 2_000;
    const placed = referenceCounts(expected(0, await seqAt(store, to)));
    const raw = await bytesOf(await activity('/api/v1/history/virgin', { to: String(to), format: 'raw' }));
    expect([...raw]).toEqual([...placed].map((n) => (n === 0 ? 1 : 0)));
    expect(raw.includes(1) && raw.includes(0)).toBe(true);
    const png = decodePng(await bytesOf(await activity('/api/v1/history/virgin', { to: String(to) })));
    expect(Buffer.from(png.frames[0] as Uint8Array)).toEqual(raw);
    expect(png.palette).toEqual([
      [0, 0, 0],
      [255, 255, 255],
    ]);
  });

  it('answers bad input with 400', async () => {
    for (const [path, query] of [
      ['/api/v1/history/heatmap', { format: 'jpeg' }],
      ['/api/v1/history/heatmap', { from: String(start + 9_000), to: String(start + 1_000) }],
      ['/api/v1/history/virgin', { to: String(Date.now() + 60_000) }],
      ['/api/v1/history/virgin', { from: String(start) }],
    ] as const) {
      const response = await activity(path, query);
      expect(response.status, `${path} ${JSON.stringify(query)}`).toBe(400);
      expect(JSON.parse(String(response.body)).code).toBe('bad_request');
    }
  });
});

describe('an export the client hangs up on', () => {
  // A canvas of its own with 300,000 events written straight to Postgres (a stream is not needed to read
  // history), so the export is still streaming when the client goes away; its odd size makes the COPY's
  // text unique in pg_stat_activity.
  const big = testNames('exportbig');
  const BW = 1777,
    BH = 1333,
    N = 300_000;
  let bigPg: PgConnection;
  let bigApi: { routes: HttpRoute[]; close(): Promise<void> };
  const copyRunning = async () =>
    Number(
      (
        await pg.pool.query(
          `SELECT count(*) AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT seq, kind, x, y, color, user_id, placed_at FROM events%' AND query LIKE '%x < ${BW} AND y >= 0 AND y < ${BH}%'`,
        )
      ).rows[0].n,
    );

  beforeAll(async () => {
    bigPg = await connectPg(TEST_DATABASE_URL, big.pgSchema, logger);
    await migrateToLatest(bigPg.pool, big.pgSchema);
    const t0 = Date.now() - 7_200_000;
    await bigPg.pool.query(`INSERT INTO events (seq, kind, x, y, color, user_id, placed_at, stored_at)
      SELECT g, 1, g % ${BW}, (g / ${BW}) % ${BH}, g % 32, 'u' || (g % 5000), to_timestamp((${t0} + g * 10) / 1000.0), now() FROM generate_series(1, ${N}) g`);
    await bigPg.pool.query(BACKFILL_CHUNKS_SQL);
    await bigPg.pool.query('INSERT INTO projection_positions (name, seq) VALUES ($1, $2)', [big.consumers.history, N]);
    bigApi = await startHistoryApi(
      loadConfig(
        historySchema,
        testEnv(big, {
          CANVAS_WIDTH: String(BW),
          CANVAS_HEIGHT: String(BH),
          EXPORT_USER_SALT: SALT,
          EXPORT_WORKERS: '2',
        }),
      ),
      logger,
    );
  }, 60_000);

  afterAll(async () => {
    await bigApi?.close();
    await bigPg?.close();
    await dropSchema(big);
  });

  it("stops the Postgres read at once and frees the client's slot", async () => {
    const uws = loadUws();
    const app = uws.App();
    mountHttpRoutes(app, bigApi.routes, mkdtempSync(join(tmpdir(), 'rplace-export-static-')), logger);
    const listen = await new Promise<NonNullable<unknown>>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))),
    );
    try {
      const port = uws.us_socket_local_port(listen as never);
      // gzip: formatted on worker threads, which must stop too.
      const url = `http://127.0.0.1:${port}/api/v1/history/export?x=0&y=0&w=${BW}&h=${BH}&compress=gzip`;
      let received = 0;
      await new Promise<void>((resolve, reject) => {
        const request = httpGet(url, (response) => {
          expect(response.statusCode).toBe(200);
          response.once('data', (chunk: Buffer) => {
            received = chunk.length;
            // The client stops reading: backpressure holds the COPY where it is.
            response.pause();
            setTimeout(() => {
              void copyRunning().then((n) => {
                try {
                  expect(n, 'the COPY is running while the export streams').toBe(1);
                  expect(liveExportWorkers() - idleExportWorkers(), 'its worker threads').toBe(2);
                  request.destroy();
                  resolve();
                } catch (error) {
                  reject(error);
                }
              }, reject);
            }, 300);
          });
        });
        request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      });
      expect(received).toBeGreaterThan(0);
      const gone = Date.now();
      await expect.poll(() => copyRunning(), { message: 'the COPY to stop', timeout: 5_000, interval: 20 }).toBe(0);
      expect(Date.now() - gone).toBeLessThan(2_000);
      // Its worker threads were terminated, not handed back to the idle ones.
      await expect
        .poll(() => liveExportWorkers() - idleExportWorkers(), { message: 'the workers to stop', timeout: 2_000 })
        .toBe(0);
      // The slot is free again (EXPORT_MAX_PER_CLIENT is 1).
      const again = await get({ x: '0', y: '0', w: '10', h: '10' }, '127.0.0.1', bigApi.routes);
      expect(again.status).toBe(200);
      await bytesOf(again);
    } finally {
      uws.us_listen_socket_close(listen as never);
    }
  });
});

describe('rplace export (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rplace-export-cli-'));
  const rplace = canvasCli(names, { width: W, height: H }, { EXPORT_USER_SALT: SALT });

  it(
    'writes the same bytes as the API, gzip from the extension, raw ids on request, and resumes with --after-seq',
    async () => {
      const to = start + 45_000;
      const [csv, gz, raw, tail] = await Promise.all([
        rplace(['export', '--to', String(to), '-o', join(dir, 'out.csv')]),
        rplace(['export', '--to', String(to), '-o', join(dir, 'out.ndjson.gz')]),
        rplace(['export', '--to', String(to), '--raw-user-ids']),
        rplace(['export', '--to', String(to), '--format', 'ndjson', '--after-seq', '1500']),
      ]);
      for (const run of [csv, gz, raw, tail]) expect(run.code, run.stderr).toBe(0);
      const toSeq = await seqAt(store, to);
      expect(csv.stderr).toContain(`exported ${expected(0, toSeq).length} placements (seq 1..${toSeq}) as csv in `);
      expect(readFileSync(join(dir, 'out.csv'))).toEqual(await bytesOf(await get({ to: String(to) })));
      expect(gunzipSync(readFileSync(join(dir, 'out.ndjson.gz')))).toEqual(
        await bytesOf(await get({ to: String(to), format: 'ndjson' })),
      );
      const rawRows = raw.stdout.split('\n').slice(1, -1);
      const want = expected(0, toSeq);
      expect(rawRows).toHaveLength(want.length);
      expect(rawRows[10]).toMatch(/,"odd,""id""",#[0-9A-F]{6},"\d+,\d+"$/);
      expect(rawRows[11]).toContain(`,${'ü'.repeat(32)},`);
      const resumed = tail.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l).seq);
      expect(resumed).toEqual(want.filter((e) => e.seq > 1500).map((e) => e.seq));
    },
    CLI_TIMEOUT_MS,
  );

  it(
    "writes heatmap and virgin map PNGs equal to the API's",
    async () => {
      const to = start + 30_000;
      const [heat, virgin, bad] = await Promise.all([
        rplace(['heatmap', '--from', String(start + 12_000), '--to', String(to), '-o', join(dir, 'heat.png')]),
        rplace(['virgin', '--to', String(to), '-o', join(dir, 'virgin.png'), '--raw']),
        rplace(['heatmap', '--to', String(Date.now() + 3_600_000), '-o', join(dir, 'x.png')]),
      ]);
      expect(heat.code, heat.stderr).toBe(0);
      expect(heat.stdout).toMatch(/heat\.png: placements per pixel, seq \d+\.\.\d+, busiest pixel \d+, in /);
      expect(readFileSync(join(dir, 'heat.png'))).toEqual(
        await bytesOf(await activity('/api/v1/history/heatmap', { from: String(start + 12_000), to: String(to) })),
      );
      expect(virgin.code, virgin.stderr).toBe(0);
      expect(readFileSync(join(dir, 'virgin.png'))).toEqual(
        await bytesOf(await activity('/api/v1/history/virgin', { to: String(to), format: 'raw' })),
      );
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/^rplace heatmap: to .* is in the future\n$/);
    },
    CLI_TIMEOUT_MS,
  );

  it(
    "lists a user's placements newest first, a page at a time (user-history)",
    async () => {
      const mine = events.filter((e) => e.userId === 'u7').reverse();
      expect(mine.length).toBeGreaterThan(30);
      const first = await rplace(['user-history', 'u7', '--limit', '20', '--json']);
      expect(first.code, first.stderr).toBe(0);
      const page1 = JSON.parse(first.stdout);
      expect(
        page1.placements.map((p: { seq: number; x: number; y: number; color: number; placedAt: string }) => [
          p.seq,
          p.x,
          p.y,
          p.color,
          Date.parse(p.placedAt),
        ]),
      ).toEqual(mine.slice(0, 20).map((e) => [e.seq, e.x, e.y, e.color, e.placedAt]));
      expect(page1.nextBefore).toBe(mine[19]?.seq);
      const second = await rplace(['user-history', 'u7', '--limit', '1000', '--before', String(page1.nextBefore)]);
      expect(second.code, second.stderr).toBe(0);
      const lines = second.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe(`u7: ${mine.length - 20} placement(s) before seq ${page1.nextBefore}, newest first`);
      expect(lines.slice(1).map((l) => Number(/seq (\d+)/.exec(l)?.[1]))).toEqual(mine.slice(20).map((e) => e.seq));
      expect(lines.at(-1)).not.toMatch(/^more:/);
      // Served by an index led by the user (migration 0005), on every partition.
      const indexes = (
        await pg.pool.query(`SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename LIKE 'events%'`, [
          names.pgSchema,
        ])
      ).rows.map((r) => String(r.indexdef));
      expect(indexes.filter((d) => /\(user_id, seq DESC\)/.test(d)).length).toBe(
        indexes.filter((d) => /\(x, y, seq DESC\)/.test(d)).length,
      );
    },
    CLI_TIMEOUT_MS,
  );

  it(
    'exits 2 with one line for bad input',
    async () => {
      const runs = await Promise.all([
        rplace(['export', '--format', 'xml']),
        rplace(['export', '--region', '30,0,20,10']),
        rplace(['export', '--to', String(Date.now() + 3_600_000)]),
        rplace(['export', '--after-seq', 'abc']),
        rplace(['export'], {}),
      ]);
      const messages = [
        /--format must be one of csv, ndjson, parquet/,
        /region 20×10 at \(30,0\) leaves the 40×30 canvas/,
        /is in the future/,
        /--after-seq must be a sequence number/,
        /set EXPORT_USER_SALT .* or pass --raw-user-ids/,
      ];
      runs.forEach((run, i) => {
        expect(run.code, run.stderr).toBe(2);
        expect(run.stderr.trim().split('\n')).toHaveLength(1);
        expect(run.stderr).toMatch(messages[i] as RegExp);
        expect(run.stdout).toBe('');
      });
    },
    CLI_TIMEOUT_MS,
  );
});
