/**
 * What the fan-out benchmarks share: a real edge role in a child process on a throwaway canvas, and an
 * open-loop placer driving the real command path (createPlacePixel → Redis cooldown → pipelined JetStream
 * append) whose placements carry their start time in their coordinates (y·2000 + x = ms mod 4,000,000).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import type { Redis } from 'ioredis';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { createRedisCooldownStore } from '../src/adapters/redis/cooldown-store.ts';
import { createPlacePixel } from '../src/app/place-pixel.ts';
import { systemClock } from '../src/adapters/system-clock.ts';
import { namesFor } from '../src/domain/names.ts';
import { PALETTE_32 } from '../src/domain/palette.ts';
import { deleteRedisKeys, OPEN_LOOPBACK_EDGE_ENV } from '../test/helpers/isolation.ts';
import { waitFor } from './_process.ts';

export const MOD = 4_000_000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export function benchCanvas(prefix: string) {
  const canvasId = `t_${prefix}_${randomBytes(4).toString('hex')}`;
  return { canvasId, names: namesFor(canvasId) };
}

/** Starts the real edge role on `port` and waits for /readyz. */
/** `BENCH_PROFILE_DIR=DIR`: the edge and bare servers write a CPU profile there when they exit (Node refuses `--cpu-prof` in NODE_OPTIONS). */
function profileArgs(): string[] {
  const dir = process.env.BENCH_PROFILE_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

export async function startEdgeProcess(
  canvasId: string,
  port: number,
  windowMs: number,
  extraEnv: Record<string, string> = {},
): Promise<ChildProcess> {
  const env = {
    ...process.env,
    CANVAS_ID: canvasId,
    PORT: String(port),
    HOST: '127.0.0.1',
    SESSION_SECRET: randomBytes(24).toString('hex'),
    COOLDOWN_SECONDS: '1',
    FLUSH_WINDOW_MS: String(windowMs),
    LOG_LEVEL: 'warn',
    WS_MAX_BACKPRESSURE: String(1024 * 1024),
    // Every bench client is a guest from loopback; a storm resumes thousands of clients from each of the
    // harness's 200 source addresses at once.
    ...OPEN_LOOPBACK_EDGE_ENV,
    ...extraEnv,
  };
  const edge = fork(here('../src/roles/edge/main.ts'), [], {
    execArgv: ['--import', 'tsx', ...profileArgs()],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return edge;
    if (i > 300 || edge.exitCode !== null) throw new Error(`edge on port ${port} did not become ready`);
    await sleep(100);
  }
}

/** The bare-uWS baseline (bench/_fanout-bare.ts) on `port`, publishing at `rate`/s once sent `start`. */
export async function startBareProcess(port: number, windowMs: number, rate: number): Promise<ChildProcess> {
  const env = { ...process.env, WINDOW_MS: String(windowMs), RATE: String(rate), PORT: String(port) };
  const bare = fork(here('./_fanout-bare.ts'), [], {
    execArgv: ['--import', 'tsx', ...profileArgs()],
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  await waitFor(bare, 'listening', 120_000);
  return bare;
}

export async function edgeSeq(port: number): Promise<number> {
  return ((await (await fetch(`http://127.0.0.1:${port}/api/v1/canvas/info`)).json()) as { seq: number }).seq;
}

export type PlaceFn = ReturnType<typeof createPlacePixel>;

export function benchPlace(nc: NatsConnection, redis: Redis, names: ReturnType<typeof namesFor>) {
  const eventLog = createJetStreamEventLog(nc, names, { timeoutMs: 5000 });
  const place = createPlacePixel({
    spec: { width: 2000, height: 2000, palette: PALETTE_32 },
    cooldownSeconds: 1,
    cooldowns: createRedisCooldownStore(redis, names),
    log: eventLog,
    clock: systemClock,
  });
  /** Deletes the bench's stream and keys, and closes both connections. */
  const cleanup = async () => {
    await eventLog.close();
    await jetstreamManager(nc)
      .then((jsm) => jsm.streams.delete(names.stream))
      .catch(() => undefined);
    await deleteRedisKeys(redis, names);
    await nc.close();
    redis.disconnect();
  };
  return { place, cleanup };
}

/** Where a placement goes and its color, from its start time (ms since the epoch) and its index in its tick. */
export type PixelAt = (startedAt: number, index: number) => { x: number; y: number; color: number };

/** The default: the start time in the coordinates (y·2000 + x = ms mod MOD), read back by the clients. */
export const clockCoordinates: PixelAt = (startedAt, index) => {
  const code = startedAt % MOD;
  return { x: code % 2000, y: Math.floor(code / 2000), color: 1 + (index % 31) };
};

/**
 * Uniformly random coordinates of a `side`² canvas (viewports see their share); the start time in the color,
 * in 50 ms slots, read back by the harness's "clock color" (bench/_fanout-epoll.c).
 */
export const randomCoordinates =
  (side: number): PixelAt =>
  (startedAt) => ({
    x: Math.floor(Math.random() * side),
    y: Math.floor(Math.random() * side),
    color: 1 + (Math.floor(startedAt / 50) % 31),
  });

/**
 * Places at `rate`/s, open loop, until stopped; never a burst after a stall and never more than 5,000 in flight.
 * `at` chooses each pixel (default `clockCoordinates`).
 */
export function startPlacer(place: PlaceFn, rate: number, at: PixelAt = clockCoordinates) {
  const stats = { placed: 0, failed: 0, inFlight: 0, failures: new Map<string, number>(), latencies: [] as number[] };
  let user = 0;
  let carry = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    carry += ((now - last) * rate) / 1000;
    last = now;
    const count = Math.min(Math.floor(carry), Math.ceil(rate / 20), 5000 - stats.inFlight);
    carry = Math.min(carry - Math.floor(carry), 1);
    for (let i = 0; i < count; i++) {
      stats.inFlight++;
      user = (user + 1) % 50_000;
      const startedAt = Date.now();
      place({ userId: `bench${user}`, requestId: `r${now}_${i}`, ...at(startedAt, i) }).then(
        (o) => {
          stats.inFlight--;
          stats.latencies.push(Date.now() - startedAt);
          if (o.ok) stats.placed++;
          else {
            stats.failed++;
            stats.failures.set(o.code, (stats.failures.get(o.code) ?? 0) + 1);
          }
        },
        () => {
          stats.inFlight--;
          stats.failed++;
        },
      );
    }
  }, 10);
  return { stats, stop: () => clearInterval(timer) };
}

/** Samples a process's CPU and peak RSS every `everyMs` until stopped. */
export function sampleProcess(
  pid: number,
  cpuSeconds: (pid: number) => number,
  rssBytes: (pid: number) => number,
  everyMs = 100,
) {
  const cpu0 = cpuSeconds(pid);
  const t0 = Date.now();
  let peakRss = rssBytes(pid);
  const timer = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, rssBytes(pid));
    } catch {
      // the process is gone
    }
  }, everyMs);
  return {
    stop() {
      clearInterval(timer);
      const seconds = (Date.now() - t0) / 1000;
      const cpu = cpuSeconds(pid) - cpu0;
      return { seconds, cpu, cores: cpu / seconds, peakRss };
    },
  };
}

/** Runs a benchmark's `main`, killing its harnesses and child processes on the way out, on Ctrl-C and on failure; then exits. */
export async function runBench(
  main: () => Promise<void>,
  harnesses: () => readonly { kill(): void }[],
  children: readonly ChildProcess[],
): Promise<never> {
  const kill = () => {
    for (const h of harnesses()) h.kill();
    for (const c of children) c.kill('SIGKILL');
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      kill();
      process.exit(130);
    });
  }
  try {
    await main();
  } finally {
    kill();
  }
  process.exit(0);
}
