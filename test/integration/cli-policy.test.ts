/**
 * The CLI's one exit-code policy (src/exit-codes.ts: usage 2, unreachable service 3, anything else 1, one
 * line and no stack trace) through the real `rplace` command (bin/rplace.mjs), and the guard of the
 * destructive commands (src/cli/guard.ts): without a terminal they need --yes, and a rebuild is refused while
 * the role owning its projection answers on `rplace-ctl.<canvas>.status`, unless --force. The "running role"
 * here is the real status responder, answering as that role from this test process.
 */
import { execFile } from 'node:child_process';
import type { NatsConnection } from '@nats-io/nats-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { answerStatusRequests } from '../../src/adapters/nats/status-responder.ts';
import { appendPixels, randomPixels } from '../helpers/append-events.ts';
import { cleanupCanvas, TEST_NATS_URL, testEnv, testNames } from '../helpers/isolation.ts';

const names = testNames('clipolicy');
const env = { ...process.env, ...testEnv(names, { CANVAS_WIDTH: '32', CANVAS_HEIGHT: '32' }) };
let nc: NatsConnection;

function rplace(
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/rplace.mjs', ...args],
      { env: { ...env, ...extra }, timeout: 120_000 },
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

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-cli-policy');
  expect((await rplace(['streams', 'apply'])).code).toBe(0);
  await appendPixels(nc, names, randomPixels(50, 32, 32, 32, 7));
}, 60_000);

afterAll(async () => {
  await cleanupCanvas(names, { nc });
  await nc.drain();
});

describe('rplace exit codes', () => {
  // Each case is a CLI process compiling its TypeScript through tsx: seconds each on a loaded machine, so
  // the cases run concurrently and the timeouts are generous.
  it('usage errors exit 2: an unknown command, a missing option, a bad value, a bad variable', async () => {
    const [unknown, missing, wait, variable, help] = await Promise.all([
      rplace(['nosuch']),
      rplace(['mod', 'restore', '--at', '1h']), // --region missing
      rplace(['status', '--wait', 'soon']),
      rplace(['mod', 'ban', 'x'], { CANVAS_WIDTH: 'wide' }),
      rplace(['--help']),
    ]);
    expect([unknown.code, missing.code, wait.code, variable.code, help.code]).toEqual([2, 2, 2, 2, 0]);
    oneLine(wait.stderr);
  }, 240_000);

  it('an unreachable service exits 3 with one line, for every command', async () => {
    const cases: [string[], Record<string, string>, RegExp][] = [
      [
        ['mod', 'ban', 'u_someone'],
        { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' },
        /^rplace mod ban: cannot reach Postgres/,
      ],
      [['mod', 'unban', 'u_someone'], { REDIS_URL: 'redis://127.0.0.1:1' }, /^rplace mod unban: cannot reach Redis/],
      [
        ['mod', 'restore', '--region', '0,0,2,2', '--at', '1h', '--yes'],
        { NATS_URL: 'nats://127.0.0.1:1' },
        /^rplace mod restore: cannot reach NATS/,
      ],
      [
        ['rebuild', 'history', '--yes'],
        { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' },
        /^rplace rebuild history: cannot reach Postgres/,
      ],
      [['rebuild', 'bitmap', '--yes'], { NATS_URL: 'nats://127.0.0.1:1' }, /^rplace rebuild bitmap: cannot reach NATS/],
      [['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/test' }, /^rplace migrate: cannot reach Postgres/],
    ];
    const results = await Promise.all(cases.map(([args, extra]) => rplace(args, extra)));
    for (const [i, [args, , message]] of cases.entries()) {
      const result = results[i]!;
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(3);
      expect(result.stderr).toMatch(message);
      oneLine(result.stderr);
    }
    // status prints every section, the unreachable one as an error line, and exits 3 too.
    const status = await rplace(['status'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(status.code).toBe(3);
    expect(status.stdout).toMatch(/^error: bitmap: cannot reach Redis/m);
    expect(status.stdout).toMatch(new RegExp(`stream ${names.stream}: last sequence 50`));
  }, 240_000);
});

describe('destructive commands', () => {
  it('need --yes without a terminal', async () => {
    const cases = [
      ['rebuild', 'history'],
      ['rebuild', 'bitmap'],
      ['mod', 'restore', '--region', '0,0,32,32', '--at', '1600000000000'],
    ];
    const results = await Promise.all(cases.map((args) => rplace(args)));
    for (const [i, result] of results.entries()) {
      expect(result.code, cases[i]!.join(' ')).toBe(2);
      expect(result.stderr).toMatch(/no terminal to ask on \(pass --yes\)/);
    }
  }, 240_000);

  it('refuse to rebuild while the owning role runs, unless --force', async () => {
    const history = answerStatusRequests(nc, names.canvasId, 'history');
    const bitmap = answerStatusRequests(nc, names.canvasId, 'bitmap-projector');
    await nc.flush();
    try {
      const refused = await rplace(['rebuild', 'history', '--yes']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(
        new RegExp(
          `^rplace rebuild history: refusing to rebuild history: the history role of canvas ${names.canvasId} is running \\(.+ pid ${process.pid}\\); stop it first, or pass --force\\n$`,
        ),
      );
      const refusedBitmap = await rplace(['rebuild', 'bitmap', '--yes']);
      expect(refusedBitmap.code).toBe(1);
      expect(refusedBitmap.stderr).toMatch(/the bitmap-projector role of canvas .* is running/);
      const forced = await rplace(['rebuild', 'history', '--yes', '--force']);
      expect(forced.code, forced.stderr).toBe(0);
      expect(forced.stdout).toMatch(/history rebuilt: 50 events/);
      const forcedBitmap = await rplace(['rebuild', 'bitmap', '--yes', '--force', '--quiet']);
      expect(forcedBitmap.code, forcedBitmap.stderr).toBe(0);
      expect(forcedBitmap.stdout).toMatch(/rebuilt through sequence 50: 50 events/);
    } finally {
      history.unsubscribe();
      bitmap.unsubscribe();
    }
    // Nobody answers now: the rebuild goes ahead without --force.
    await nc.flush();
    const alone = await rplace(['rebuild', 'history', '--yes']);
    expect(alone.code, alone.stderr).toBe(0);
  }, 240_000);
});
