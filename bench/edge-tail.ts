/**
 * `npm run bench -- edge-tail [--rate 3333] [--seconds 10] [--tick 1] [--profile <dir>] [--no-baseline]`
 *
 * The edge's fixed cost of tailing the stream with no WebSocket client: one edge (a child process running
 * the real role) on a fresh canvas, while this process appends events at `rate`/s through the real event
 * log adapter (no placement command, no Redis cooldowns: only the stream's write side). Measured from
 * /proc/<pid>/stat over the same window, in the same run, next to baseline processes reading the same events
 * with no processing (`bench/_edge-tail-reader.ts`): the edge's reader alone (`adapter`), a bare nats.js ordered
 * consumer (iterator and callback), the pull protocol by hand, and a core-NATS subscription. Prints CPU % of a
 * core and µs per event for each, and the edge's idle CPU (no events).
 * `--profile <dir>` starts the edge with `--cpu-prof` (the profile is written when it exits on SIGTERM).
 */
import { cpuSeconds, waitFor } from './_process.ts';
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connectNats } from '../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../src/adapters/nats/event-log.ts';
import { connectRedis } from '../src/adapters/redis/connect.ts';
import { EventKind } from '../proto/event-codec.ts';
import { namesFor } from '../src/domain/names.ts';
import { applyStreams } from '../streams/apply.ts';
import { deleteRedisKeys } from '../test/helpers/isolation.ts';
import { freePort } from '../test/helpers/edge-process.ts';

const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '3333' },
    seconds: { type: 'string', default: '10' },
    tick: { type: 'string', default: '1' },
    profile: { type: 'string' },
    'no-baseline': { type: 'boolean', default: false },
  },
});
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
// Appends go out every TICK ms: 1 ms spreads them about as placements from many users arrive (a few per
// socket read); 10 ms sends bursts of ~33 that the edge reads in one batch (cheaper per event).
const TICK = Math.max(1, Number(values.tick));
const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const canvasId = `t_benchtail_${randomBytes(4).toString('hex')}`;
const names = namesFor(canvasId);
const log = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const children: ChildProcess[] = [];
let cleanup: (() => Promise<void>) | undefined;

/** Appends at RATE/s, open loop, through the real pipelined event log adapter. */
function startAppender(eventLog: ReturnType<typeof createJetStreamEventLog>) {
  const stats = { appended: 0, failed: 0 };
  let n = 0;
  let carry = 0;
  let last = Date.now();
  const timer = setInterval(() => {
    const now = Date.now();
    carry += ((now - last) * RATE) / 1000;
    last = now;
    const count = Math.floor(carry);
    carry -= count;
    for (let i = 0; i < count; i++) {
      n++;
      const event = {
        kind: EventKind.PixelPlaced,
        x: n % 2000,
        y: Math.floor(n / 2000) % 2000,
        color: 1 + (n % 31),
        placedAt: now,
        userId: `bench${n % 50_000}`,
        requestId: `r${now}_${i}_${n}`,
      } as const;
      eventLog.append(event, `${event.userId}/${event.requestId}`).then(
        () => stats.appended++,
        () => stats.failed++,
      );
    }
  }, TICK);
  return { stats, stop: () => clearInterval(timer) };
}

