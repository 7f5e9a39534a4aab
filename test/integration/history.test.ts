/**
 * History against the real NATS and Postgres: the projector writes every event once, snapshots equal a
 * replay to their sequence, the point-in-time canvas equals the reference rule for random instants (event
 * times deliberately not monotone in sequence), restarts and redeliveries change nothing, and the HTTP
 * routes answer PNG / APNG that decode to the expected pixels, and MP4 / WebM (ffmpeg) whose decoded frames show
 * the expected palette colours; a client that disconnects from a video leaves no ffmpeg behind.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import type { PgConnection } from '../../src/adapters/pg/connect.ts';
import { videoSize } from '../../src/adapters/image/ffmpeg-video.ts';
import { SequenceConflict } from '../../src/ports/errors.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import type { HistoryStore } from '../../src/ports/history.ts';
import type { HttpResponse, HttpRoute } from '../../src/app/http.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { PALETTE_32, paletteRgba } from '../../src/domain/palette.ts';
import { loadUws } from '../../src/adapters/uws/load.ts';
import { mountHttpRoutes } from '../../src/adapters/uws/http-routes.ts';
import { startHistoryApi } from '../../src/roles/history/api.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { startProjectedHistory, stopProjectedHistory } from '../helpers/history-fixture.ts';
import {
  bytesOf,
  publishEvents,
  randomEvents,
  referenceCanvasAt,
  referenceCanvasToSeq,
  type TestEvent,
} from '../helpers/history.ts';
import { testEnv, testNames } from '../helpers/isolation.ts';
import { canvasCli } from '../helpers/cli.ts';
import { decodePng } from '../helpers/png.ts';
import { decodeFrame, ffmpegChildren, probeDuration, probeVideo, requireFfmpeg } from '../helpers/video.ts';

const W = 40;
const H = 30;
const INTERVAL = 300;
const names = testNames('history');
const logger = pino({ level: 'silent' });
const config = loadConfig(
  historySchema,
  testEnv(names, {
    CANVAS_WIDTH: String(W),
    CANVAS_HEIGHT: String(H),
    SNAPSHOT_INTERVAL_MS: String(INTERVAL),
    SNAPSHOT_MAX_EVENTS: '1000',
  }),
);
const projection = names.consumers.history;

let nc: NatsConnection;
let pg: PgConnection;
let store: HistoryStore;
let events: TestEvent[] = [];
let stop: (() => Promise<void>) | null = null;
let api: { routes: HttpRoute[]; close(): Promise<void> };
const start = Date.now() - 3_600_000;
const SPAN = 60_000;
/** The timelapse the API tests ask for: the whole span, the region (5, 4) 20 × 10, 4 fps for 3 s. */
const TIMELAPSE = {
  from: String(start),
  to: String(start + SPAN),
  x: '5',
  y: '4',
  w: '20',
  h: '10',
  fps: '4',
  duration: '3',
};

async function rowCount(): Promise<number> {
  return Number((await pg.pool.query('SELECT count(*) AS n FROM events')).rows[0].n);
}

function route(path: string): HttpRoute {
  const found = api.routes.find((r) => r.path === path);
  if (!found) throw new Error(`no route ${path}`);
  return found;
}

function get(path: string, query: Record<string, string>): Promise<HttpResponse> {
  return route(path).handle({
    method: 'GET',
    path,
    query: new URLSearchParams(query),
    headers: {},
    remoteAddress: '127.0.0.1',
  });
}

beforeAll(async () => {
  ({ nc, pg, store, events, stop, api } = await startProjectedHistory({
    clientName: 'history-test',
    names,
    config,
    logger,
    events: randomEvents(3000, W, H, start, SPAN, 32, 7),
  }));
});

afterAll(() => stopProjectedHistory({ nc, pg, stop, api }, names));

