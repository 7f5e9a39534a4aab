/**
 * `npm run bench -- export [--events N] [--users U] [--rounds R] [--only a,b] [--profile DIR] [--workers W]`: the dataset
 * export's throughput from the history's Postgres `events` table (the store that holds user ids), in a throwaway schema on the shared Postgres.
 *
 * Loads N placements (default 2,000,000) by U distinct users (default N / 16, the 2022 event's ratio of
 * 160M placements to 10.4M users) with SQL, in daily partitions as the projector makes them, and packed
 * chunks, then times in one run:
 *   raw        the same binary COPY, bytes counted and dropped (the floor: what Postgres can send), through
 *              pg-copy-streams; `framed here`: through src/adapters/pg/copy-to-stream.ts, the export's reader
 *   parse      the export's reader (src/adapters/pg/placement-export.ts): COPY parsed into column batches
 *   csv …      the whole export (bin/rplace export's path) into a sink that drops the bytes
 *   …, W workers the text formats formatted by W worker threads (src/adapters/pg/export-workers.ts; default
 *                2), the main thread only reading and cutting the COPY; its CPU figure counts every thread
 *   csv, … ids as strings   the CSV path as it was before the reader interned user ids (each row's id a
 *                           fresh string, keys cached in a Map by it): the same-run "before" of that change
 * Each line prints events/s, its ratio to `raw` measured in the same run, and the bench process's CPU
 * seconds per wall second with the events per CPU-second (the export's own cost, whatever share of the
 * cores a loaded machine leaves it; Postgres's side is not in it). Figures taken while other work shares the machine are noisy: compare the ratios.
 * `--only a,b` runs only the lines whose label contains one of the words (the raw read always runs); labels hold
 *   commas, so `--only 'csv, hashed user ids|parse'` splits on `|` instead when there is one;
 * `--rounds R` repeats the lines R times, interleaved, and prints each line's median (for a noisy machine);
 * `--profile DIR` writes one .cpuprofile per line there (node:inspector; keep DIR outside the repository).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import type { PlacementBatch } from '../src/domain/history/placement-batch.ts';
import type { PlacementLog } from '../src/ports/export.ts';
import { pino } from 'pino';
import { to as copyTo } from 'pg-copy-streams';
import { copyToStream } from '../src/adapters/pg/copy-to-stream.ts';
import { BACKFILL_CHUNKS_SQL } from '../migrations/0003_event_chunks.ts';
import { gzipChunks } from '../src/adapters/gzip-stream.ts';
import { createParquetEncoder } from '../src/adapters/parquet/placements-parquet.ts';
import { connectPg } from '../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../src/adapters/pg/history-store.ts';
import { migrateToLatest } from '../src/adapters/pg/migrate.ts';
import { createPgPlacementLog } from '../src/adapters/pg/placement-export.ts';
import { colorHexes, rawUserKey, type ExportFormat } from '../src/domain/history/export-format.ts';
import { saltedUserKey } from '../src/app/history/user-key.ts';
import { exportBytes, planExport } from '../src/app/history/export.ts';
import { namesFor } from '../src/domain/names.ts';
import { PALETTE_32 } from '../src/domain/palette.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

function textArg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const N = arg('events', 2_000_000);
const onlyArg = textArg('only');
const only = onlyArg?.split(onlyArg.includes('|') ? '|' : ',');
const profileDir = textArg('profile');
const rounds = arg('rounds', 1);
const WORKERS = arg('workers', 2);
const USERS = arg('users', Math.max(1, Math.round(N / 16)));
const url = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const names = namesFor(`b_exp_${randomBytes(4).toString('hex')}`);
const logger = pino({ level: 'warn' });
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pg = await connectPg(url, names.pgSchema, logger, { statementTimeoutMs: 600_000 });
const projection = names.consumers.history;

try {
  await migrateToLatest(pg.pool, names.pgSchema);
  const span = Math.ceil(N / 3.333);
  const start = Date.now() - span - 60_000;
  const DAY = 86_400_000;
  for (let day = Math.floor(start / DAY); day <= Math.floor(Date.now() / DAY) + 1; day++) {
    const from = new Date(day * DAY).toISOString();
    await pg.pool.query(
      `CREATE TABLE IF NOT EXISTS events_p${from.slice(0, 10).replace(/-/g, '')} PARTITION OF events FOR VALUES FROM ('${from}') TO ('${new Date((day + 1) * DAY).toISOString()}')`,
    );
  }
  const t0 = performance.now();
  await pg.pool.query(`INSERT INTO events (seq, kind, x, y, color, user_id, placed_at, stored_at)
    SELECT g, 1, (random() * 1999)::int, (random() * 1999)::int, (random() * 31)::int, 'user_' || (random() * ${USERS - 1})::int,
           to_timestamp((${start} + (g * ${span}::float8 / ${N}))::bigint / 1000.0), now()
    FROM generate_series(1, ${N}) g`);
  await pg.pool.query(BACKFILL_CHUNKS_SQL);
  await pg.pool.query(`INSERT INTO projection_positions (name, seq) VALUES ($1, $2)`, [projection, N]);
  await pg.pool.query('ANALYZE events');
  process.stdout.write(
    `loaded ${fmt(N)} events by ${fmt(USERS)} users in ${((performance.now() - t0) / 1000).toFixed(1)} s (schema ${names.pgSchema})\n`,
  );

  const log = createPgPlacementLog(pg, projection);
  const workerLog = createPgPlacementLog(pg, projection, { workers: WORKERS });
  const store = createPgHistoryStore(pg, logger);
  const planned = await planExport(store, log, { width: 2000, height: 2000 }, {}, Date.now());
  if (!planned.ok) throw new Error(planned.problems.join('; '));
  const plan = planned.plan;
  const colorHex = colorHexes(PALETTE_32);

  async function raw(framed = false): Promise<number> {
    const client = await pg.pool.connect();
    let bytes = 0;
    try {
      const copy = client.query(
        (framed ? copyToStream : copyTo)(
          `COPY (SELECT seq, kind, x, y, color, user_id, placed_at FROM events WHERE seq > 0 AND seq <= ${N} ORDER BY seq) TO STDOUT (FORMAT binary)`,
        ),
      );
      for await (const part of copy as AsyncIterable<Buffer>) bytes += part.length;
    } finally {
      client.release();
    }
    return bytes;
  }
  async function parse(): Promise<number> {
    let rows = 0;
    for await (const batch of log.placements(0, N)) rows += batch.count;
    if (rows !== N) throw new Error(`parse read ${rows} rows, expected ${N}`);
    return rows;
  }
  /** The log with its batches' interned user indexes hidden: ids as strings only, as before the interner. */
  const stringsOnly: PlacementLog = {
    lastSeq: () => log.lastSeq(),
    async *placements(after, until, region) {
      for await (const b of log.placements(after, until, region)) {
        const { userIndex: _index, userGeneration: _generation, ...plain } = b;
        yield plain as PlacementBatch;
      }
    },
  };
  async function exportTo(
    format: ExportFormat,
    opts: { raw?: boolean; gzip?: number; strings?: boolean; workers?: boolean } = {},
  ): Promise<number> {
    let bytes = 0,
      rows = 0;
    const salt = 'bench-salt-0123456789';
    if (opts.workers && format !== 'parquet' && !opts.gzip) {
      // The product formats plain text on one thread (src/app/history/export.ts); the workers' own path,
      // measured beside it, is the evidence for that choice.
      const runs = workerLog.formatted!(plan.startSeq, plan.toSeq, plan.region, {
        format,
        userSalt: opts.raw ? null : salt,
        colorHex,
        gzipLevel: null,
      });
      for await (const run of runs) {
        bytes += run.bytes.length;
        rows += run.rows;
      }
      if (rows !== N) throw new Error(`${format} exported ${rows} rows, expected ${N}`);
      return bytes;
    }
    const body = exportBytes(opts.workers ? workerLog : opts.strings ? stringsOnly : log, plan, {
      format,
      colorHex,
      userKey: opts.raw ? rawUserKey : saltedUserKey(salt),
      ...(opts.workers ? { userSalt: opts.raw ? null : salt } : {}),
      ...(opts.gzip ? { gzip: { level: opts.gzip, stream: gzipChunks } } : {}),
      parquet: createParquetEncoder(),
      onBatch: (_seq, n) => (rows += n),
    });
    for await (const chunk of body) bytes += chunk.length;
    if (rows !== N) throw new Error(`${format} exported ${rows} rows, expected ${N}`);
    return bytes;
  }
  const runs: [string, () => Promise<number>][] = [
    ['raw COPY read (baseline)', () => raw()],
    ['raw COPY read, framed here', () => raw(true)],
    ['parse into batches', parse],
    ['csv, hashed user ids', () => exportTo('csv')],
    ['csv, hashed, ids as strings', () => exportTo('csv', { strings: true })],
    ['csv, raw user ids', () => exportTo('csv', { raw: true })],
    ['csv, raw, ids as strings', () => exportTo('csv', { raw: true, strings: true })],
    ['ndjson, hashed user ids', () => exportTo('ndjson')],
    ['parquet, hashed user ids', () => exportTo('parquet')],
    ['csv + gzip 1, hashed user ids', () => exportTo('csv', { gzip: 1 })],
    ['csv + gzip 6 (before), hashed', () => exportTo('csv', { gzip: 6 })],
    [`csv, hashed, ${WORKERS} workers`, () => exportTo('csv', { workers: true })],
    [`csv, raw ids, ${WORKERS} workers`, () => exportTo('csv', { raw: true, workers: true })],
    [`ndjson, hashed, ${WORKERS} workers`, () => exportTo('ndjson', { workers: true })],
    [`csv + gzip 1, hashed, ${WORKERS} workers`, () => exportTo('csv', { gzip: 1, workers: true })],
  ];
  const selected = runs.filter(([label], i) => i === 0 || !only || only.some((word) => label.includes(word)));
  if (selected.some(([label]) => label.includes('workers'))) {
    // The worker threads are kept between exports (src/adapters/pg/export-workers.ts): start them before the
    // timed lines, and say what the first export of a process pays for that.
    const t = performance.now();
    for await (const _ of exportBytes(
      workerLog,
      { ...plan, toSeq: 1 },
      { format: 'csv', colorHex, userKey: rawUserKey, userSalt: null },
    ));
    process.stdout.write(
      `${WORKERS} worker threads started (first export of the process) in ${Math.round(performance.now() - t)} ms\n`,
    );
  }
  const ratios = new Map<string, number[]>();
  const rates = new Map<string, number[]>();
  const perCpu = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    if (rounds > 1)
      process.stdout.write(
        `round ${round} of ${rounds} (load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')})\n`,
      );
    let baseline = 0;
    for (const [label, run] of selected) {
      const session = profileDir === undefined || round > 1 ? undefined : new Session();
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      const rss0 = process.memoryUsage().rss;
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      const bytes = await run();
      const seconds = (performance.now() - t) / 1000;
      const cpu = process.cpuUsage(cpu0);
      if (session && profileDir !== undefined) {
        const { profile } = await session.post('Profiler.stop');
        mkdirSync(profileDir, { recursive: true });
        writeFileSync(join(profileDir, `${label.replace(/[^a-z0-9]+/gi, '-')}.cpuprofile`), JSON.stringify(profile));
        session.disconnect();
      }
      const rate = N / seconds;
      if (baseline === 0) baseline = rate;
      (ratios.get(label) ?? ratios.set(label, []).get(label)!).push(rate / baseline);
      (rates.get(label) ?? rates.set(label, []).get(label)!).push(rate);
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      (perCpu.get(label) ?? perCpu.set(label, []).get(label)!).push(N / cpuSeconds);
      process.stdout.write(
        `${label.padEnd(30)} ${fmt(rate).padStart(11)} events/s  ${(rate / baseline).toFixed(2)}× raw  cpu ${(cpuSeconds / seconds).toFixed(2)} (${fmt(N / cpuSeconds)} events per CPU-s)  ${fmt(bytes / 1e6)} MB  rss +${fmt((process.memoryUsage().rss - rss0) / 1e6)} MB\n`,
      );
    }
  }
  if (rounds > 1) {
    const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] as number;
    process.stdout.write(`medians of ${rounds} interleaved rounds (ratio: to the same round's raw read)\n`);
    for (const [label] of selected)
      process.stdout.write(
        `${label.padEnd(30)} ${fmt(median(rates.get(label)!)).padStart(11)} events/s  ${median(ratios.get(label)!).toFixed(2)}× raw  ${fmt(median(perCpu.get(label)!))} events per CPU-s of this process\n`,
      );
  }
} finally {
  await pg.pool.query(`DROP SCHEMA IF EXISTS "${names.pgSchema}" CASCADE`).catch(() => undefined);
  await pg.close();
}
