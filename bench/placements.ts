/**
 * `npm run bench -- placements [--seconds 60] [--rate-seconds 30] [--rate 3333] [--window 2000] [--cooldown 10]
 *   [--linger 2] [--baseline-seconds 10]`
 *
 * The placement command path end to end, in-process: createPlacePixel + the Redis cooldown store + the
 * pipelined JetStream event log, against the real NATS and Redis, on a canvas of its own (deleted at the
 * end). Many distinct users (one new user per placement) so the cooldown never rejects.
 *
 * Phases:
 * 1. baseline: raw pipelined JetStream appends (the event log adapter alone, no validation, no Redis),
 *    the same window in flight: the ceiling the command path is compared with;
 *    plus a short run of nats.js `js.publish` with the same window, the alternative we did not choose.
 * 2. max: placements as fast as the system accepts them with `--window` in flight, for `--seconds`.
 * 3. rate: placements issued open-loop at `--rate`/s (latency measured from the scheduled send time, so a
 *    stall is not hidden by coordinated omission), for `--rate-seconds`; then raw appends at the same rate
 *    (up to 10 s), whose CPU per operation is that phase's same-run baseline (issue 13's ≤ 120 µs floor is
 *    absolute, but this machine's speed varies by 2× within an hour).
 * The bitmap projector runs in-process throughout (startBitmapProjector); its lag is sampled every
 * 100 ms as events (acked seq − projected seq) and as the age of the oldest acknowledged but unprojected
 * event, and after each phase as the time it takes to catch up.
 *
 * Floors (issue 2): ≥ 10,000 accepted placements/s sustained; p99 ack ≤ 50 ms at 3,333/s.
 * `--no-projector` (diagnosis only) leaves the projector out, to see what it costs the command path.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import pino from 'pino';
import { encodeEvent, EventKind, type PixelPlaced } from '../proto/event-codec.ts';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { createRedisCooldownStore, DEFAULT_LINGER_MS } from '../src/adapters/redis/cooldown-store.ts';
import { createPlacePixel, type PlaceOutcome } from '../src/app/place-pixel.ts';
import { systemClock } from '../src/adapters/system-clock.ts';
import { PALETTE_32 } from '../src/domain/palette.ts';
import { loadConfig } from '../src/config/load.ts';
import { namesFor } from '../src/domain/names.ts';
import { applyStreams } from '../streams/apply.ts';
import { deleteRedisKeys, deleteStream } from '../test/helpers/isolation.ts';
import { Samples } from './_samples.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    'rate-seconds': { type: 'string', default: '30' },
    'baseline-seconds': { type: 'string', default: '10' },
    rate: { type: 'string', default: '3333' },
    window: { type: 'string', default: '2000' },
    cooldown: { type: 'string', default: '10' },
    /** The cooldown store's linger (ms; PLACEMENT_LINGER_MS): 0 sends every loop turn's acquisitions alone. */
    linger: { type: 'string', default: String(DEFAULT_LINGER_MS) },
    /** Diagnosis only: leave the projector out to see what it costs the command path in this process. */
    'no-projector': { type: 'boolean', default: false },
  },
});
const positive = (name: keyof typeof args): number => {
  const n = Number(args[name]);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`--${name} must be a positive number, got ${JSON.stringify(args[name])}\n`);
    process.exit(2);
  }
  return n;
};
const MAX_SECONDS = positive('seconds');
const RATE_SECONDS = positive('rate-seconds');
const BASELINE_SECONDS = positive('baseline-seconds');
const RATE = positive('rate');
const WINDOW = Math.floor(positive('window'));
/** Short, so the one-key-per-user cooldowns of a long run expire instead of piling up in the shared Redis. */
const COOLDOWN_SECONDS = Math.floor(positive('cooldown'));
const LINGER_MS = Number(args.linger);
if (!(LINGER_MS >= 0 && LINGER_MS <= 50)) {
  process.stderr.write(`--linger must be 0..50 ms, got ${JSON.stringify(args.linger)}\n`);
  process.exit(2);
}

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const spec = { width: 2000, height: 2000, palette: PALETTE_32 };
const canvasId = `b_place_${randomBytes(4).toString('hex')}`;
const names = namesFor(canvasId);