describe('history projector', () => {
  it('writes every event exactly once, with its fields', async () => {
    expect(await rowCount()).toBe(events.length);
    const e = events[1234] as TestEvent;
    const row = (await pg.pool.query('SELECT x, y, color, user_id, placed_at FROM events WHERE seq = $1', [e.seq]))
      .rows[0];
    expect(row).toEqual({ x: e.x, y: e.y, color: e.color, user_id: e.userId, placed_at: new Date(e.placedAt) });
    const partitions = (
      await pg.pool.query(
        `SELECT count(*) AS n FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE 'events_p%'`,
        [names.pgSchema],
      )
    ).rows[0].n;
    expect(Number(partitions)).toBeGreaterThanOrEqual(2);
    expect(Number((await pg.pool.query('SELECT count(*) AS n FROM events_default')).rows[0].n)).toBe(0);
  });

  it('takes snapshots by event time during catch-up, each equal to a replay to its sequence', async () => {
    const snaps = (await pg.pool.query('SELECT seq, max_placed_at, pixel_count FROM snapshots ORDER BY seq')).rows;
    // 60 s of event time at a 300 ms interval: about 200 snapshots (plus count/timer ones).
    expect(snaps.length).toBeGreaterThan(100);
    for (const snap of snaps.filter((_, i) => i % 10 === 0)) {
      const seq = Number(snap.seq);
      expect(Buffer.from(await store.loadSnapshot(seq))).toEqual(Buffer.from(referenceCanvasToSeq(events, W, H, seq)));
      expect(Number(snap.pixel_count)).toBe(events.filter((e) => e.seq <= seq).length);
      expect(snap.max_placed_at.getTime()).toBe(Math.max(...events.filter((e) => e.seq <= seq).map((e) => e.placedAt)));
    }
  });

  it('point-in-time equals the reference replay for random instants, byte for byte', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: start - 1000, max: start + SPAN + 1000 }), async (time) => {
        const got = await canvasAt(store, { width: W, height: H }, projection, time);
        const want = referenceCanvasAt(events, W, H, time);
        expect(got.seq).toBe(want.seq);
        expect(Buffer.from(got.canvas)).toEqual(Buffer.from(want.canvas));
      }),
      { numRuns: 60 },
    );
  });

  it('snapshots by wall clock while idle after live events', async () => {
    const before = Number((await pg.pool.query('SELECT count(*) AS n FROM snapshots')).rows[0].n);
    const now = Date.now();
    const live = await publishEvents(nc, names, randomEvents(20, W, H, now - 100, 50, 32, 8));
    events = [...events, ...live];
    await expect
      .poll(async () => (await store.latestSnapshot(Number.MAX_SAFE_INTEGER))?.seq, {
        message: 'a wall-clock snapshot of the live events',
        timeout: 10_000,
        interval: 100,
      })
      .toBe(live.at(-1)?.seq);
    expect(Number((await pg.pool.query('SELECT count(*) AS n FROM snapshots')).rows[0].n)).toBeGreaterThan(before);
    expect(Buffer.from(await store.loadSnapshot(live.at(-1)!.seq))).toEqual(
      Buffer.from(referenceCanvasToSeq(events, W, H, live.at(-1)!.seq)),
    );
  });

  it('a redelivered batch changes nothing, and a stale writer gets SequenceConflict', async () => {
    const position = await store.position(projection);
    const old = events
      .slice(0, 100)
      .map((e) => ({ seq: e.seq, storedAt: e.placedAt, event: { ...e, color: (e.color + 1) % 32 } }));
    await store.commit({ projection, expectedSeq: position, newSeq: position, rows: old, snapshots: [] });
    expect(await rowCount()).toBe(events.length);
    const row = (await pg.pool.query('SELECT color FROM events WHERE seq = $1', [events[5]!.seq])).rows[0];
    expect(row.color).toBe(events[5]!.color);
    await expect(
      store.commit({ projection, expectedSeq: position - 10, newSeq: position, rows: old, snapshots: [] }),
    ).rejects.toBeInstanceOf(SequenceConflict);
  });

  it('a restart resumes from the stored position: nothing lost, nothing doubled', async () => {
    await stop?.();
    stop = null;
    const more = await publishEvents(nc, names, randomEvents(500, W, H, Date.now() - 2000, 1000, 32, 9));
    events = [...events, ...more];
    stop = await startHistory(config, logger);
    await expect
      .poll(() => store.position(projection), {
        message: 'history to catch up after the restart',
        timeout: 20_000,
        interval: 100,
      })
      .toBe(more.at(-1)?.seq);
    expect(await rowCount()).toBe(events.length);
    const got = await canvasAt(store, { width: W, height: H }, projection, Date.now());
    expect(Buffer.from(got.canvas)).toEqual(Buffer.from(referenceCanvasToSeq(events, W, H, more.at(-1)!.seq)));
  });
});

