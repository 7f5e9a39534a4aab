/**
 * `rplace mod ban/unban/restore` as an operator runs them (child processes), against the real services.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { applyStreams } from '../../streams/apply.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { revocationSubject } from '../../src/adapters/nats/revocations.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { EventKind, type CanvasEvent, isPixelEvent } from '../../proto/event-codec.ts';
import { deleteStream, testEnv, testNames } from '../helpers/isolation.ts';
import { authFixture } from '../helpers/auth-fixture.ts';
import { sleep } from '../../src/app/sleep.ts';

const W = 8;
const names = testNames('modcli');
const env = testEnv(names, { CANVAS_WIDTH: String(W), CANVAS_HEIGHT: String(W), LOG_LEVEL: 'silent' });
let fx: Awaited<ReturnType<typeof authFixture>>;

function mod(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mod', ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

beforeAll(async () => {
  fx = await authFixture(names);
  await applyStreams(fx.nc, names);
}, 30_000);
afterAll(async () => {
  await deleteStream(fx.nc, names);
  await fx.close();
}, 30_000);

describe('rplace mod', () => {
  it('bans by username (closing sockets everywhere), shadow-bans, unbans', async () => {
    const reg = await fx.accounts.register({ username: 'Troll', password: 'password-1' }, '1.1.1.1');
    if (!reg.ok) throw new Error(reg.message);
    const userId = reg.session.userId;
    const sub = fx.nc.subscribe(revocationSubject(names.canvasId), { max: 1 });
    const revoked = (async () => {
      for await (const m of sub) return m.json<{ user: string }>();
    })();
    await fx.nc.flush(); // the subscription must reach the server before spawnSync blocks this process
    const ban = mod(['ban', 'troll']);
    expect(ban.stderr).toBe('');
    expect(ban.stdout).toBe(`banned troll (${userId})\n`);
    expect(await fx.bans.get(userId)).toBe('ban');
    expect(await revoked).toEqual({ user: userId });

    expect(mod(['ban', 'troll', '--shadow']).stdout).toMatch(/^shadow-banned/);
    expect(await fx.bans.get(userId)).toBe('shadow');
    expect(mod(['unban', 'Troll']).stdout).toMatch(/^unbanned/);
    expect(await fx.bans.get(userId)).toBeNull();

    const unknown = mod(['ban', 'nobody_here']);
    expect([unknown.status, unknown.stderr]).toEqual([2, 'rplace mod ban: no such user: nobody_here\n']);
  }, 120_000);

  it('restores a region to how it was at a moment, and only that region', async () => {
    const log = createJetStreamEventLog(fx.nc, names, { timeoutMs: 5_000 });
    const place = (x: number, y: number, color: number, i: number): CanvasEvent => ({
      kind: EventKind.PixelPlaced,
      x,
      y,
      color,
      userId: 'u_someone',
      requestId: `p${i}`,
      placedAt: Date.now(),
    });
    for (let i = 0; i < 16; i++) await log.append(place(i % W, Math.floor(i / W), 3, i), `s/${i}`);
    await sleep(30);
    const at = Date.now();
    await sleep(30);
    for (let i = 0; i < 16; i++) await log.append(place(i % W, Math.floor(i / W), 7, 100 + i), `s/${100 + i}`);
    await log.close();

    const dry = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'mod', 'restore', '--region', '0,0,4,2', '--at', String(at)],
      { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000, input: 'n\n' },
    );
    expect(dry.stdout).toMatch(/8 pixels to change/);
    expect(dry.status).toBe(2); // stdin is a pipe, not a terminal: refused without --yes

    const run = mod(['restore', '--region', '0,0,4,2', '--at', new Date(at).toISOString(), '--yes']);
    expect(run.stdout).toMatch(/wrote 8 events/);
    const stream = createNatsEventStream(fx.nc, names, { canvas: { width: W, height: W, colors: 32 } });
    const events: CanvasEvent[] = [];
    for await (const b of stream.read(1, { untilSeq: await stream.lastSeq() }))
      events.push(...b.map((s) => s.event).filter(isPixelEvent));
    const canvas = replay(createCanvas({ width: W, height: W }), W, events);
    for (let i = 0; i < 16; i++) expect(canvas[i]).toBe(i % W < 4 ? 3 : 7);
  }, 120_000);
});