async function main() {
  log(
    `edge-tail: ${RATE} events/s appended every ${TICK} ms, ${SECONDS} s measured, canvas ${canvasId}${values.profile ? `, profiling the edge into ${values.profile}` : ''}`,
  );
  log(
    `machine: ${readFileSync('/proc/loadavg', 'utf8').trim().split(' ').slice(0, 3).join(' ')} load average at start`,
  );
  const nc = await connectNats('nats://127.0.0.1:4222', 'bench-edge-tail');
  const redis = await connectRedis('redis://127.0.0.1:6379', 'bench-edge-tail');
  // Whatever happens below, the canvas's stream and keys go (a failed run left empty streams behind).
  cleanup = async () => {
    await jetstreamManager(nc)
      .then((jsm) => jsm.streams.delete(names.stream))
      .catch(() => undefined);
    await deleteRedisKeys(redis, names).catch(() => undefined);
    await nc.close();
    redis.disconnect();
  };
  await applyStreams(nc, names);
  const env = {
    ...process.env,
    CANVAS_ID: canvasId,
    HOST: '127.0.0.1',
    SESSION_SECRET: randomBytes(24).toString('hex'),
    COOLDOWN_SECONDS: '1',
    LOG_LEVEL: 'warn',
  };
  const port = await freePort(); // a random port collided with a socket left by the fanout bench's clients
  const profileArgs = values.profile ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [];
  const edge = fork(here('../src/roles/edge/main.ts'), [], {
    execArgv: ['--import', 'tsx', ...profileArgs],
    env: { ...env, PORT: String(port) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  children.push(edge);
  const edgePid = edge.pid ?? 0;
  for (let i = 0; ; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 300) throw new Error('edge did not become ready');
    await sleep(100);
  }
  const readers: { mode: string; child: ChildProcess }[] = [];
  if (!values['no-baseline']) {
    for (const mode of ['adapter', 'adapter-fast', 'ordered', 'ordered-callback', 'pull', 'core']) {
      const child = fork(here('./_edge-tail-reader.ts'), [], {
        execArgv: ['--import', 'tsx'],
        env: { ...process.env, MODE: mode, CANVAS_ID: canvasId, START_SEQ: '1' },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      children.push(child);
      await waitFor(child, 'ready', 60_000);
      readers.push({ mode, child });
    }
  }
  await sleep(1000);
  // Idle: no events, only the edge's timers (lag checks, stall watchdog, pull heartbeats).
  const idle0 = cpuSeconds(edgePid);
  const idleT0 = Date.now();
  await sleep(3000);
  const idleCores = (cpuSeconds(edgePid) - idle0) / ((Date.now() - idleT0) / 1000);

  const eventLog = createJetStreamEventLog(nc, names, { timeoutMs: 5000 });
  const appender = startAppender(eventLog);
  await sleep(3000); // warm-up (JIT, first pulls)
  const pids = [{ name: 'edge', pid: edgePid }, ...readers.map((r) => ({ name: r.mode, pid: r.child.pid ?? 0 }))];
  const cpu0 = pids.map((p) => cpuSeconds(p.pid));
  const appended0 = appender.stats.appended;
  const t0 = Date.now();
  await sleep(SECONDS * 1000);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = pids.map((p, i) => cpuSeconds(p.pid) - (cpu0[i] ?? 0));
  const events = appender.stats.appended - appended0;
  appender.stop();
  await sleep(500);
  const replies = await Promise.all(
    readers.map(async (r) => {
      const w = waitFor<{ received: number; batches: number }>(r.child, 'count', 60_000);
      r.child.send({ cmd: 'count' });
      return w;
    }),
  );
  const counts = replies.map((r) => r.received);
  const seq = ((await (await fetch(`http://127.0.0.1:${port}/api/v1/canvas/info`)).json()) as { seq: number }).seq;

  log(
    `appended ${events.toLocaleString('en')} events in ${elapsed.toFixed(1)} s = ${(events / elapsed).toFixed(0)}/s (${appender.stats.failed} failed); edge at seq ${seq} of ${appender.stats.appended}, baselines received ${counts.join(', ')}`,
  );
  replies.forEach((r, i) => {
    if (r.batches > 0) log(`${readers[i]!.mode}: ${(r.received / r.batches).toFixed(1)} events per batch`);
  });
  log(`edge idle (no events): ${(idleCores * 100).toFixed(1)}% of a core`);
  const edgePerEvent = (cpu[0]! / events) * 1e6;
  pids.forEach((p, i) => {
    const pct = (cpu[i]! / elapsed) * 100;
    const us = (cpu[i]! / events) * 1e6;
    // A baseline that fell behind or stopped read fewer events than it was charged for: say so.
    const incomplete = i > 0 && counts[i - 1] !== seq ? ` (INCOMPLETE: read ${counts[i - 1]} of ${seq})` : '';
    const ratio = i === 0 ? '' : `; edge/${p.name} = ${(edgePerEvent / us).toFixed(2)}${incomplete}`;
    log(`${p.name.padEnd(16)} ${pct.toFixed(1)}% of a core = ${us.toFixed(1)} µs per event${ratio}`);
  });

  await eventLog.close();
  edge.kill('SIGTERM');
  await new Promise((r) => edge.once('exit', r));
  for (const r of readers) r.child.kill('SIGKILL');
}

try {
  await main();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await cleanup?.();
}
process.exit(0);