describe('history API', () => {
  it('serves the canvas at an instant as raw bytes and as a palette PNG', async () => {
    const time = start + SPAN / 2;
    const want = referenceCanvasAt(events, W, H, time);
    const raw = await get('/api/v1/history/snapshot', { time: new Date(time).toISOString() });
    expect(raw.status).toBe(200);
    expect(raw.headers?.['x-rplace-seq']).toBe(String(want.seq));
    expect(Buffer.from(await bytesOf(raw))).toEqual(Buffer.from(want.canvas));
    const png = await get('/api/v1/history/snapshot', { time: String(time), format: 'png' });
    expect(png.headers?.['content-type']).toBe('image/png');
    const decoded = decodePng(await bytesOf(png));
    expect([decoded.width, decoded.height]).toEqual([W, H]);
    expect(Buffer.from(decoded.frames[0]!)).toEqual(Buffer.from(want.canvas));
    const rgba = paletteRgba(PALETTE_32);
    expect(decoded.palette[3]).toEqual([rgba[12], rgba[13], rgba[14]]);
  });

  it('refuses bad and future times with 400 {code, message}', async () => {
    for (const time of ['yesterday', '2026-13-45T00:00:00Z', '', new Date(Date.now() + 3_600_000).toISOString()]) {
      const response = await get('/api/v1/history/snapshot', { time });
      expect(response.status).toBe(400);
      const body = JSON.parse(String(response.body));
      expect(body.code).toBe('bad_request');
      expect(body.message).toMatch(/time/);
    }
  });

  it('pages a pixel history newest first', async () => {
    const counts = new Map<string, number>();
    for (const e of events) counts.set(`${e.x},${e.y}`, (counts.get(`${e.x},${e.y}`) ?? 0) + 1);
    const [key] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]!;
    const [x, y] = key.split(',');
    const want = events.filter((e) => `${e.x},${e.y}` === key).reverse();
    const seen: { seq: number; color: number; userId: string; placedAt: string }[] = [];
    let cursor: string | null = null;
    do {
      const response = await get('/api/v1/history/pixel', { x: x!, y: y!, limit: '3', ...(cursor ? { cursor } : {}) });
      expect(response.status).toBe(200);
      const body = JSON.parse(String(response.body));
      seen.push(...body.placements);
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen.map((p) => p.seq)).toEqual(want.map((e) => e.seq));
    expect(seen[0]).toMatchObject({
      color: want[0]!.color,
      userId: want[0]!.userId,
      placedAt: new Date(want[0]!.placedAt).toISOString(),
    });
    expect((await get('/api/v1/history/pixel', { x: '-1', y: '0' })).status).toBe(400);
  });

  it('names who placed each pixel from the user store, keeping userId for tools', async () => {
    const e = events.at(-1) as TestEvent;
    await pg.pool.query('INSERT INTO users (user_id, username, password_hash, created_at) VALUES ($1, $2, $3, now())', [
      e.userId,
      `name_${e.userId}`,
      'x',
    ]);
    const body = JSON.parse(
      String((await get('/api/v1/history/pixel', { x: String(e.x), y: String(e.y), limit: '100' })).body),
    );
    const placements = body.placements as { userId: string; username: string | null }[];
    expect(placements[0]).toMatchObject({ userId: e.userId, username: `name_${e.userId}` });
    // The other test users have no account: no name, but their ids stay.
    for (const p of placements) expect(p.username).toBe(p.userId === e.userId ? `name_${e.userId}` : null);
  });

  it('streams an APNG timelapse of a region whose frames equal the reference, with progress', async () => {
    const region = { x: 5, y: 4, w: 20, h: 10 };
    const from = start,
      to = start + SPAN;
    const response = await get('/api/v1/history/timelapse', { ...TIMELAPSE, job: 'tl-test' });
    expect(response.status).toBe(200);
    expect(response.headers?.['x-rplace-frames']).toBe('12');
    const decoded = decodePng(await bytesOf(response));
    expect(decoded.declaredFrames).toBe(12);
    expect(decoded.frames.length).toBe(12);
    expect(decoded.delays[0]).toBeCloseTo(0.25);
    decoded.frames.forEach((frame, i) => {
      const time = Math.round(from + ((to - from) * i) / 11);
      const full = referenceCanvasAt(events, W, H, time).canvas;
      const crop = new Uint8Array(region.w * region.h);
      for (let r = 0; r < region.h; r++)
        crop.set(full.subarray((region.y + r) * W + region.x, (region.y + r) * W + region.x + region.w), r * region.w);
      expect(Buffer.from(frame), `frame ${i}`).toEqual(Buffer.from(crop));
    });
    const progress = JSON.parse(String((await get('/api/v1/history/timelapse/progress', { job: 'tl-test' })).body));
    expect(progress).toMatchObject({ id: 'tl-test', state: 'done', framesDone: 12, framesTotal: 12 });
  });

  it('bounds timelapse inputs', async () => {
    const base = { from: String(start), to: String(start + 1000) };
    const cases: [Record<string, string>, RegExp][] = [
      [{ ...base, fps: '60', duration: '60' }, /frames; at most/],
      [{ ...base, w: '41' }, /w/],
      [{ ...base, to: String(start - 1) }, /after from/],
      [{ ...base, to: String(Date.now() + 60_000) }, /future/],
    ];
    for (const [query, message] of cases) {
      const response = await get('/api/v1/history/timelapse', query);
      expect(response.status, JSON.stringify(query)).toBe(400);
      expect(JSON.parse(String(response.body)).message).toMatch(message);
    }
  });

  it('says MP4 and WebM need ffmpeg when the server has none', async () => {
    const noFfmpeg = await startHistoryApi(config, logger, { ffmpegPath: null });
    try {
      const find = (path: string) => noFfmpeg.routes.find((r) => r.path === path)!;
      for (const format of ['mp4', 'webm']) {
        const response = await find('/api/v1/history/timelapse').handle({
          method: 'GET',
          path: '/api/v1/history/timelapse',
          query: new URLSearchParams({ from: String(start), to: String(start + 1000), format }),
          headers: {},
          remoteAddress: '127.0.0.1',
        });
        expect(response.status).toBe(400);
        expect(JSON.parse(String(response.body))).toEqual({
          code: 'bad_request',
          message: `format ${format} needs ffmpeg, which is not installed on this server; use apng`,
        });
      }
      const info = await find('/api/v1/history/info').handle({
        method: 'GET',
        path: '/api/v1/history/info',
        query: new URLSearchParams(),
        headers: {},
        remoteAddress: '127.0.0.1',
      });
      expect(JSON.parse(String(info.body)).formats).toEqual(['apng']);
    } finally {
      await noFfmpeg.close();
    }
  });
});

