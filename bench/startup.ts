/**
 * `npm run bench -- startup [--runs N]`: start-up time of every role, and of the CLI, from the TypeScript
 * source through tsx (how production ran before `npm run build`) against the compiled dist/ with node alone
 * (how it runs now). Needs a whole build (`npm run build`). A role counts as started when it answers its
 * health check (the edge `/readyz`: caught up and listening; a projector `/healthz` on METRICS_PORT); the CLI
 * when `rplace --help` has exited. Runs alternate tsx / dist so machine load hits both alike; prints the
 * median, min and max of each and the ratio dist/tsx, for the wall-clock time and for the CPU time the process
 * used until then (from /proc; the CLI reports its own at exit): on a shared, loaded machine the CPU time is
 * the steadier figure. Real NATS, Redis and Postgres, a 64×64 canvas of its own.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../test/helpers/edge-process.ts';
import { cpuSeconds } from './_process.ts';
import { cleanupCanvas, testEnv, testNames } from '../test/helpers/isolation.ts';
import { ROOT } from '../test/e2e/browser-harness.ts';

const runsArg = process.argv.indexOf('--runs');
const runs = runsArg === -1 ? 5 : Number(process.argv[runsArg + 1]);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) {
  process.stderr.write('usage: npm run bench -- startup [--runs 1-50]\n');
  process.exit(2);
}
if (!existsSync(join(ROOT, 'dist/build.json'))) {
  process.stderr.write('bench startup: no whole build in dist/ (dist/build.json): run `npm run build` first\n');
  process.exit(1);
}

const names = testNames('benchstartup');
const env = {
  ...process.env,
  ...testEnv(names, {
    CANVAS_WIDTH: '64',
    CANVAS_HEIGHT: '64',
    SESSION_SECRET: 'bench-startup-secret-0123456789abcdef',
    HOST: '127.0.0.1',
  }),
};

interface Target {
  readonly name: string;
  readonly tsx: string[];
  readonly dist: string[];
  /** Extra env (ports) and the URL that answers 200 once started; none: started = exited 0. */
  readonly ready?: () => Promise<{ env: Record<string, string>; url: string }>;
}

const role = (name: string, ready: Target['ready']): Target => ({
  name,
  tsx: ['--import', 'tsx', `src/roles/${name}/main.ts`],
  dist: [`dist/src/roles/${name}/main.js`],
  ready,
});
const metricsReady = async () => {
  const port = await freePort();
  return { env: { METRICS_PORT: String(port) }, url: `http://127.0.0.1:${port}/healthz` };
};
const targets: Target[] = [
  role('edge', async () => {
    const port = await freePort();
    return { env: { PORT: String(port) }, url: `http://127.0.0.1:${port}/readyz` };
  }),
  role('bitmap-projector', metricsReady),
  role('history', metricsReady),
  {
    name: 'cli (rplace --help)',
    tsx: ['--import', 'tsx', '--import', './bench/_exit-cpu.mjs', 'src/cli/main.ts', '--help'],
    dist: ['--import', './bench/_exit-cpu.mjs', 'dist/src/cli/main.js', '--help'],
  },
];

interface Sample {
  readonly wallMs: number;
  readonly cpuMs: number;
}

async function startOnce(target: Target, args: string[]): Promise<Sample> {
  const ready = await target.ready?.();
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { ...env, ...ready?.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    if (!ready) {
      const code = await exited;
      const wallMs = performance.now() - started;
      const cpu = /bench-cpu-ms ([\d.]+)\s*$/.exec(stderr);
      if (code !== 0 || !cpu) throw new Error(`${target.name} exited ${code}: ${stderr}`);
      return { wallMs, cpuMs: Number(cpu[1]) };
    }
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${target.name} exited ${child.exitCode}: ${stderr}`);
      if (
        await fetch(ready.url).then(
          (r) => r.ok,
          () => false,
        )
      )
        return { wallMs: performance.now() - started, cpuMs: cpuSeconds(child.pid!) * 1000 };
      if (performance.now() - started > 120_000) throw new Error(`${target.name} not ready in 120 s`);
      await new Promise((r) => setTimeout(r, 10));
    }
  } finally {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  }
}

const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted[sorted.length - 1]! };
};
const fmt = (s: { median: number; min: number; max: number }) =>
  `median ${s.median.toFixed(0)} ms (${s.min.toFixed(0)}–${s.max.toFixed(0)})`;

try {
  process.stdout.write(`startup: ${runs} runs each, tsx and dist alternating, Node ${process.version}\n`);
  for (const target of targets) {
    const tsx: Sample[] = [];
    const dist: Sample[] = [];
    for (let i = 0; i < runs; i++) {
      tsx.push(await startOnce(target, target.tsx));
      dist.push(await startOnce(target, target.dist));
    }
    for (const key of ['wallMs', 'cpuMs'] as const) {
      const t = stats(tsx.map((s) => s[key]));
      const d = stats(dist.map((s) => s[key]));
      const label = key === 'wallMs' ? target.name : '  (CPU time)';
      process.stdout.write(
        `  ${label.padEnd(20)} tsx ${fmt(t)}   dist ${fmt(d)}   ratio dist/tsx ${(d.median / t.median).toFixed(2)}\n`,
      );
    }
  }
} finally {
  await cleanupCanvas(names);
}
