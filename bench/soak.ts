/**
 * `npm run bench -- soak [--minutes 30] [--placers 3400] [--watchers 1600] [--rate 3333]`: the clustered topology
 * (deploy/local/topology.ts: 3 NATS nodes R3, two edges, both projectors, on free ports) under a steady load
 * for a long time. `placers` guest users place open-loop at `rate` in all (each every placers / rate seconds,
 * never inside its 1 s cooldown; test/faults/load.ts `PeakLoad`, one generator process per edge, every placer
 * receiving the whole canvas), `watchers` more clients only stay connected and receive. Every 10 s it samples: each role's RSS,
 * the bitmap's and the history's lag behind the stream (sequences), ack latency p50/p99 of the last 10 s
 * and the delivery latency (an ack until a watcher holds that sequence). Prints the table, a growth check
 * (RSS and lag: mean of the last third vs the first third) and writes the chart to
 * test-artifacts/soak/soak.png (RSS, lag, latency panels).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { Redis } from 'ioredis';
import pg from 'pg';
import { freeNatsPorts, portFree, startTopology } from '../deploy/local/topology.ts';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { PALETTES } from '../src/domain/palette.ts';
import { nodeClient, TEST_SESSION_SECRET } from '../test/helpers/edge-process.ts';
import {
  deleteRedisKeys,
  dropSchema,
  testNames,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
  OPEN_LOOPBACK_EDGE_ENV,
} from '../test/helpers/isolation.ts';
import { PeakLoad } from '../test/faults/load.ts';
import { lineChart } from './_png-chart.ts';
import { rssBytes } from './_process.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    placers: { type: 'string', default: '3400' },
    watchers: { type: 'string', default: '1600' },
    rate: { type: 'string', default: '3333' },
  },
});
const RATE = Number(values.rate);
const MINUTES = Number(values.minutes);
const PLACERS = Number(values.placers);
const WATCHERS = Number(values.watchers);
const SAMPLE_MS = 10_000;
const SIZE = 256;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (v: number[], p: number) =>
  v.length ? [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * p))]! : 0;

const names = testNames('soak');
const dataDir = mkdtempSync(join(tmpdir(), 'rplace-soak-'));
const edgePorts: number[] = [];
while (edgePorts.length < 2) {
  const port = 10_000 + Math.floor(Math.random() * 10_000);
  if (!edgePorts.includes(port) && (await portFree(port))) edgePorts.push(port);
}
const topology = await startTopology({
  dataDir,
  natsPorts: await freeNatsPorts(),
  edgePorts,
  onStep: (line) => process.stdout.write(`[soak] ${line}\n`),
  env: {
    CANVAS_ID: names.canvasId,
    CANVAS_WIDTH: String(SIZE),
    CANVAS_HEIGHT: String(SIZE),
    COOLDOWN_SECONDS: '1',
    REDIS_URL: TEST_REDIS_URL,
    DATABASE_URL: TEST_DATABASE_URL,
    SESSION_SECRET: TEST_SESSION_SECRET,
    HOST: '127.0.0.1',
    ...OPEN_LOOPBACK_EDGE_ENV,
    LOG_LEVEL: 'warn',
  },
});
const edgeUrls = topology.edgeUrls.map((u) => u.replace('localhost', '127.0.0.1'));
const nc = await connectNats(topology.natsUrl, 'soak', topology.natsAuth('operator'));
const jsm = await jetstreamManager(nc);
const redis = new Redis(TEST_REDIS_URL);
const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
await db.connect();
// Everything after the start runs under one try/finally: a failed sample must not leave the roles running.
try {
  let window: number[] = [];
  let acks = 0;
  let lastAck = { seq: 0, at: 0 };
  // The fault suite's peak generator: the placers in one child process per edge, open-loop at RATE, so the
  // placements do not share this process's event loop with the watchers and the sampling.
  const load = new PeakLoad({
    edgeUrls,
    clients: PLACERS,
    rate: RATE,
    cooldownMs: 1_000,
    width: SIZE,
    height: SIZE,
    colors: PALETTES.rplace2022.length,
    keepAcks: false,
    onAck: (a) => {
      acks++;
      window.push(a.latencyMs);
      if (a.seq > lastAck.seq) lastAck = { seq: a.seq, at: a.at };
    },
  });
  const watchers = Array.from({ length: WATCHERS }, (_, i) => nodeClient(edgeUrls[i % 2]!, { trackCanvas: false }));
  await Promise.all(watchers.map((w) => w.connect()));
  await load.start();
  process.stdout.write(
    `[soak] ${PLACERS} placers + ${WATCHERS} watchers connected; ${MINUTES} min, a sample every ${SAMPLE_MS / 1000} s\n`,
  );

  interface Sample {
    t: number;
    acksPerS: number;
    ackP50: number;
    ackP99: number;
    deliveryMs: number;
    bitmapLag: number;
    historyLag: number;
    rssMb: Record<string, number>;
    load1: number;
  }
  const samples: Sample[] = [];
  const roles = [...topology.edges, ...topology.projectors];
  const started = Date.now();
  let acksBefore = 0;
  while (Date.now() - started < MINUTES * 60_000) {
    const tickAt = Date.now();
    // Delivery: the latest ack until the first watcher of each edge holds its sequence (10 ms polls, bound 5 s).
    const probe = lastAck;
    const probeWatchers = [watchers[0]!, watchers[1]!];
    while (probe.seq > 0 && probeWatchers.some((w) => w.seq < probe.seq) && Date.now() - probe.at < 5_000)
      await sleep(10);
    const deliveryMs = probe.seq > 0 ? Date.now() - probe.at : 0;
    await sleep(Math.max(0, SAMPLE_MS - (Date.now() - tickAt)));
    // Projection positions first, then the stream: the lag is never negative. A sample the loaded machine could
    // not answer in time is recorded as -1, not a crash.
    const bitmapSeq = Number((await redis.get(names.canvasSeqKey).catch(() => null)) ?? 0);
    const historySeq = Number(
      (
        await db
          .query(`SELECT seq FROM "${names.pgSchema}".projection_positions WHERE name = $1`, [names.consumers.history])
          .catch(() => ({ rows: [] }))
      ).rows[0]?.seq ?? 0,
    );
    const last = await jsm.streams.info(names.stream).then(
      (i) => i.state.last_seq,
      () => null,
    );
    const lat = window;
    window = [];
    const sample: Sample = {
      t: Math.round((Date.now() - started) / 1000),
      acksPerS: Math.round((acks - acksBefore) / ((Date.now() - tickAt) / 1000)),
      ackP50: pct(lat, 0.5),
      ackP99: pct(lat, 0.99),
      deliveryMs,
      bitmapLag: last === null ? -1 : last - bitmapSeq,
      historyLag: last === null ? -1 : last - historySeq,
      rssMb: Object.fromEntries(roles.map((r) => [r.name, r.pid ? Math.round(rssBytes(r.pid) / 2 ** 20) : 0])),
      load1: Number(loadavg()[0]!.toFixed(1)),
    };
    acksBefore = acks;
    samples.push(sample);
    process.stdout.write(`[soak] ${JSON.stringify(sample)}\n`);
  }

  const header = [
    't s',
    'acks/s',
    'ack p50 ms',
    'ack p99 ms',
    'delivery ms',
    'bitmap lag',
    'history lag',
    ...roles.map((r) => `${r.name} MB`),
    'load1',
  ];
  const rows = samples.map((s) => [
    s.t,
    s.acksPerS,
    s.ackP50,
    s.ackP99,
    s.deliveryMs,
    s.bitmapLag,
    s.historyLag,
    ...roles.map((r) => s.rssMb[r.name]),
    s.load1,
  ]);
  process.stdout.write(
    `\n| ${header.join(' | ')} |\n|${header.map(() => '---').join('|')}|\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}\n`,
  );
  // Growth: the mean of the last third against the first third (a leak shows as a steady rise).
  const third = Math.max(1, Math.floor(samples.length / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const growth = (pick: (s: Sample) => number) => ({
    first: Math.round(mean(samples.slice(0, third).map(pick))),
    last: Math.round(mean(samples.slice(-third).map(pick))),
  });
  const lagSamples = samples.filter((s) => s.bitmapLag >= 0);
  const lagGrowth = (pick: (s: Sample) => number) => ({
    first: Math.round(mean(lagSamples.slice(0, third).map(pick))),
    last: Math.round(mean(lagSamples.slice(-third).map(pick))),
  });
  const trends = {
    ...Object.fromEntries(roles.map((r) => [`${r.name} MB`, growth((s) => s.rssMb[r.name]!)])),
    'bitmap lag': lagGrowth((s) => s.bitmapLag),
    'history lag': lagGrowth((s) => s.historyLag),
    'ack p99': growth((s) => s.ackP99),
  };
  process.stdout.write(
    `\ngrowth (mean of first third → last third): ${JSON.stringify(trends)}\nacks ${acks}, ${Math.round(acks / ((Date.now() - started) / 1000))}/s overall; load average ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}\n`,
  );
  mkdirSync(join('test-artifacts', 'soak'), { recursive: true });
  const chart = lineChart([
    { series: Object.fromEntries(roles.map((r) => [r.name, samples.map((s) => s.rssMb[r.name]!)])) },
    { series: { bitmapLag: samples.map((s) => s.bitmapLag), historyLag: samples.map((s) => s.historyLag) } },
    {
      series: {
        ackP50: samples.map((s) => s.ackP50),
        ackP99: samples.map((s) => s.ackP99),
        deliveryMs: samples.map((s) => s.deliveryMs),
      },
    },
  ]);
  writeFileSync(join('test-artifacts', 'soak', 'soak.png'), chart);
  writeFileSync(join('test-artifacts', 'soak', 'soak.json'), JSON.stringify({ samples, trends }, null, 1));
  process.stdout.write(
    `chart: test-artifacts/soak/soak.png (panels: RSS MB of ${roles.map((r) => r.name).join(', ')}; bitmap, history lag; ack p50, p99, delivery ms)\n`,
  );

  await load.stop();
  for (const w of watchers) w.close();
  await nc.close();
} finally {
  await topology.stop();
  await deleteRedisKeys(redis, names).catch(() => undefined);
  redis.disconnect();
  await db.end();
  await dropSchema(names).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
}