describe('history API: MP4 and WebM timelapses through ffmpeg', () => {
  const region = { x: 5, y: 4, w: 20, h: 10 };
  const from = start,
    to = start + SPAN;
  const dir = mkdtempSync(join(tmpdir(), 'rplace-timelapse-'));
  const rgba = paletteRgba(PALETTE_32);

  /** The palette index whose colour is nearest (squared RGB distance). */
  function nearestColor(rgb: readonly number[]): number {
    let best = 0,
      bestDistance = Infinity;
    for (let i = 0; i < PALETTE_32.length; i++) {
      const d = (rgb[0]! - rgba[i * 4]!) ** 2 + (rgb[1]! - rgba[i * 4 + 1]!) ** 2 + (rgb[2]! - rgba[i * 4 + 2]!) ** 2;
      if (d < bestDistance) [best, bestDistance] = [i, d];
    }
    return best;
  }

  it('lists mp4 and webm in /info when ffmpeg is installed', async () => {
    requireFfmpeg();
    expect(JSON.parse(String((await get('/api/v1/history/info', {})).body)).formats).toEqual(['apng', 'mp4', 'webm']);
  });

  for (const format of ['mp4', 'webm'] as const) {
    it(`streams a ${format} whose frames count fps × duration, at the documented size, ending on the reference canvas`, async () => {
      requireFfmpeg();
      const job = `tl-${format}`;
      const response = await get('/api/v1/history/timelapse', { ...TIMELAPSE, format, job });
      expect(response.status).toBe(200);
      expect(response.headers).toMatchObject({
        'content-type': `video/${format}`,
        'x-rplace-frames': '12',
        'x-rplace-job': job,
        'x-rplace-width': '960',
        'x-rplace-height': '480',
      });
      const file = join(dir, `timelapse.${format}`);
      writeFileSync(file, await bytesOf(response));
      // 20×10 scaled by 48 (short side 480): each region pixel is a 48×48 square.
      const size = videoSize(20, 10);
      expect(await probeVideo(file)).toEqual({
        codec: format === 'mp4' ? 'h264' : 'vp9',
        width: size.width,
        height: size.height,
        frames: 12,
      });
      // Streamed, yet players show its length: 12 frames at 4 fps.
      expect(await probeDuration(file)).toBeCloseTo(3, 2);
      const last = await decodeFrame(file, 11);
      expect(last.length).toBe(size.width * size.height * 3);
      const want = referenceCanvasAt(events, W, H, to).canvas;
      let worst = 0;
      for (let r = 0; r < region.h; r++) {
        for (let c = 0; c < region.w; c++) {
          const color = want[(region.y + r) * W + region.x + c]!;
          const at = ((r * size.scale + size.scale / 2) * size.width + c * size.scale + size.scale / 2) * 3;
          const got = [...last.subarray(at, at + 3)];
          expect(nearestColor(got), `pixel (${c},${r}): decoded ${got}, palette colour ${color}`).toBe(color);
          for (let k = 0; k < 3; k++) worst = Math.max(worst, Math.abs(got[k]! - rgba[color * 4 + k]!));
        }
      }
      expect(worst, 'largest channel error of a lossy codec at pixel centres').toBeLessThanOrEqual(16);
      const progress = JSON.parse(String((await get('/api/v1/history/timelapse/progress', { job })).body));
      expect(progress).toMatchObject({ id: job, state: 'done', framesDone: 12, framesTotal: 12, error: null });
    });
  }

  it('a client that disconnects mid-stream leaves no ffmpeg running and the job cancelled', async () => {
    requireFfmpeg();
    const uws = loadUws();
    const app = uws.App();
    mountHttpRoutes(app, api.routes, dir, logger);
    const listen = await new Promise<NonNullable<unknown>>((resolve, reject) =>
      app.listen('127.0.0.1', 0, (s) => (s ? resolve(s) : reject(new Error('listen')))),
    );
    try {
      const port = uws.us_socket_local_port(listen as never);
      // 600 frames at 30 fps: far more than the client reads before hanging up.
      const query = new URLSearchParams({
        from: String(from),
        to: String(to),
        w: String(W),
        h: String(H),
        fps: '30',
        duration: '20',
        format: 'mp4',
        job: 'tl-gone',
      });
      await new Promise<void>((resolve, reject) => {
        const request = httpGet(`http://127.0.0.1:${port}/api/v1/history/timelapse?${query}`, (response) => {
          expect(response.statusCode).toBe(200);
          response.once('data', () => {
            expect(ffmpegChildren(), 'ffmpeg runs while the video streams').toHaveLength(1);
            request.destroy();
            resolve();
          });
        });
        request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
      });
      await expect
        .poll(
          async () =>
            JSON.parse(String((await get('/api/v1/history/timelapse/progress', { job: 'tl-gone' })).body)).state,
          { message: 'the job to be cancelled', timeout: 10_000, interval: 20 },
        )
        .toBe('cancelled');
      await expect
        .poll(async () => ffmpegChildren().length, { message: 'no ffmpeg child left', timeout: 5_000, interval: 20 })
        .toBe(0);
      const progress = JSON.parse(String((await get('/api/v1/history/timelapse/progress', { job: 'tl-gone' })).body));
      expect(progress.framesDone).toBeLessThan(600);
    } finally {
      uws.us_listen_socket_close(listen as never);
    }
  });
});