const say = (line: string) => process.stdout.write(`${line}\n`);
const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

/**
 * CPU time (µs) used so far by the local server process listening on `port` (Linux /proc), or null when
 * it cannot be found. The servers are shared, so what other work uses them in the meantime is counted
 * too: per-placement figures derived from this are upper bounds on our cost.
 */
function serverCpuReader(command: string, port: string): (() => number) | null {
  const TICK_US = 1_000_000 / 100; // CLK_TCK is 100 on Linux
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== command) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      if (!cmdline.includes(`:${port}`) && !cmdline.includes(`-p ${port}`) && !cmdline.includes(`--port ${port}`))
        continue;
      return () => {
        const fields = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ');
        return (Number(fields[11]) + Number(fields[12])) * TICK_US; // utime + stime, fields 14 and 15
      };
    } catch {
      // the process went away, or it is not ours to read
    }
  }
  return null;
}
const portOf = (url: string, fallback: string) => /:(\d+)(?:[/,]|$)/.exec(url)?.[1] ?? fallback;

/** CPU µs per operation of this process and of the two servers over a phase. */
function cpuMeter() {
  const nats = serverCpuReader('nats-server', portOf(NATS_URL, '4222'));
  const redisCpu = serverCpuReader('redis-server', portOf(REDIS_URL, '6379'));
  const read = () => {
    const own = process.cpuUsage();
    return { own: own.user + own.system, nats: nats?.() ?? Number.NaN, redis: redisCpu?.() ?? Number.NaN };
  };
  const start = read();
  return (operations: number): { text: string; totalUs: number } => {
    const end = read();
    const per = (a: number, b: number) => (b - a) / Math.max(1, operations);
    const own = per(start.own, end.own);
    const n = per(start.nats, end.nats);
    const r = per(start.redis, end.redis);
    const total = own + (Number.isNaN(n) ? 0 : n) + (Number.isNaN(r) ? 0 : r);
    return {
      text: `CPU per operation: this process ${fmt(own, 1)} µs, nats-server ${fmt(n, 1)} µs, redis-server ${fmt(r, 1)} µs, total ${fmt(total, 1)} µs (= ${fmt(2e6 / total)}/s on 2 dedicated cores)`,
      totalUs: total,
    };
  };
}

let xorshift = 0x9e3779b9;
const rand = () => {
  xorshift ^= xorshift << 13;
  xorshift ^= xorshift >>> 17;
  xorshift ^= xorshift << 5;
  return xorshift >>> 0;
};

const nc = await connectNats(NATS_URL, 'rplace bench placements');
const redis = await connectRedis(REDIS_URL, 'rplace bench placements');
const logger = pino({ level: 'warn' });
let stopProjector: (() => Promise<void>) | undefined;
let eventLog: ReturnType<typeof createJetStreamEventLog> | undefined;
let sampler: NodeJS.Timeout | undefined;

