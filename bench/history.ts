/**
 * `npm run bench -- history [--events N] [--rate R] [--ingest-only] [--async-commit] [--drop-index a,b]`:
 * history ingest, point-in-time and timelapse on the shared Postgres, in a throwaway schema. `--async-commit`
 * runs the projector's batches with `synchronous_commit = off` (src/adapters/pg/history-writes.ts);
 * `--drop-index` ingests without those indexes of `events` (an experiment: what each index costs).
 *
 * Loads N placements at R/s of event time (default 2,000,000 at 3,333/s = 10 minutes; the issue's hour is
 * 12M, see BENCHMARKS.md for the extrapolation) on a 2000×2000 canvas, random pixels and colours (a worst
 * case for deflate), through the real projector code (apply + snapshots every 30 s of event time + one
 * transaction per 5,000-event batch) fed from memory; NATS is left out so the figure is the Postgres side.
 * Baselines in the same run: a bare unnest INSERT into an unlogged, unindexed table (raw insert rate), an
 * inflate of a snapshot deflated as before migration 0004 (the floor under every answer then; now a measure
 * of how loaded the machine is), and the snapshot read of the previous design (hex `bytea` + inflate)
 * against the binary COPY of the raw row. The MP4/WebM
 * lines (when ffmpeg is installed) compare each encoder alone, on frames replayed from memory, with the APNG
 * encode of the same frames.
 */
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { EventKind, type CanvasEvent } from '../proto/event-codec.ts';
import { connectPg } from '../src/adapters/pg/connect.ts';
import { copyRows } from '../src/adapters/pg/copy-out.ts';
import { compressCanvas, createPgHistoryStore, decompressCanvas } from '../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../src/adapters/pg/migrate.ts';
import { encodeVideo, findFfmpeg } from '../src/adapters/image/ffmpeg-video.ts';
import { createApngWriter, encodePng } from '../src/adapters/image/png.ts';
import { canvasAt } from '../src/app/history/point-in-time.ts';
import { createHistoryProjector } from '../src/app/history/projector.ts';
import { SnapshotCache } from '../src/domain/history/snapshot-cache.ts';
import { timelapseFrames } from '../src/app/history/timelapse.ts';
import type { ProjectionSource, StoredEvent } from '../src/ports/event-log.ts';
import { namesFor } from '../src/domain/names.ts';
import { PALETTE_32 } from '../src/domain/palette.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const N = arg('events', 2_000_000);
const RATE = arg('rate', 3_333);
const BATCH = 5_000;
const W = 2000,
  H = 2000;
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const names = namesFor(`b_hist_${randomBytes(4).toString('hex')}`);
const logger = pino({ level: 'warn' });
const start = Date.now() - Math.ceil(N / RATE) * 1000 - 60_000;
const q = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? 0;
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

let s = 12345;
const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
function batchAt(first: number, count: number): StoredEvent[] {
  const out: StoredEvent[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const seq = first + i;
    const placedAt = Math.round(start + ((seq - 1) * 1000) / RATE + (rand() - 0.5) * 40);
    out[i] = {
      seq,
      storedAt: placedAt + 1,
      event: {
        kind: EventKind.PixelPlaced,
        x: Math.floor(rand() * W),
        y: Math.floor(rand() * H),
        color: Math.floor(rand() * 32),
        userId: `u_${Math.floor(rand() * 1e6)}`,
        requestId: `r${seq}`,
        placedAt,
      },
    };
  }
  return out;
}