describe('rplace timelapse (CLI)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rplace-timelapse-cli-'));
  const rplace = canvasCli(names, { width: W, height: H });

  it('writes MP4 (from the extension) and WebM (from --format), and says in one line when ffmpeg is missing', async () => {
    requireFfmpeg();
    const span = [
      'timelapse',
      '--from',
      String(start),
      '--to',
      String(start + SPAN),
      '--region',
      '5,4,20,10',
      '--fps',
      '4',
      '--duration',
      '2',
    ];
    const [mp4, webm, missing] = await Promise.all([
      rplace([...span, '-o', join(dir, 'out.mp4')]),
      rplace([...span, '--format', 'webm', '-o', join(dir, 'out.video')]),
      rplace([...span, '-o', join(dir, 'none.mp4')], { PATH: '/nonexistent' }),
    ]);
    expect(mp4.code, mp4.stderr).toBe(0);
    expect(mp4.stdout).toContain(`${join(dir, 'out.mp4')}: 8 frames of 20×10 (mp4, 960×480) in `);
    expect(await probeVideo(join(dir, 'out.mp4'))).toEqual({ codec: 'h264', width: 960, height: 480, frames: 8 });
    expect(webm.code, webm.stderr).toBe(0);
    expect(await probeVideo(join(dir, 'out.video'))).toEqual({ codec: 'vp9', width: 960, height: 480, frames: 8 });
    expect(missing).toMatchObject({
      code: 1,
      stderr:
        'rplace timelapse: mp4 needs ffmpeg, which is not on PATH (apt-get install ffmpeg); or write an animated PNG with -o out.png\n',
    });
  });
});
