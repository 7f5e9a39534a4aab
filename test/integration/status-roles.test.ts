/**
 * `rplace status` against running roles on the real NATS, Redis and Postgres: an edge as its own process
 * (started by its main.ts, as in production), the bitmap and history projectors in this process. After
 * known placements, the roles' replies carry exactly those figures; a canvas with no role says so; a
 * reply that is too large or not a summary is ignored, and a request's payload cannot make a role do
 * anything but answer.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RplaceClient } from '../../src/client/index.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { MAX_STATUS_REPLY_BYTES, requestRoleStatus, statusSubject } from '../../src/adapters/nats/status-responder.ts';
import type { RoleSummary } from '../../proto/role-summary.ts';
import { collectStatus, formatStatus, type Status } from '../../src/cli/commands/status.ts';
import { bitmapProjectorSchema } from '../../src/config/bitmap-projector.ts';
import { commonSchema } from '../../src/config/common.ts';
import { historySchema } from '../../src/config/history.ts';
import { loadConfig } from '../../src/config/load.ts';
import { startBitmapProjector } from '../../src/roles/bitmap-projector/start.ts';
import { startHistory } from '../../src/roles/history/start.ts';
import {
  freePort,
  killAllEdgeProcesses,
  nodeClient,
  startEdgeProcess,
  type EdgeProcess,
} from '../helpers/edge-process.ts';
import { cleanupCanvas, testEnv, testNames, TEST_NATS_URL } from '../helpers/isolation.ts';

const run = promisify(execFile);
const names = testNames('statusroles');
const env = testEnv(names, { CANVAS_WIDTH: '64', CANVAS_HEIGHT: '64', SNAPSHOT_INTERVAL_MS: '200' });
const logger = pino({ level: 'silent' });
const CLIENTS = 3;

let nc: NatsConnection;
let edge: EdgeProcess;
const stops: (() => Promise<void>)[] = [];
const clients: RplaceClient[] = [];
let lastSeq = 0;

const roleOf = (status: Status, role: string): RoleSummary | undefined =>
  'error' in status.roles ? undefined : status.roles.answered.find((r) => r.role === role);

beforeAll(async () => {
  nc = await connectNats(TEST_NATS_URL, 'test-status-roles');
  stops.push(await startBitmapProjector(loadConfig(bitmapProjectorSchema, env), logger));
  stops.push(await startHistory(loadConfig(historySchema, env), logger));
  edge = await startEdgeProcess(names, await freePort(), { SNAPSHOT_INTERVAL_MS: '200' });
  for (let i = 0; i < CLIENTS; i++) clients.push(nodeClient(edge.url));
  await Promise.all(clients.map((c) => c.connect()));
  const placed = await Promise.all(clients.map((c, i) => c.place(i, i, i + 1)));
  for (const r of placed) expect(r.type, JSON.stringify(r)).toBe('success');
  lastSeq = Math.max(...placed.map((r) => (r.type === 'success' ? r.seq : 0)));
  // Within the 1 s cooldown: one rejection, by reason.
  expect((await clients[0]!.place(9, 9, 3)).type).toBe('error');
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await edge?.kill();
  killAllEdgeProcesses();
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await cleanupCanvas(names, { nc });
  await nc.drain();
});

describe('rplace status: the running roles', () => {
  it('gathers one reply per role with the placements, connections, sequences and lag that are true', async () => {
    // The projectors apply asynchronously: ask until both caught up and history snapshotted (or time out).
    let status = await collectStatus(loadConfig(commonSchema, env), 300);
    const settled = (s: Status) =>
      ['bitmap-projector', 'history', 'edge'].every((role) => roleOf(s, role)?.projection?.seq === lastSeq) &&
      roleOf(s, 'history')?.snapshot?.seq === lastSeq;
    // Not settled in time: the assertions below say which part is behind.
    await vi
      .waitFor(
        async () => {
          if (settled(status)) return;
          status = await collectStatus(loadConfig(commonSchema, env), 300);
          if (!settled(status)) throw new Error('the roles have not all caught up');
        },
        { timeout: 20_000, interval: 200 },
      )
      .catch(() => undefined);
    expect(status.errors).toEqual([]);
    expect('error' in status.stream ? null : status.stream.lastSeq).toBe(lastSeq);
    expect('error' in status.roles ? [] : status.roles.answered.map((r) => r.role).sort()).toEqual([
      'bitmap-projector',
      'edge',
      'history',
    ]);

    const edgeSummary = roleOf(status, 'edge')!;
    expect(edgeSummary.pid).toBe(edge.child.pid);
    expect(edgeSummary.placements).toMatchObject({
      accepted: CLIENTS,
      duplicates: 0,
      rejected: { cooldown: 1 },
      appends: CLIENTS,
    });
    expect(edgeSummary.placements!.appendP50Ms).toBeGreaterThan(0);
    expect(edgeSummary.placements!.appendP99Ms).toBeGreaterThanOrEqual(edgeSummary.placements!.appendP50Ms!);
    expect(edgeSummary.sockets).toMatchObject({ connections: CLIENTS, framesDropped: {}, resyncs: {} });
    expect(edgeSummary.sockets!.framesSent).toBeGreaterThan(0);
    expect(edgeSummary.projection).toMatchObject({ name: 'edge', seq: lastSeq, lag: 0 });

    for (const role of ['bitmap-projector', 'history']) {
      const summary = roleOf(status, role)!;
      expect(summary.pid).toBe(process.pid);
      expect(summary.placements).toBeUndefined();
      expect(summary.projection).toMatchObject({ seq: lastSeq, lag: 0 });
      expect(summary.projection!.batches).toBeGreaterThan(0);
    }
    expect(roleOf(status, 'history')!.snapshot!.seq).toBe(lastSeq);

    const text = formatStatus(status);
    expect(text).toMatch(/roles \(3 answered within 300 ms\):/);
    expect(text).toMatch(
      new RegExp(
        `\\n {2}edge +\\S+ +\\S+ +${CLIENTS} +[\\d.]+ +1 +[\\d.]+/[\\d.]+ +${CLIENTS} +\\d+/0 +0 +${lastSeq} +0 `,
      ),
    );
    expect(text).toContain('    rejected: cooldown 1');
  }, 60_000);

  it('runs as the CLI: the text table, --json, and a bad --wait refused with exit code 2', async () => {
    const cli = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'status', ...args], {
        env: { ...process.env, ...env },
        timeout: 30_000,
      }).then(
        ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
        (e: { code?: number; stdout?: string; stderr?: string }) => ({
          code: e.code ?? -1,
          stdout: e.stdout ?? '',
          stderr: e.stderr ?? '',
        }),
      );
    const json = await cli(['--json', '--wait', '500']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as Status;
    expect(roleOf(parsed, 'edge')?.placements?.accepted).toBe(CLIENTS);
    expect('error' in parsed.roles ? null : parsed.roles.waitedMs).toBe(500);
    const bad = await cli(['--wait', 'soon']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^rplace status: --wait must be a whole number of milliseconds/);
  }, 60_000);

  it('says "no role answered" for a canvas nobody runs, without waiting for the window', async () => {
    const empty = testNames('statusnone');
    const started = Date.now();
    const status = await collectStatus(loadConfig(commonSchema, testEnv(empty)), 3_000);
    expect(Date.now() - started).toBeLessThan(2_500); // NATS says "no responders" at once
    expect(status.roles).toEqual({ waitedMs: 3_000, answered: [], unreadable: 0 });
    expect(formatStatus(status)).toContain('roles: no role answered within 3000 ms');
  });

  it('ignores replies that are too large or not a summary, and answers a request carrying a command with the summary only', async () => {
    const impostor = nc.subscribe(statusSubject(names.canvasId), {
      callback: (_error, message) => {
        message.respond(new Uint8Array(MAX_STATUS_REPLY_BYTES + 1));
        message.respond('{"role":"edge"}');
        message.respond('not json');
      },
    });
    try {
      const replies = await requestRoleStatus(nc, names.canvasId, 300);
      expect(replies.unreadable).toBe(3);
      expect(replies.answered.map((r) => r.role).sort()).toEqual(['bitmap-projector', 'edge', 'history']);
    } finally {
      impostor.unsubscribe();
    }
    const answers = await nc.requestMany(statusSubject(names.canvasId), JSON.stringify({ command: 'shutdown' }), {
      strategy: 'timer',
      maxWait: 300,
    });
    const bodies: unknown[] = [];
    for await (const m of answers) bodies.push(m.json());
    expect(bodies).toHaveLength(3);
    for (const body of bodies)
      expect(Object.keys(body as object)).toEqual(expect.arrayContaining(['role', 'instance', 'pid', 'uptimeSeconds']));
    expect(edge.child.exitCode).toBeNull();
  });
});
