/**
 * Postgres stopped mid-run loses nothing: a PRIVATE Postgres cluster (initdb/pg_ctl under a temp dir, as the
 * postgres user when we are root) is stopped while events keep arriving, then restarted; the projector held
 * its batch, reports the outage in its metrics, and catches up to exactly the stream. The shared Postgres is
 * never touched.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { pino } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import { metrics } from '../../src/adapters/metrics.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { canvasAt } from '../../src/app/history/point-in-time.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import { applyStreams } from '../../streams/apply.ts';
import { publishEvents, randomEvents, referenceCanvasToSeq, type TestEvent } from '../helpers/history.ts';
import { deleteStream, TEST_NATS_URL, testEnv, testNames } from '../helpers/isolation.ts';
import { freePort } from '../kit/free-port.ts';
import { sleep } from '../../src/app/sleep.ts';

const W = 50;
const H = 40;
const names = testNames('histoutage');
const logger = pino({ level: 'silent' });
const bin = join('/usr/lib/postgresql', readdirSync('/usr/lib/postgresql').sort().at(-1) ?? '15', 'bin');
const asRoot = process.getuid?.() === 0;
let dir = '';
let port = 0;
let nc: NatsConnection;
let stop: (() => Promise<void>) | null = null;
let pg: PgConnection | null = null;

function pgCtl(...args: string[]): void {
  const argv = [join(bin, 'pg_ctl'), '-D', join(dir, 'data'), ...args];
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...argv], { stdio: 'ignore', timeout: 30_000 });
  else execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 30_000 });
}

function startPg(): void {
  pgCtl('-w', '-l', join(dir, 'log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'rplace-pg-'));
  chmodSync(dir, 0o777);
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString());
    chownSync(dir, uid, gid);
  }
  const initdb = [join(bin, 'initdb'), '-D', join(dir, 'data'), '-A', 'trust', '-U', 'postgres', '--no-sync'];
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...initdb], { stdio: 'ignore', timeout: 60_000 });
  else execFileSync(initdb[0]!, initdb.slice(1), { stdio: 'ignore', timeout: 60_000 });
  port = await freePort();
  startPg();
  nc = await connectNats(TEST_NATS_URL, 'history-outage-test');
  await applyStreams(nc, names);
}, 90_000);

afterAll(async () => {
  await stop?.();
  await pg?.close().catch(() => undefined);
  if (nc) {
    await deleteStream(nc, names);
    await nc.close();
  }
  try {
    pgCtl('-m', 'immediate', 'stop');
  } catch {
    // already stopped
  }
  rmSync(dir, { recursive: true, force: true });
});

it('loses nothing when Postgres stops for a while and comes back', async () => {
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const config = loadConfig(
    historySchema,
    testEnv(names, {
      DATABASE_URL: url,
      CANVAS_WIDTH: String(W),
      CANVAS_HEIGHT: String(H),
      SNAPSHOT_INTERVAL_MS: '500',
    }),
  );
  stop = await startHistory(config, logger);
  pg = await connectPg(url, names.pgSchema, logger);
  const store = createPgHistoryStore(pg, logger);
  const projection = names.consumers.history;
  let events: TestEvent[] = await publishEvents(
    nc,
    names,
    randomEvents(2000, W, H, Date.now() - 60_000, 20_000, 32, 11),
  );
  await expect
    .poll(() => store.position(projection), { message: 'the first events', timeout: 20_000, interval: 100 })
    .toBe(events.at(-1)?.seq);
  const outagesBefore = (await metrics.historyStoreOutages.get()).values[0]?.value ?? 0;

  pgCtl('-m', 'fast', 'stop');
  events = [
    ...events,
    ...(await publishEvents(nc, names, randomEvents(2000, W, H, Date.now() - 30_000, 20_000, 32, 12))),
  ];
  await sleep(3_000);
  expect((await metrics.historyStoreUp.get()).values[0]?.value).toBe(0);
  events = [
    ...events,
    ...(await publishEvents(nc, names, randomEvents(1000, W, H, Date.now() - 5_000, 4_000, 32, 13))),
  ];
  startPg();

  await expect
    .poll(() => store.position(projection).catch(() => 0), {
      message: 'catch-up after the outage',
      timeout: 40_000,
      interval: 250,
    })
    .toBe(events.at(-1)?.seq);
  expect(Number((await pg.pool.query('SELECT count(*) AS n FROM events')).rows[0].n)).toBe(events.length);
  expect((await metrics.historyStoreUp.get()).values[0]?.value).toBe(1);
  expect((await metrics.historyStoreOutages.get()).values[0]?.value).toBe(outagesBefore + 1);
  const got = await canvasAt(store, { width: W, height: H }, projection, Date.now());
  expect(Buffer.from(got.canvas)).toEqual(Buffer.from(referenceCanvasToSeq(events, W, H, events.at(-1)!.seq)));
  const latest = await store.latestSnapshot(Number.MAX_SAFE_INTEGER);
  expect(latest).not.toBeNull();
  expect(Buffer.from(await store.loadSnapshot(latest!.seq))).toEqual(
    Buffer.from(referenceCanvasToSeq(events, W, H, latest!.seq)),
  );
}, 90_000);