function textArgOf(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `--ingest-only`: stop after the ingest and storage lines (A/B runs of the ingest alone). */
const ingestOnly = process.argv.includes('--ingest-only');
class IngestOnlyDone extends Error {}

const pg = await connectPg(url, names.pgSchema, logger, { max: 4 });
try {
  await migrateToLatest(pg.pool, names.pgSchema);
  // `--drop-index a,b`: an experiment, the ingest without those indexes of `events` (what each one costs).
  for (const index of textArgOf('drop-index')?.split(',') ?? []) await pg.pool.query(`DROP INDEX ${index}`);
  const store = createPgHistoryStore(pg, logger, { asyncCommit: process.argv.includes('--async-commit') });
  process.stdout.write(
    `history bench: ${fmt(N)} events at ${RATE}/s of event time (${(N / RATE / 60).toFixed(1)} min), ${W}×${H} canvas, schema ${names.pgSchema}\n`,
  );

  // Baseline: raw unnest insert, no indexes, unlogged.
  await pg.pool.query(
    'CREATE UNLOGGED TABLE raw_events (seq int8, kind int2, x int2, y int2, color int2, user_id text, placed_at timestamptz, stored_at timestamptz)',
  );
  const rawN = Math.min(N, 500_000);
  let t = performance.now();
  for (let first = 1; first <= rawN; first += BATCH) {
    const b = batchAt(first, Math.min(BATCH, rawN - first + 1));
    await pg.pool.query(
      `INSERT INTO raw_events SELECT * FROM unnest($1::int8[], $2::int2[], $3::int2[], $4::int2[], $5::int2[], $6::text[], $7::timestamptz[], $8::timestamptz[])`,
      [
        b.map((e) => e.seq),
        b.map((e) => e.event.kind),
        b.map((e) => (e.event as CanvasEvent).x),
        b.map((e) => (e.event as CanvasEvent).y),
        b.map((e) => (e.event as CanvasEvent).color),
        b.map((e) => e.event.userId),
        b.map((e) => new Date(e.event.placedAt).toISOString()),
        b.map((e) => new Date(e.storedAt).toISOString()),
      ],
    );
  }
  const rawRate = rawN / ((performance.now() - t) / 1000);
  await pg.pool.query('DROP TABLE raw_events');
  s = 12345;

  // Ingest through the projector.
  const controller = new AbortController();
  const source: ProjectionSource = {
    async run(fromSeq, handle) {
      for (let first = fromSeq; first <= N; first += BATCH)
        await handle(batchAt(first, Math.min(BATCH, N - first + 1)));
      controller.abort();
    },
  };
  const projector = createHistoryProjector({
    store,
    source,
    clock: { now: () => Date.now() },
    width: W,
    height: H,
    projection: 'history-projector',
    snapshotIntervalMs: 30_000,
    snapshotMaxEvents: 200_000,
  });
  t = performance.now();
  let lastReport = t;
  const timer = setInterval(() => {
    const now = performance.now();
    if (now - lastReport > 15_000) {
      lastReport = now;
      process.stderr.write(`  … ${fmt(projector.seq)} events, ${fmt(projector.seq / ((now - t) / 1000))}/s\n`);
    }
  }, 1000);
  await projector.run(controller.signal);
  clearInterval(timer);
  const ingestS = (performance.now() - t) / 1000;
  const ingestRate = N / ingestS;
  const summary = await store.summary('history-projector');
  process.stdout.write(
    `ingest: ${fmt(N)} events in ${ingestS.toFixed(1)} s = ${fmt(ingestRate)} events/s (floor 10,000; ${summary.snapshots} snapshots); raw unnest insert, no indexes: ${fmt(rawRate)} events/s; ratio ${(ingestRate / rawRate).toFixed(2)}\n`,
  );
  const size = (
    await pg.pool.query(
      `SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) AS s FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind IN ('r','i','t')`,
      [names.pgSchema],
    )
  ).rows[0].s;
  process.stdout.write(`storage: ${size} for ${fmt(N)} events + snapshots\n`);
  if (ingestOnly) throw new IngestOnlyDone();

  // Baseline: inflate of the newest snapshot, deflated as rows were before migration 0004.
  const latest = await store.latestSnapshot(Number.MAX_SAFE_INTEGER);
  const blob = await compressCanvas(await store.loadSnapshot(latest!.seq));
  const inflateMs: number[] = [];
  for (let i = 0; i < 20; i++) {
    const t0 = performance.now();
    await decompressCanvas(blob);
    inflateMs.push(performance.now() - t0);
  }
  const inflateP50 = q(inflateMs, 0.5);

  // Cold figures use a store without the chunk cache: every tail comes from Postgres.
  const cold = createPgHistoryStore(pg, logger, { chunkCacheBytes: 0 });

  // The snapshot read alone, interleaved, same canvas: the previous design (deflated row, bytea as hex text
  // through node-postgres, inflate), binary COPY of that deflated row + inflate (transfer fixed, storage not),
  // and binary COPY of the raw row (this design; Postgres decompresses its TOAST).
  await pg.pool.query('CREATE TABLE deflated_snapshot (canvas bytea NOT NULL)');
  await pg.pool.query('ALTER TABLE deflated_snapshot ALTER COLUMN canvas SET STORAGE EXTERNAL');
  await pg.pool.query('INSERT INTO deflated_snapshot VALUES ($1)', [blob]);
  const hexInflate: number[] = [],
    copyInflate: number[] = [],
    copyRaw: number[] = [];
  for (let i = 0; i < 20; i++) {
    let t0 = performance.now();
    await decompressCanvas((await pg.pool.query('SELECT canvas FROM deflated_snapshot')).rows[0].canvas as Buffer);
    hexInflate.push(performance.now() - t0);
    t0 = performance.now();
    await decompressCanvas((await copyRows(pg.pool, 'SELECT canvas FROM deflated_snapshot', 1))[0]![0]!);
    copyInflate.push(performance.now() - t0);
    t0 = performance.now();
    await cold.loadSnapshot(latest!.seq);
    copyRaw.push(performance.now() - t0);
  }
  await pg.pool.query('DROP TABLE deflated_snapshot');
  const stored = (
    await pg.pool.query(
      `SELECT pg_column_size(canvas) AS s, pg_column_compression(canvas) AS c FROM snapshots WHERE seq = $1`,
      [latest!.seq],
    )
  ).rows[0];
  process.stdout.write(
    `snapshot read alone (20 reads, ${(blob.length / 1e6).toFixed(1)} MB deflated / ${(Number(stored.s) / 1e6).toFixed(1)} MB stored raw, TOAST ${stored.c ?? 'uncompressed'}): hex bytea + inflate (previous) p50 ${q(hexInflate, 0.5).toFixed(1)} ms; COPY binary + inflate p50 ${q(copyInflate, 0.5).toFixed(1)} ms; COPY binary raw p50 ${q(copyRaw, 0.5).toFixed(1)} ms; ratio raw/previous ${(q(copyRaw, 0.5) / q(hexInflate, 0.5)).toFixed(2)}\n`,
  );

  // Point-in-time for 100 random instants.
  const end = start + (N * 1000) / RATE;
  const pit: number[] = [];
  let replayed = 0;
  for (let i = 0; i < 100; i++) {
    const time = Math.round(start + Math.random() * (end - start));
    const t0 = performance.now();
    const at = await canvasAt(cold, { width: W, height: H }, 'history-projector', time);
    pit.push(performance.now() - t0);
    replayed += at.replayed;
  }
  process.stdout.write(
    `point-in-time (100 random instants, no caches): p50 ${q(pit, 0.5).toFixed(1)} ms, p99 ${q(pit, 0.99).toFixed(1)} ms (floor p99 ≤ 250, moonshot ≤ 50), mean tail ${fmt(replayed / 100)} events; raw inflate of one ${(blob.length / 1e6).toFixed(1)} MB → 4 MB snapshot: ${inflateP50.toFixed(1)} ms; ratio p50/inflate ${(q(pit, 0.5) / inflateP50).toFixed(1)}\n`,
  );

  // Overlap: the snapshot and the tail read one after the other, and at once (what canvasAt does).
  const oneByOne: number[] = [],
    atOnce: number[] = [];
  for (let i = 0; i < 20; i++) {
    const time = Math.round(start + Math.random() * (end - start));
    const snap = await cold.snapshotFor(time);
    if (!snap) continue;
    let t0 = performance.now();
    await cold.loadSnapshot(snap.seq);
    await cold.tail(snap.seq, Number.POSITIVE_INFINITY, time);
    oneByOne.push(performance.now() - t0);
    t0 = performance.now();
    await Promise.all([cold.loadSnapshot(snap.seq), cold.tail(snap.seq, Number.POSITIVE_INFINITY, time)]);
    atOnce.push(performance.now() - t0);
  }
  process.stdout.write(
    `snapshot + tail reads (20 instants): one after the other p50 ${q(oneByOne, 0.5).toFixed(1)} ms; at once p50 ${q(atOnce, 0.5).toFixed(1)} ms; ratio ${(q(atOnce, 0.5) / q(oneByOne, 0.5)).toFixed(2)}\n`,
  );

  // Baseline: the previous design's tail, one string_agg over the event rows (same ranges, 20 instants).
  const rowTail: number[] = [];
  for (let i = 0; i < 20; i++) {
    const time = Math.round(start + Math.random() * (end - start));
    const snap = await store.snapshotFor(time);
    const from = snap?.seq ?? 0;
    const until = (await store.nextSnapshotSeq(from)) ?? (await store.position('history-projector'));
    const t0 = performance.now();
    const stop = (
      await pg.pool.query('SELECT min(seq) AS s FROM events WHERE seq > $1 AND seq <= $2 AND placed_at > $3', [
        from,
        until,
        new Date(time).toISOString(),
      ])
    ).rows[0].s;
    await pg.pool.query(
      `SELECT string_agg(int2send(x) || int2send(y) || int2send(color), ''::bytea ORDER BY seq) AS b FROM events WHERE seq > $1 AND seq <= $2`,
      [from, stop == null ? until : Number(stop) - 1],
    );
    rowTail.push(performance.now() - t0);
  }
  const chunkTail: number[] = [];
  for (let i = 0; i < 20; i++) {
    const time = Math.round(start + Math.random() * (end - start));
    const snap = await store.snapshotFor(time);
    const t0 = performance.now();
    await cold.tail(snap?.seq ?? 0, Number.POSITIVE_INFINITY, time);
    chunkTail.push(performance.now() - t0);
  }
  process.stdout.write(
    `tail read alone (20 instants): packed chunks p50 ${q(chunkTail, 0.5).toFixed(1)} ms; event rows (previous design, min(seq) + string_agg) p50 ${q(rowTail, 0.5).toFixed(1)} ms; ratio ${(q(chunkTail, 0.5) / q(rowTail, 0.5)).toFixed(3)}\n`,
  );

  // The time slider: 10 drags of 30 steps of 1 s of event time, through the snapshot LRU, and the same with
  // the PNG the browser asks for.
  const cache = new SnapshotCache(8);
  const drag: number[] = [];
  const dragPng: number[] = [];
  for (let d = 0; d < 10; d++) {
    let time = Math.round(start + Math.random() * (end - start - 30_000));
    for (let step = 0; step < 30; step++, time += 1_000) {
      const t0 = performance.now();
      const at = await canvasAt(store, { width: W, height: H }, 'history-projector', time, cache);
      drag.push(performance.now() - t0);
      if (step % 5 === 0) {
        await encodePng(at.canvas, W, H, PALETTE_32);
        dragPng.push(performance.now() - t0);
      }
    }
  }
  process.stdout.write(
    `time slider (10 drags × 30 steps of 1 s, LRU of 8 snapshots + 32 MB chunk cache, ${cache.hits} hits / ${cache.misses} misses): p50 ${q(drag, 0.5).toFixed(1)} ms, p99 ${q(drag, 0.99).toFixed(1)} ms; with the PNG encode p50 ${q(dragPng, 0.5).toFixed(1)} ms; ratio p50 vs uncached ${(q(drag, 0.5) / q(pit, 0.5)).toFixed(2)}\n`,
  );

  /** `frames` timelapse frames of `region` over the whole range, each run with a cold two-snapshot cache. */
  const framesOf = (region: { x: number; y: number; w: number; h: number }, frames: number) =>
    timelapseFrames(
      store,
      { width: W, height: H },
      'history-projector',
      { from: start, to: end, frames, region },
      undefined,
      new SnapshotCache(2),
    );
  // Timelapse: 60 frames over the whole range, full canvas (frames only) and a 500×500 region as APNG.
  for (const [label, region, encode] of [
    ['full canvas, frames only', { x: 0, y: 0, w: W, h: H }, false],
    ['500×500 region, APNG', { x: 700, y: 700, w: 500, h: 500 }, true],
  ] as const) {
    const frames = 60;
    const writer = createApngWriter(region.w, region.h, frames, 10, PALETTE_32, 6);
    let bytes = writer.header().length;
    const t0 = performance.now();
    for await (const frame of framesOf(region, frames)) {
      if (encode) bytes += (await writer.frame(frame.pixels)).length;
    }
    const fps = frames / ((performance.now() - t0) / 1000);
    process.stdout.write(
      `timelapse ${label}: ${fps.toFixed(1)} frames/s${encode ? ` (${(bytes / 1e6).toFixed(1)} MB)` : ''}; raw inflate ${(1000 / inflateP50).toFixed(1)}/s; ratio ${(fps / (1000 / inflateP50)).toFixed(2)}\n`,
    );
  }

  // Video: 120 frames of the 500×500 region (random pixels: the worst case for a video codec), end to end
  // and the encoder alone on the same frames from memory, with the APNG encode of those frames as baseline.
  const ffmpegPath = findFfmpeg();
  if (!ffmpegPath) {
    process.stdout.write('timelapse video: skipped (ffmpeg is not installed)\n');
  } else {
    const region = { x: 700, y: 700, w: 500, h: 500 };
    const frames = 120;
    const stored: Uint8Array[] = [];
    for await (const frame of framesOf(region, frames)) stored.push(frame.pixels.slice());
    async function* fromMemory(): AsyncGenerator<Uint8Array> {
      yield* stored;
    }
    const writer = createApngWriter(region.w, region.h, frames, 10, PALETTE_32, 6);
    let t0 = performance.now();
    let apngBytes = writer.header().length;
    for (const pixels of stored) apngBytes += (await writer.frame(pixels)).length;
    const apngFps = frames / ((performance.now() - t0) / 1000);
    for (const format of ['mp4', 'webm'] as const) {
      const options = { ffmpegPath, palette: PALETTE_32 };
      const video = { format, width: region.w, height: region.h, fps: 10 };
      t0 = performance.now();
      async function* pixelsOf(): AsyncGenerator<Uint8Array> {
        for await (const frame of framesOf(region, frames)) yield frame.pixels;
      }
      for await (const _ of encodeVideo(options, video, pixelsOf())) {
        // drained: the figure is the whole job
      }
      const endToEnd = frames / ((performance.now() - t0) / 1000);
      t0 = performance.now();
      let bytes = 0;
      for await (const chunk of encodeVideo(options, video, fromMemory())) bytes += chunk.length;
      const alone = frames / ((performance.now() - t0) / 1000);
      process.stdout.write(
        `timelapse 500×500 region, ${frames} frames, ${format} (${format === 'mp4' ? 'libx264 veryfast' : 'libvpx-vp9 realtime cpu-used 8'}): ${alone.toFixed(1)} frames/s encoding alone (${(bytes / 1e6).toFixed(1)} MB), ${endToEnd.toFixed(1)} frames/s end to end; APNG encode alone ${apngFps.toFixed(1)} frames/s (${(apngBytes / 1e6).toFixed(1)} MB); ratio ${(alone / apngFps).toFixed(2)}\n`,
      );
    }
  }
} catch (error) {
  if (!(error instanceof IngestOnlyDone)) throw error;
} finally {
  await pg.pool.query(`DROP SCHEMA IF EXISTS "${names.pgSchema}" CASCADE`).catch(() => undefined);
  await pg.close();
}
