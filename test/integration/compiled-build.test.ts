/**
 * Production runs the compiled JavaScript (`npm run build` → dist/): the roles and the CLI start from it with
 * node alone, serve what the source serves (the edge with its history API, against the real services), and a
 * half-built dist/ — no dist/build.json, or a module missing — gets one sentence and exit 1, a bad variable
 * exit 2, never a stack trace. The build here is tsc with tsconfig.build.json, as `npm run build` runs it,
 * into a private directory laid out like an image (bin/ and dist/, no src/), inside the checkout so that
 * node_modules resolves.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../kit/free-port.ts';
import { waitForHttpOk } from '../kit/wait-ready.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';

const root = join(import.meta.dirname, '..', '..');
const image = join(root, '.cache', `test-build-${process.pid}`);
const dist = join(image, 'dist');
const names = testNames('compiled');
const env = {
  ...process.env,
  ...testEnv(names, {
    CANVAS_WIDTH: '32',
    CANVAS_HEIGHT: '32',
    HOST: '127.0.0.1',
    SESSION_SECRET: 'compiled-test-secret-0123456789abcdef',
  }),
};

function node(
  args: string[],
  extra: Record<string, string | undefined> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      args,
      { cwd: image, env: { ...env, ...extra }, timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: unknown }).code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

const oneLine = (stderr: string) => {
  expect(stderr.trim().split('\n'), stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/\n\s+at /);
};

beforeAll(() => {
  rmSync(image, { recursive: true, force: true });
  mkdirSync(join(image, 'bin'), { recursive: true });
  copyFileSync(join(root, 'bin', 'rplace.mjs'), join(image, 'bin', 'rplace.mjs'));
  const tsc = spawnSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
    { cwd: root, encoding: 'utf8' },
  );
  expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
}, 180_000);

afterAll(async () => {
  rmSync(image, { recursive: true, force: true });
  await cleanupCanvas(names);
});

describe('a half-built dist/', () => {
  it('without dist/build.json: every role and the CLI say so in one sentence and exit 1', async () => {
    for (const role of ['edge', 'bitmap-projector', 'history']) {
      const result = await node([`dist/src/roles/${role}/main.js`]);
      expect(result.code, role).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `^rplace ${role}: dist/ is half-built \\(.*build\\.json, written last by \`npm run build\`, is missing\\); run \`npm run build\``,
        ),
      );
      oneLine(result.stderr);
    }
    const cli = await node(['bin/rplace.mjs', 'status']);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toBe(
      'rplace: dist/ is missing or half-built (no dist/build.json, which `npm run build` writes last): run `npm run build`\n',
    );
  });

  it('with a module missing: one sentence naming it, exit 1', async () => {
    writeFileSync(join(dist, 'build.json'), '{}\n');
    const module = join(dist, 'src/roles/edge/with-history.js');
    renameSync(module, `${module}.away`);
    try {
      const result = await node(['dist/src/roles/edge/main.js']);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(
        /^rplace edge: failed to start: dist\/ is half-built \(Cannot find module '.*with-history\.js' imported from .*\); run `npm run build` and let it finish\n$/,
      );
      oneLine(result.stderr);
    } finally {
      renameSync(`${module}.away`, module);
    }
  });
});

describe('a whole dist/', () => {
  it('the CLI runs compiled (no src/ here), with the same exit codes', async () => {
    expect((await node(['bin/rplace.mjs', '--help'])).code).toBe(0);
    expect((await node(['bin/rplace.mjs', 'nosuch'])).code).toBe(2);
    const down = await node(['bin/rplace.mjs', 'streams', 'apply'], { NATS_URL: 'nats://127.0.0.1:1' });
    expect(down.code).toBe(3);
    oneLine(down.stderr);
  }, 60_000);

  it('a bad variable exits 2; the edge starts with node alone and serves its history API', async () => {
    const bad = await node(['dist/src/roles/edge/main.js'], { SESSION_SECRET: 'short' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^rplace edge: invalid configuration:\n {2}SESSION_SECRET=/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);

    const port = await freePort();
    const edge = spawn(process.execPath, ['dist/src/roles/edge/main.js'], {
      cwd: image,
      env: { ...env, PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    edge.stdout.on('data', (d: Buffer) => (output += d.toString()));
    edge.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => edge.once('exit', (code) => resolve(code)));
    try {
      await waitForHttpOk(`http://127.0.0.1:${port}/readyz`, edge, {
        timeoutMs: 60_000,
        intervalMs: 200,
        output: () => output,
        what: 'compiled edge',
      });
      const info = await fetch(`http://127.0.0.1:${port}/api/v1/history/info`);
      expect(info.status).toBe(200);
      expect(await info.json()).toMatchObject({ width: 32, height: 32, position: 0 });
    } finally {
      edge.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