try {
  await applyStreams(nc, names);
  eventLog = createJetStreamEventLog(nc, names, { timeoutMs: 10_000 });
  const log = eventLog;
  const place = createPlacePixel({
    spec,
    cooldownSeconds: COOLDOWN_SECONDS,
    cooldowns: createRedisCooldownStore(redis, names, { lingerMs: LINGER_MS }),
    log,
    clock: systemClock,
  });

  // Acknowledgement time per sequence, for the projection lag as an age. Sized for the run, grown if needed.
  let ackTimes = new Float64Array(1 << 20);
  let ackedSeq = 0;
  const noteAck = (seq: number, at: number) => {
    while (seq >= ackTimes.length) {
      const bigger = new Float64Array(ackTimes.length * 2);
      bigger.set(ackTimes);
      ackTimes = bigger;
    }
    ackTimes[seq] = at;
    if (seq > ackedSeq) ackedSeq = seq;
  };

  const { bitmapProjectorSchema } = await import('../src/config/bitmap-projector.ts');
  const { startBitmapProjector } = await import('../src/roles/bitmap-projector/start.ts');
  const projectorConfig = loadConfig(bitmapProjectorSchema, {
    NATS_URL,
    REDIS_URL,
    CANVAS_ID: canvasId,
    LOG_LEVEL: 'warn',
  });
  if (!args['no-projector']) stopProjector = await startBitmapProjector(projectorConfig, logger);
  const withProjector = stopProjector !== undefined;

  let projectedSeq = 0;
  const lagEvents = new Samples();
  const lagMs = new Samples();
  const sample = async () => {
    const value = await redis.get(names.canvasSeqKey);
    projectedSeq = value === null ? 0 : Number(value);
    const now = performance.now();
    lagEvents.push(Math.max(0, ackedSeq - projectedSeq));
    // Age of the oldest acknowledged event the bitmap does not show yet.
    const oldest = projectedSeq + 1;
    lagMs.push(oldest <= ackedSeq && ackTimes[oldest]! > 0 ? now - ackTimes[oldest]! : 0);
  };
  let sampling = false;
  sampler = setInterval(() => {
    if (sampling || !withProjector) return;
    sampling = true;
    sample()
      .catch(() => undefined)
      .finally(() => (sampling = false));
  }, 100);

  const resetLag = () => {
    lagEvents.length = 0;
    lagMs.length = 0;
  };
  const catchUp = async (): Promise<number> => {
    if (!withProjector) return Number.NaN;
    const target = ackedSeq;
    const started = performance.now();
    while (performance.now() - started < 60_000) {
      const value = await redis.get(names.canvasSeqKey);
      if (value !== null && Number(value) >= target) return performance.now() - started;
      await new Promise((r) => setTimeout(r, 10));
    }
    return Number.NaN;
  };

  let sequence = 0;
  const event = (): PixelPlaced => {
    const i = ++sequence;
    return {
      kind: EventKind.PixelPlaced,
      x: rand() % spec.width,
      y: rand() % spec.height,
      color: rand() % 32,
      userId: `bu${i}`,
      requestId: `br${i}`,
      placedAt: Date.now(),
    };
  };

  /** `worker` until `seconds` pass, `WINDOW` at a time. Returns completed operations and latencies. */
  const closedLoop = async (seconds: number, op: () => Promise<boolean>) => {
    const latencies = new Samples();
    const meter = cpuMeter();
    let ok = 0;
    let failed = 0;
    const started = performance.now();
    const deadline = started + seconds * 1000;
    await Promise.all(
      Array.from({ length: WINDOW }, async () => {
        while (performance.now() < deadline) {
          const t = performance.now();
          if (await op()) ok++;
          else failed++;
          latencies.push(performance.now() - t);
        }
      }),
    );
    return { ok, failed, elapsed: (performance.now() - started) / 1000, latencies, cpu: meter(ok + failed) };
  };

  say(
    `${new Date().toISOString()} placements benchmark: canvas ${canvasId}, ${withProjector ? 'projector in-process' : 'NO projector'}, window ${WINDOW}, cooldown ${COOLDOWN_SECONDS} s, linger ${LINGER_MS} ms, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );

  // 0. Warm-up (not reported): JIT-compile both paths, open the scripts, let the projector finish its start.
  await closedLoop(Math.min(3, BASELINE_SECONDS), async () => {
    const e = event();
    const r = await place({ userId: e.userId, requestId: e.requestId, x: e.x, y: e.y, color: e.color });
    if (r.ok) noteAck(r.seq, performance.now());
    const a = event();
    noteAck((await log.append(a, `${a.userId}/${a.requestId}`)).seq, performance.now());
    return r.ok;
  });
  await catchUp();

  // 1. Baselines.
  const raw = await closedLoop(BASELINE_SECONDS, async () => {
    const e = event();
    const r = await log.append(e, `${e.userId}/${e.requestId}`);
    noteAck(r.seq, performance.now());
    return true;
  });
  const rawRate = raw.ok / raw.elapsed;
  say(
    `baseline  raw pipelined JetStream append: ${fmt(rawRate)}/s (${fmt(raw.ok)} in ${raw.elapsed.toFixed(1)} s), p50 ${raw.latencies.percentile(50).toFixed(1)} ms, p99 ${raw.latencies.percentile(99).toFixed(1)} ms`,
  );
  say(`          ${raw.cpu.text}`);
  const js = jetstream(nc);
  const jsSeconds = Math.min(5, BASELINE_SECONDS);
  const viaJs = await closedLoop(jsSeconds, async () => {
    const e = event();
    const ack = await js.publish(names.pixelSubject(e.x, e.y), encodeEvent(e), {
      msgID: `${e.userId}/${e.requestId}`,
      timeout: 10_000,
    });
    noteAck(ack.seq, performance.now());
    return true;
  });
  const jsRate = viaJs.ok / viaJs.elapsed;
  say(
    `reference nats.js js.publish, same window:  ${fmt(jsRate)}/s (${fmt(viaJs.ok)} in ${viaJs.elapsed.toFixed(1)} s); pipelined/js.publish = ${(rawRate / jsRate).toFixed(2)}x`,
  );
  if (withProjector)
    say(`          projector caught up with the baseline's ${fmt(ackedSeq)} events in ${fmt(await catchUp())} ms`);

  // 2. As fast as accepted.
  const codes = new Map<string, number>();
  const record = (outcome: PlaceOutcome, at: number): boolean => {
    if (outcome.ok) {
      noteAck(outcome.seq, at);
      return true;
    }
    codes.set(outcome.code, (codes.get(outcome.code) ?? 0) + 1);
    return false;
  };
  const placeOne = () => {
    const e = event();
    return place({ userId: e.userId, requestId: e.requestId, x: e.x, y: e.y, color: e.color });
  };
  resetLag();
  const max = await closedLoop(MAX_SECONDS, async () => record(await placeOne(), performance.now()));
  const maxRate = max.ok / max.elapsed;
  const maxLag = {
    p50: lagEvents.percentile(50),
    p99: lagEvents.percentile(99),
    max: lagEvents.max(),
    msP99: lagMs.percentile(99),
    msMax: lagMs.max(),
  };
  const maxCatchUp = await catchUp();
  say('');
  say(
    `max rate  accepted placements: ${fmt(maxRate)}/s (${fmt(max.ok)} in ${max.elapsed.toFixed(1)} s; rejected ${fmt(max.failed)}${codes.size ? ` ${JSON.stringify(Object.fromEntries(codes))}` : ''})`,
  );
  say(
    `          ack latency with ${WINDOW} in flight: p50 ${max.latencies.percentile(50).toFixed(1)} ms, p99 ${max.latencies.percentile(99).toFixed(1)} ms`,
  );
  say(`          ${max.cpu.text}${withProjector ? ' (this process includes the projector)' : ''}`);
  if (!withProjector) say('          bitmap lag: not measured (--no-projector)');
  else
    say(
      `          bitmap lag: events p50 ${fmt(maxLag.p50)}, p99 ${fmt(maxLag.p99)}, max ${fmt(maxLag.max)}; oldest unprojected event p99 ${fmt(maxLag.msP99)} ms, max ${fmt(maxLag.msMax)} ms; caught up ${fmt(maxCatchUp)} ms after the last ack`,
    );
  say(
    `          command path / raw pipelined append = ${(maxRate / rawRate).toFixed(2)}; floor 10,000/s: ${maxRate >= 10_000 ? 'MET' : 'MISSED'}`,
  );

  /** `op` issued at RATE/s for `seconds`, open loop; latency from each one's scheduled send time. */
  const openLoop = async (seconds: number, op: () => Promise<boolean>) => {
    const latencies = new Samples();
    let ok = 0;
    let failed = 0;
    let issued = 0;
    const total = Math.round(RATE * seconds);
    const meter = cpuMeter();
    const started = performance.now();
    const inFlight = new Set<Promise<void>>();
    while (issued < total) {
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * RATE));
      while (issued < due) {
        const scheduled = started + (issued / RATE) * 1000;
        issued++;
        const p: Promise<void> = op().then((accepted) => {
          if (accepted) ok++;
          else failed++;
          latencies.push(performance.now() - scheduled);
          inFlight.delete(p);
        });
        inFlight.add(p);
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    await Promise.all(inFlight);
    return { ok, failed, elapsed: (performance.now() - started) / 1000, latencies, cpu: meter(ok + failed) };
  };

  // 3. Fixed rate, open loop.
  codes.clear();
  resetLag();
  const {
    ok: fixedOk,
    failed: fixedFailed,
    elapsed: fixedElapsed,
    latencies: fixed,
    cpu: fixedCpu,
  } = await openLoop(RATE_SECONDS, async () => record(await placeOne(), performance.now()));
  const fixedLag = {
    p50: lagEvents.percentile(50),
    p99: lagEvents.percentile(99),
    max: lagEvents.max(),
    msP99: lagMs.percentile(99),
    msMax: lagMs.max(),
  };
  const fixedCatchUp = await catchUp();
  const p99 = fixed.percentile(99);
  say('');
  say(
    `fixed     ${fmt(RATE)}/s for ${RATE_SECONDS} s: accepted ${fmt(fixedOk / fixedElapsed)}/s (${fmt(fixedOk)}; rejected ${fmt(fixedFailed)}${codes.size ? ` ${JSON.stringify(Object.fromEntries(codes))}` : ''})`,
  );
  say(
    `          ack latency from scheduled send: p50 ${fixed.percentile(50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${fixed.max().toFixed(1)} ms; floor p99 <= 50 ms: ${p99 <= 50 ? 'MET' : 'MISSED'}`,
  );
  if (!withProjector) say('          bitmap lag: not measured (--no-projector)');
  else
    say(
      `          bitmap lag: events p50 ${fmt(fixedLag.p50)}, p99 ${fmt(fixedLag.p99)}, max ${fmt(fixedLag.max)}; oldest unprojected event p99 ${fmt(fixedLag.msP99)} ms, max ${fmt(fixedLag.msMax)} ms; caught up ${fmt(fixedCatchUp)} ms after the last ack`,
    );
  say(`          ${fixedCpu.text}`);
  // The same rate of raw appends (the projector still applies them): what JetStream and the bitmap cost at this
  // rate on this machine now, so a run on a slow minute reads as a ratio, not only as µs.
  const rawFixed = await openLoop(Math.min(RATE_SECONDS, 10), async () => {
    const e = event();
    noteAck((await log.append(e, `${e.userId}/${e.requestId}`)).seq, performance.now());
    return true;
  });
  await catchUp();
  say(
    `          same-run baseline, raw appends at ${fmt(RATE)}/s for ${fmt(rawFixed.elapsed, 1)} s (ack p50 ${rawFixed.latencies.percentile(50).toFixed(1)} ms): ${rawFixed.cpu.text}`,
  );
  say(
    `          command path / raw append at this rate: ${(fixedCpu.totalUs / rawFixed.cpu.totalUs).toFixed(2)}× the CPU`,
  );
  say(
    `          load average at the end ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
} finally {
  if (sampler) clearInterval(sampler);
  await stopProjector?.().catch(() => undefined);
  await eventLog?.close();
  await deleteStream(nc, names).catch(() => undefined);
  await deleteRedisKeys(redis, names).catch(() => undefined);
  redis.disconnect();
  await nc.close();
}
