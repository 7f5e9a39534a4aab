/**
 * The shared harness of the fault suite: a whole topology (deploy/local/topology.ts: three clustered NATS
 * nodes, stream R3, two edges, the bitmap and history projectors) with, on request, a PRIVATE redis-server
 * and a PRIVATE Postgres of its own (for the faults that kill them; the others use the machine's shared
 * services, isolated by the canvas id). A steady placement load from many WebSocket clients, a few
 * "observer" clients that track the whole canvas and stay connected through the fault, and `verify()`:
 *
 * - lost: every placement answered `success` is in the stream at the sequence it was acknowledged with;
 *   no request id stored twice;
 * - every projection equals a replay of the stream, byte for byte, each watched at the same time with its own
 *   convergence time: the Redis bitmap, the Postgres history (one `events` row per event, same pixel, and the
 *   latest snapshot equal to a replay up to its sequence), every edge (as a fresh client receives it) and
 *   every observer client that stayed connected (the same client object: resumed, never reloaded).
 *
 * Each test appends its report as one JSON line to test-artifacts/faults/results.jsonl (docs/RELIABILITY.md).
 */
import { appendFileSync, chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { Redis } from 'ioredis';
import pg from 'pg';
import { expect } from 'vitest';
import {
  freeNatsPorts,
  portFree,
  startTopology,
  type Topology,
  type TopologyOptions,
} from '../../deploy/local/topology.ts';
import { decodeEvent, EventKind, type PixelPlaced } from '../../proto/event-codec.ts';
import type { RplaceClient } from '../../src/client/index.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { decodeSnapshotCanvas } from '../../src/adapters/pg/history-store.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { startLocalPostgres, startLocalRedis, type LocalService } from '../../src/adapters/services/local.ts';
import { canvasSpecOf, eventBoundsOf } from '../../src/config/common.ts';
import type { Names } from '../../src/domain/names.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { PALETTES } from '../../src/domain/palette.ts';
import { freePort, nodeClient, TEST_SESSION_SECRET } from '../helpers/edge-process.ts';
import {
  deleteRedisKeys,
  dropSchema,
  OPEN_LOOPBACK_EDGE_ENV,
  testNames,
  TEST_DATABASE_URL,
  TEST_REDIS_URL,
} from '../helpers/isolation.ts';
import { PeakLoad, PlacementLoad, type Load } from './load.ts';

/**
 * `FAULT_LOAD=peak`: the reference design's peak instead of CI's short load: 5,000 users (1 s cooldown) offering
 * FAULT_RATE (3,333) placements/s open-loop (each user every 1.5 s, so ack latencies up to ~0.5 s do not lower
 * what is offered) through both edges from their own processes (`PeakLoad`,
 * test/faults/load-worker.ts), and `verify` keeps the load on after the repair until FAULT_MIN_ACKS (100,000)
 * placements were acknowledged in the run (bounded by FAULT_PEAK_MAX_MS).
 */
export const PEAK = process.env.FAULT_LOAD === 'peak';
/**
 * The placements land in the top-left 64×64 pixels in both modes. At peak the canvas is 320×320, so the load's
 * sockets can watch a tile no placement touches (`?view=` of tile (1,1), PROTOCOL.md "Viewport subscriptions")
 * instead of receiving every pixel: 5,000 sockets fed 3,333 pixels/s would cost the 2-core machine more than the
 * placements themselves. The observers and the edges' fresh clients still get the whole canvas.
 */
export const WIDTH = PEAK ? 320 : 64;
export const HEIGHT = PEAK ? 320 : 64;
const AREA = 64;
const PEAK_VIEW = '256,256,64,64';
const spec = canvasSpecOf({ CANVAS_WIDTH: WIDTH, CANVAS_HEIGHT: HEIGHT, PALETTE: 'rplace2022' });
const PEAK_RATE = Number(process.env.FAULT_RATE ?? 3_333);
const MIN_ACKS = Number(process.env.FAULT_MIN_ACKS ?? (PEAK ? 100_000 : 0));
const PEAK_MAX_MS = Number(process.env.FAULT_PEAK_MAX_MS ?? 600_000);
/** WebSocket clients placing (one guest user each), spread over the two edges. */
export const CLIENTS = Number(process.env.FAULT_CLIENTS ?? (PEAK ? 5_000 : 200));
/** Clients that track the whole canvas and stay connected through the fault (half on each edge). */
export const OBSERVERS = 4;
/**
 * How long after the load stops every projection must equal the replay ("within seconds"). Far above the
 * 500 ms delivery target and the ~3 s a stalled consumer takes to be noticed and replaced
 * (src/adapters/nats/stall-watchdog.ts), so a failure means a reader that stalled for good, not a slow one.
 * (Was 15 s, which let 8–15 s stalls of an edge's tail pass.)
 */
export const CONVERGE_MS = Number(process.env.FAULT_CONVERGE_MS ?? (PEAK ? 60_000 : 8_000));

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultOptions {
  /** Short label for the canvas id and the logs. */
  readonly label: string;
  /** Run a private redis-server (killed by the Redis fault) instead of using the shared one. */
  readonly privateRedis?: boolean;
  /** Run a private Postgres (stopped -m immediate by the Postgres fault) instead of using the shared one. */
  readonly privatePostgres?: boolean;
  /** Extra environment for every role. */
  readonly env?: Readonly<Record<string, string>>;
  /** Redis / Postgres the roles use instead (a forwarder: test/faults/tcp-forward.ts); same data as the shared ones. */
  readonly redisUrl?: string;
  readonly databaseUrl?: string;
  /** Where each process runs (network namespaces: test/faults/netns.ts). */
  readonly placement?: TopologyOptions['placement'];
}

export interface Fault {
  readonly names: Names;
  readonly topology: Topology;
  readonly nc: NatsConnection;
  readonly jsm: JetStreamManager;
  readonly redisUrl: string;
  readonly databaseUrl: string;
  /** The private services (when asked for), with a restart on the same port (and data dir). */
  readonly privateRedis?: PrivateService;
  readonly privatePostgres?: PrivateService;
  readonly say: (line: string) => void;
  readonly edgeUrls: readonly string[];
  /**
   * The last `lines` warnings and errors (pino level ≥ 40) of one role's log (`edge1`, `bitmap-projector`, …), each
   * cut to 400 characters: printed when a projection did not converge, since CI's clone and its
   * test-artifacts are gone by the time anyone reads the failure.
   */
  logWarnings(role: string, lines?: number): string[];
  stop(): Promise<void>;
}

export interface PrivateService {
  readonly url: string;
  /** redis: SIGKILL; postgres: `pg_ctl stop -m immediate`. */
  kill(): Promise<void>;
  /** Starts it again on the same port (Redis: empty; Postgres: same data dir, crash recovery). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

async function waitPortFree(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await portFree(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} still in use ${timeoutMs} ms after the kill`);
    await sleep(100);
  }
}

async function privateRedis(dir: string): Promise<PrivateService> {
  const port = await freePort();
  const options = { port, dir: join(dir, 'redis'), logFile: join(dir, 'logs', 'redis.log') };
  let service: LocalService = await startLocalRedis(options);
  return {
    url: service.url,
    kill: async () => {
      service.kill();
      await waitPortFree(port);
    },
    restart: async () => {
      service = await startLocalRedis(options);
    },
    stop: () => service.stop(),
  };
}

async function privatePostgres(dir: string): Promise<PrivateService> {
  const port = await freePort();
  const options = { port, dataDir: join(dir, 'pg'), database: 'rplace_faults' };
  let service: LocalService = await startLocalPostgres(options);
  return {
    url: service.url,
    kill: async () => {
      service.kill(); // pg_ctl stop -m immediate: no checkpoint, crash recovery at the next start
      await waitPortFree(port);
    },
    restart: async () => {
      service = await startLocalPostgres(options);
    },
    stop: () => service.stop(),
  };
}

export async function startFault(options: FaultOptions): Promise<Fault> {
  const t0 = Date.now();
  const say = (line: string) =>
    process.stdout.write(`[faults ${options.label} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  const names = testNames(`fault${options.label}`);
  const dataDir = mkdtempSync(join(tmpdir(), `rplace-fault-${options.label}-`));
  // A private Postgres runs as the `postgres` user when we are root: it must reach its data dir.
  chmodSync(dataDir, 0o755);
  mkdirSync(join(dataDir, 'logs'), { recursive: true });
  const redisService = options.privateRedis ? await privateRedis(dataDir) : undefined;
  const pgService = options.privatePostgres ? await privatePostgres(dataDir) : undefined;
  const redisUrl = options.redisUrl ?? redisService?.url ?? TEST_REDIS_URL;
  const databaseUrl = options.databaseUrl ?? pgService?.url ?? TEST_DATABASE_URL;
  if (redisService || pgService)
    say(`private services: ${[redisService?.url, pgService?.url].filter(Boolean).join(', ')}`);
  // Edge ports from 10000–19999: below the kernel's ephemeral range (32768+, where outgoing connections take
  // their local ports) and the NATS nodes' 20000+, so nothing else can bind one between this choice and the
  // edge's start (a CI run once gave an edge the port a NATS node took a moment later).
  const natsPorts = await freeNatsPorts();
  const edgePorts: number[] = [];
  for (let attempt = 0; edgePorts.length < 2; attempt++) {
    if (attempt > 200) throw new Error('no free ports for the edges');
    const port = 10_000 + Math.floor(Math.random() * 10_000);
    if (!edgePorts.includes(port) && (await portFree(port))) edgePorts.push(port);
  }
  let topology: Topology;
  try {
    topology = await startTopology({
      onStep: say,
      dataDir,
      natsPorts,
      edgePorts,
      projectors: ['bitmap-projector', 'history'],
      ...(options.placement ? { placement: options.placement } : {}),
      env: {
        CANVAS_ID: names.canvasId,
        CANVAS_WIDTH: String(WIDTH),
        CANVAS_HEIGHT: String(HEIGHT),
        COOLDOWN_SECONDS: '1',
        REDIS_URL: redisUrl,
        DATABASE_URL: databaseUrl,
        SESSION_SECRET: TEST_SESSION_SECRET,
        HOST: '127.0.0.1',
        // Every client comes from 127.0.0.1; 200 of them reconnect at once after an edge kill.
        ...OPEN_LOOPBACK_EDGE_ENV,
        // Snapshots every 2 s, so the run has several and the latest is checked against a replay.
        SNAPSHOT_INTERVAL_MS: '2000',
        LOG_LEVEL: 'info',
        ...options.env,
      },
    });
  } catch (error) {
    await redisService?.stop();
    await pgService?.stop();
    throw error;
  }
  // The topology's NATS refuses anonymous clients (checked on every run): the harness administers as the operator.
  const anonymous = await connectNats(topology.natsUrl.split(',')[0]!, 'fault-harness-anonymous').then(
    (c) => c.close().then(() => 'accepted'),
    () => 'refused',
  );
  if (anonymous !== 'refused') {
    await topology.stop();
    throw new Error("the topology's NATS accepted an anonymous client");
  }
  const nc = await connectNats(topology.natsUrl, 'fault-harness', topology.natsAuth('operator'));
  const jsm = await jetstreamManager(nc);
  say('topology up');
  return {
    names,
    topology,
    nc,
    jsm,
    redisUrl,
    databaseUrl,
    ...(redisService ? { privateRedis: redisService } : {}),
    ...(pgService ? { privatePostgres: pgService } : {}),
    say,
    edgeUrls: topology.edgeUrls.map((u) => u.replace('localhost', '127.0.0.1')),
    logWarnings(role, lines = 30) {
      let text: string;
      try {
        text = readFileSync(join(dataDir, 'logs', `${role}.log`), 'utf8');
      } catch {
        return [];
      }
      return text
        .split('\n')
        .filter((line) => /"level":(4|5|6)0/.test(line))
        .slice(-lines)
        .map((line) => {
          let short = line;
          try {
            // The message first, then the fields; an error's message without its stack.
            const { msg, time, err, level: _level, role: _role, instance: _instance, ...fields } = JSON.parse(line);
            const error = err ? { err: `${err.type}: ${err.message}` } : {};
            short = `${new Date(time).toISOString().slice(11, 23)} ${msg} ${JSON.stringify({ ...error, ...fields })}`;
          } catch {}
          return short.length > 400 ? `${short.slice(0, 400)}…` : short;
        });
    },
    async stop() {
      await topology.stop();
      // Keep the role and NATS logs for a post-mortem.
      cpSync(join(dataDir, 'logs'), join('test-artifacts', 'faults', names.canvasId), { recursive: true });
      // A paused node must not outlive the test.
      await nc.close().catch(() => undefined);
      if (!redisService) {
        const redis = new Redis(TEST_REDIS_URL);
        await deleteRedisKeys(redis, names).catch(() => undefined);
        redis.disconnect();
      }
      await redisService?.stop().catch(() => undefined);
      if (!pgService) await dropSchema(names).catch(() => undefined);
      await pgService?.stop().catch(() => undefined);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Clients that track the canvas and stay connected through the fault; they count reconnects and full canvases. */
export class Observers {
  readonly clients: RplaceClient[] = [];
  readonly reconnects: number[] = [];
  readonly canvases: number[] = [];

  constructor(edgeUrls: readonly string[], count = OBSERVERS) {
    for (let i = 0; i < count; i++) {
      this.reconnects.push(0);
      this.canvases.push(0);
      this.clients.push(
        nodeClient(edgeUrls[i % edgeUrls.length]!, {
          trackCanvas: true,
          onStatus: (status) => {
            if (status === 'reconnecting') this.reconnects[i]!++;
          },
          onCanvas: () => {
            this.canvases[i]!++;
          },
        }),
      );
    }
  }

  async connect(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.connect()));
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/**
 * Samples the projections' positions (Redis bitmap sequence, Postgres history position) every 250 ms while
 * the load runs, so `verify` can tell how long after the repair each caught up with what had been
 * acknowledged by then. Read errors (the service is down) are samples of 0.
 */
export class PositionSampler {
  readonly samples: { at: number; bitmap: number; history: number }[] = [];
  private running = true;
  private readonly done: Promise<void>;

  constructor(fault: Fault) {
    this.done = this.run(fault);
  }

  private async run(fault: Fault): Promise<void> {
    const redis = new Redis(fault.redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false, lazyConnect: false });
    redis.on('error', () => undefined);
    const db = new pg.Pool({ connectionString: fault.databaseUrl, max: 1, connectionTimeoutMillis: 500 });
    db.on('error', () => undefined);
    const sql = `SELECT seq FROM "${fault.names.pgSchema}".projection_positions WHERE name = $1`;
    try {
      while (this.running) {
        const [bitmap, history] = await Promise.all([
          redis.get(fault.names.canvasSeqKey).then(
            (v) => Number(v ?? 0),
            () => 0,
          ),
          db.query(sql, [fault.names.consumers.history]).then(
            (r) => Number(r.rows[0]?.seq ?? 0),
            () => 0,
          ),
        ]);
        this.samples.push({ at: Date.now(), bitmap, history });
        await sleep(250);
      }
    } finally {
      redis.disconnect();
      await db.end().catch(() => undefined);
    }
  }

  /** ms after `from` when the projection first held at least `seq` (null: never while sampled). */
  caughtUp(projection: 'bitmap' | 'history', from: number, seq: number): number | null {
    const hit = this.samples.find((s) => s.at >= from && s[projection] >= seq);
    return hit ? hit.at - from : null;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/** CPU time (utime + stime, ms) of each process of the topology by name and pid, read from /proc. */
function processCpu(fault: Fault): Map<string, { pid: number; ms: number }> {
  const out = new Map<string, { pid: number; ms: number }>();
  const { nodes, edges, projectors } = fault.topology;
  for (const p of [...nodes, ...edges, ...projectors]) {
    if (p.pid === undefined) continue;
    try {
      const fields = readFileSync(`/proc/${p.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      out.set(p.name, { pid: p.pid, ms: (Number(fields[11]) + Number(fields[12])) * 10 });
    } catch {
      // exited
    }
  }
  return out;
}
const cpuAtLoadStart = new WeakMap<Fault, { at: number; cpu: Map<string, { pid: number; ms: number }> }>();

/** % of one core each process used from the load's start to its stop (null: restarted in between, a new pid). */
function cpuPercent(fault: Fault): Record<string, number | null> {
  const start = cpuAtLoadStart.get(fault);
  if (!start) return {};
  const wall = Date.now() - start.at;
  const end = processCpu(fault);
  return Object.fromEntries(
    [...start.cpu].map(([name, s]) => {
      const e = end.get(name);
      return [name, e && e.pid === s.pid ? Math.round(((e.ms - s.ms) / wall) * 100) : null];
    }),
  );
}

/** Starts the load (and the observers) and lets it run `warmMs`. */
export async function startLoad(
  fault: Fault,
  warmMs = 4_000,
): Promise<{ load: Load; observers: Observers; sampler: PositionSampler }> {
  const shape = { edgeUrls: fault.edgeUrls, clients: CLIENTS, width: AREA, height: AREA };
  const colors = PALETTES.rplace2022.length;
  const load: Load = PEAK
    ? new PeakLoad({ ...shape, colors, rate: PEAK_RATE, cooldownMs: 1_000, view: PEAK_VIEW })
    : new PlacementLoad({ ...shape, colors });
  const observers = new Observers(fault.edgeUrls);
  await Promise.all([load.start(), observers.connect()]);
  fault.say(`${CLIENTS} clients and ${OBSERVERS} observers synced; load running`);
  const sampler = new PositionSampler(fault);
  cpuAtLoadStart.set(fault, { at: Date.now(), cpu: processCpu(fault) });
  // At peak the first seconds are the users' spread over their 1.5 s period: warm longer for a steady rate.
  await sleep(PEAK ? Math.max(warmMs, 10_000) : warmMs);
  expect(load.acked.length, 'placements acknowledged before the fault').toBeGreaterThan(100);
  return { load, observers, sampler };
}

export interface VerifyOptions {
  readonly fault: string;
  /** When the fault was injected and when it was repaired (restart done, SIGCONT sent), ms epoch. */
  readonly faultAt: number;
  readonly repairedAt: number;
  /** Anything else to put in the report. */
  readonly extra?: Record<string, unknown>;
  /** How long every projection may take to converge once the load stops (default `CONVERGE_MS`). */
  readonly convergeMs?: number;
}

export interface Report {
  readonly fault: string;
  readonly clients: number;
  readonly placementsPerSecond: number;
  readonly acked: number;
  readonly ackedAfterRepair: number;
  readonly lost: number;
  readonly writesRefusedMs: number;
  readonly convergedMs: Record<string, number | null>;
  readonly [key: string]: unknown;
}

interface ProjectionState {
  readonly projection: string;
  readonly seq: number;
  readonly equal: boolean;
  readonly ms: number;
  readonly detail?: string;
}

function latencyPercentiles(acked: readonly { latencyMs: number }[]): { p50: number; p99: number } {
  const sorted = Float64Array.from(acked, (a) => a.latencyMs).sort();
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Stops the load and runs every check; appends the report to test-artifacts/faults/results.jsonl. */
export async function verify(
  fault: Fault,
  run: { load: Load; observers: Observers; sampler: PositionSampler },
  options: VerifyOptions,
): Promise<Report> {
  const { names, jsm, say } = fault;
  const { load, observers, sampler } = run;
  // Loops, not spreads: a peak run holds 100,000+ acks (too many arguments for Math.min(...)).
  let loadStartedAt = Infinity;
  for (const a of load.acked) loadStartedAt = Math.min(loadStartedAt, a.at);
  // What had been acknowledged when the fault was repaired: each projection's catch-up is measured to it.
  let ackedByRepair = 0;
  for (const a of load.acked) if (a.at <= options.repairedAt && a.seq > ackedByRepair) ackedByRepair = a.seq;
  const peakUntil = Date.now() + PEAK_MAX_MS;
  while (load.acked.length < MIN_ACKS && Date.now() < peakUntil) {
    await sleep(1_000);
    say(`peak: ${load.acked.length} of ${MIN_ACKS} acks`);
  }
  await load.stop();
  await sampler.stop();
  const catchUpMs = {
    bitmap: sampler.caughtUp('bitmap', options.repairedAt, ackedByRepair),
    history: sampler.caughtUp('history', options.repairedAt, ackedByRepair),
  };
  const loadStoppedAt = Date.now();
  const cpu = cpuPercent(fault);
  const ackedAfterRepair = load.ackedSince(options.repairedAt);
  say(`load stopped: ${load.acked.length} acks, ${ackedAfterRepair} after the repair`);

  // The stream must hold at least every acknowledged sequence; right after a fault stream info may briefly
  // report an older state: poll, and fail only if it never gets there.
  let maxAcked = 0;
  for (const a of load.acked) maxAcked = Math.max(maxAcked, a.seq);
  let info = await jsm.streams.info(names.stream);
  const pollStart = Date.now();
  while (info.state.last_seq < maxAcked && Date.now() - pollStart < 30_000) {
    await sleep(250);
    info = await jsm.streams.info(names.stream);
  }
  const lastSeq = info.state.last_seq;

  // Read the whole stream; a read right after a node rejoins may end early: retry until it reaches lastSeq.
  const stream = createNatsEventStream(fault.nc, names, { canvas: eventBoundsOf(spec) });
  let stored = new Map<number, PixelPlaced>();
  let shortReads = 0;
  const readStart = Date.now();
  for (;;) {
    stored = new Map();
    try {
      for await (const batch of stream.read(1, { untilSeq: lastSeq })) {
        for (const e of batch) if (e.event.kind === EventKind.PixelPlaced) stored.set(e.seq, e.event);
      }
    } catch (error) {
      // Right after a partition heals the cluster can answer "JetStream system temporarily unavailable".
      if (Date.now() - readStart > 30_000) throw error;
    }
    if (stored.has(lastSeq) || Date.now() - readStart > 30_000) break;
    shortReads++;
    await sleep(500);
  }
  // The authority for anything still missing: a direct get of that sequence from the stream leader.
  for (const a of load.acked) {
    if (stored.has(a.seq)) continue;
    const msg = await jsm.streams.getMessage(names.stream, { seq: a.seq }).catch(() => null);
    if (msg) stored.set(a.seq, decodeEvent(msg.data) as PixelPlaced);
  }
  const lost = load.acked.filter((a) => stored.get(a.seq)?.requestId !== a.requestId);
  const requestIds = [...stored.values()].map((e) => e.requestId);
  const ackTimes = [options.faultAt, ...load.acked.map((a) => a.at).filter((at) => at >= options.faultAt)].sort(
    (a, b) => a - b,
  );
  const writesRefusedMs = ackTimes.slice(1).reduce((gap, at, i) => Math.max(gap, at - ackTimes[i]!), 0);
  const base = {
    fault: options.fault,
    clients: CLIENTS,
    // The steady rate before the fault.
    placementsPerSecond: Math.round(
      load.acked.filter((a) => a.at < options.faultAt).length / Math.max(1, (options.faultAt - loadStartedAt) / 1000),
    ),
    acked: load.acked.length,
    ackedAfterRepair,
    lost: lost.length,
    duplicates: requestIds.length - new Set(requestIds).size,
    writesRefusedMs,
    streamEvents: stored.size,
    lastSeq,
    shortReads,
    errors: Object.fromEntries(load.errors),
    faultToRepairMs: options.repairedAt - options.faultAt,
    // ms after the repair at which the bitmap / history held everything acknowledged before the repair.
    catchUpMs,
    repairToLoadStopMs: loadStoppedAt - options.repairedAt,
    observerReconnects: observers.reconnects.reduce((a, b) => a + b, 0),
    observerFullCanvases: observers.canvases.reduce((a, b) => a + b, 0) - observers.clients.length,
    // The rate over the whole run and the machine's load average at its end (shared 2-core VM).
    overallPlacementsPerSecond: Math.round(load.acked.length / Math.max(1, (loadStoppedAt - loadStartedAt) / 1000)),
    afterRepairPlacementsPerSecond: Math.round(
      ackedAfterRepair / Math.max(1, (loadStoppedAt - options.repairedAt) / 1000),
    ),
    ackLatencyMs: latencyPercentiles(load.acked),
    ...load.describe?.(),
    cpuPercent: cpu,
    loadAverage: loadavg().map((l) => Number(l.toFixed(2))),
    ...options.extra,
  };
  if (lost.length > 0) {
    // Where (if anywhere) the stream holds each lost placement's request id: a wrong sequence in the ack vs a write dropped.
    const seqOf = new Map([...stored].map(([seq, e]) => [e.requestId, seq]));
    say(
      `lost: ${JSON.stringify(lost.slice(0, 10).map((a) => ({ seq: a.seq, at: a.at - options.faultAt, stored: stored.get(a.seq)?.requestId ?? null, requestId: a.requestId, storedAt: seqOf.get(a.requestId) ?? null })))}`,
    );
  }

  // Convergence, every projection watched at once.
  const seqs = [...stored.keys()].sort((a, b) => a - b);
  const events = seqs.map((seq) => stored.get(seq)!);
  const expected = replay(createCanvas(spec), WIDTH, events);
  const start = Date.now();
  const convergeMs = options.convergeMs ?? CONVERGE_MS;
  const within = () => Date.now() - start < convergeMs;
  const state = (projection: string, seq: number, equal: boolean, detail?: string): ProjectionState => ({
    projection,
    seq,
    equal,
    ms: Date.now() - start,
    ...(detail ? { detail } : {}),
  });

  const redis = new Redis(fault.redisUrl);
  const watchBitmap = async (): Promise<ProjectionState> => {
    const bitmap = createRedisBitmapStore(redis, names, spec);
    let loaded = await bitmap.load().catch(() => null);
    while ((loaded?.seq ?? 0) < lastSeq && within()) {
      await sleep(100);
      loaded = await bitmap.load().catch(() => null);
    }
    return state(
      'bitmap',
      loaded?.seq ?? 0,
      loaded !== null && Buffer.from(loaded.canvas).equals(Buffer.from(expected)),
    );
  };

  const db = new pg.Client({ connectionString: fault.databaseUrl });
  await db.connect();
  const schema = `"${names.pgSchema}"`;
  const watchHistory = async (): Promise<ProjectionState> => {
    const position = async () =>
      Number(
        (
          await db
            .query(`SELECT seq FROM ${schema}.projection_positions WHERE name = $1`, [names.consumers.history])
            .catch(() => ({ rows: [] }))
        ).rows[0]?.seq ?? 0,
      );
    let seq = await position();
    while (seq < lastSeq && within()) {
      await sleep(100);
      seq = await position();
    }
    if (seq !== lastSeq) return state('history', seq, false, 'position behind');
    const rows = (
      await db.query<{ seq: string; x: number; y: number; color: number; user_id: string }>(
        `SELECT seq, x, y, color, user_id FROM ${schema}.events WHERE seq <= $1 ORDER BY seq`,
        [lastSeq],
      )
    ).rows;
    const rowDiffers = (r: (typeof rows)[number], i: number) =>
      !(
        Number(r.seq) === seqs[i] &&
        r.x === events[i]!.x &&
        r.y === events[i]!.y &&
        r.color === events[i]!.color &&
        r.user_id === events[i]!.userId
      );
    const firstDiff = rows.findIndex(rowDiffers);
    const rowsEqual = rows.length === events.length && firstDiff === -1;
    const diffDetail =
      firstDiff === -1
        ? ''
        : `; first difference at ${firstDiff}: row ${JSON.stringify(rows[firstDiff])} vs event ${seqs[firstDiff]} ${JSON.stringify(events[firstDiff])}`;
    const snap = (
      await db.query<{ seq: string; canvas: Buffer; canvas_encoding: string; width: number; height: number }>(
        `SELECT seq, canvas, canvas_encoding, width, height FROM ${schema}.snapshots WHERE seq <= $1 ORDER BY seq DESC LIMIT 1`,
        [lastSeq],
      )
    ).rows[0];
    let snapshotEqual = false;
    if (snap) {
      const upTo = Number(snap.seq);
      const reference = replay(
        createCanvas(spec),
        WIDTH,
        events.filter((_, i) => seqs[i]! <= upTo),
      );
      const canvas = await decodeSnapshotCanvas(snap.canvas_encoding, snap.canvas, snap.width, snap.height, upTo);
      snapshotEqual = Buffer.from(canvas).equals(Buffer.from(reference));
    }
    return state(
      'history',
      seq,
      rowsEqual && snapshotEqual,
      `${rows.length} rows ${rowsEqual ? '=' : '≠'} ${events.length} events; snapshot at ${snap?.seq ?? 'none'} ${snapshotEqual ? '=' : '≠'} replay${diffDetail}`,
    );
  };

  const watchClient = async (projection: string, client: RplaceClient, close: boolean): Promise<ProjectionState> => {
    try {
      if (close) await client.connect();
      while (client.seq < lastSeq && within()) await sleep(50);
      return state(
        projection,
        client.seq,
        client.canvas !== undefined && Buffer.from(client.canvas).equals(Buffer.from(expected)),
        `status ${client.status}`,
      );
    } finally {
      if (close) client.close();
    }
  };

  let states: ProjectionState[];
  try {
    states = await Promise.all([
      watchBitmap(),
      watchHistory(),
      ...fault.edgeUrls.map((url, i) => watchClient(`edge${i + 1}`, nodeClient(url, { trackCanvas: true }), true)),
      ...observers.clients.map((client, i) => watchClient(`client${i + 1}`, client, false)),
    ]);
  } finally {
    observers.close();
    redis.disconnect();
    await db.end();
  }
  for (const s of states)
    say(
      `${s.projection}: seq ${s.seq} of ${lastSeq}, equal to the replay: ${s.equal}, ${s.ms} ms after the load stopped${s.detail ? ` (${s.detail})` : ''}`,
    );
  // The roles behind a projection that did not converge: their warnings, for the post-mortem.
  const behind = new Set<string>();
  for (const s of states.filter((st) => st.seq !== lastSeq || !st.equal)) {
    if (s.projection === 'bitmap') behind.add('bitmap-projector');
    else if (s.projection === 'history') behind.add('history');
    else if (s.projection.startsWith('edge')) behind.add(s.projection);
    else fault.edgeUrls.forEach((_, i) => behind.add(`edge${i + 1}`)); // observers: one per edge, in turn
  }
  for (const role of behind) {
    const warnings = fault.logWarnings(role);
    say(`${role}: last ${warnings.length} warnings and errors of its log${warnings.length ? ':' : ''}`);
    for (const line of warnings) say(`  ${line}`);
  }
  const report: Report = {
    ...base,
    convergedMs: Object.fromEntries(states.map((s) => [s.projection, s.seq === lastSeq && s.equal ? s.ms : null])),
  };
  process.stdout.write(`[faults] ${JSON.stringify(report)}\n`);
  mkdirSync(join('test-artifacts', 'faults'), { recursive: true });
  appendFileSync(
    join('test-artifacts', 'faults', 'results.jsonl'),
    `${JSON.stringify({ at: new Date().toISOString(), canvas: names.canvasId, ...report })}\n`,
  );

  expect(lost, 'acknowledged placements missing from the stream').toEqual([]);
  expect(base.duplicates, 'request ids stored twice').toBe(0);
  expect(states.map(({ projection, seq, equal }) => ({ projection, seq, equal }))).toEqual(
    states.map(({ projection }) => ({ projection, seq: lastSeq, equal: true })),
  );
  // Clients resumed without a reload: the same client objects are in sync at the end (checked above), and
  // placements went on after the repair from clients of every edge.
  const edgesPlacing = new Set(
    load.acked.filter((a) => a.at >= options.repairedAt).map((a) => a.client % fault.edgeUrls.length),
  );
  expect(edgesPlacing.size, 'edges whose clients placed after the repair').toBe(fault.edgeUrls.length);
  return report;
}
