/**
 * The moderator HTTP API through a real edge (in-process, uWS) on the shared NATS, Redis and Postgres:
 * the role granted and revoked as `rplace mod grant|revoke` does (the Postgres role store), every mod
 * route refused to guests, players and revoked moderators, a survey, a preview whose images are the
 * canvas before and after, an apply that writes each compensating event once under a double submit
 * and a retry, bans, and the audit log.
 */
import { appendPlacementsBy, lastStreamSeq, type TestPixel } from '../helpers/append-events.ts';
import { startInProcessEdge } from '../helpers/in-process-edge.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import pg from 'pg';
import { createPgModeratorRoles } from '../../src/adapters/pg/moderators.ts';
import { createDurableBanStore } from '../../src/adapters/redis/ban-store.ts';
import { createPgBanRecords } from '../../src/adapters/pg/ban-records.ts';
import { decodePng } from '../helpers/png.ts';
import { cleanupCanvas, testNames, TEST_DATABASE_URL, TEST_NATS_URL, TEST_REDIS_URL } from '../helpers/isolation.ts';

const names = testNames('modapi');
const SECRET = 'mod-api-test-secret-0123456789abcdefgh';
let nc: NatsConnection;
let redis: Redis;
let pool: pg.Pool;
let host = '';
let stop: () => Promise<void>;

interface Reply {
  status: number;
  json: Record<string, unknown>;
  cookie: string | undefined;
}

async function http(method: string, path: string, body?: unknown, cookie?: string, csrf = true): Promise<Reply> {
  const res = await fetch(`http://${host}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(csrf ? { 'x-rplace-csrf': '1' } : {}),
      ...(cookie ? { cookie } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const sid = /rplace_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    cookie: sid ? `rplace_session=${sid}` : undefined,
  };
}

async function register(username: string): Promise<{ cookie: string; userId: string }> {
  const r = await http('POST', '/api/v1/auth/register', { username, password: 'password-123' });
  expect(r.status).toBe(201);
  return { cookie: r.cookie!, userId: String(r.json['userId']) };
}

const lastSeq = () => lastStreamSeq(nc, names);

/** Placements as the edge stores them, by `userId`, at `placedAt`. */
const place = (userId: string, pixels: readonly TestPixel[], placedAt: number) =>
  appendPlacementsBy(nc, names, userId, pixels, placedAt);

let moderator: { cookie: string; userId: string };
let player: { cookie: string; userId: string };
let vandal: { cookie: string; userId: string };
const roles = () => createPgModeratorRoles(pool, names.pgSchema);

beforeAll(async () => {
  nc = await connect({ servers: TEST_NATS_URL });
  redis = new Redis(TEST_REDIS_URL);
  ({ stop, host } = await startInProcessEdge(names, {
    SESSION_SECRET: SECRET,
    CANVAS_WIDTH: '64',
    CANVAS_HEIGHT: '48',
    COOLDOWN_SECONDS: '1',
    REGISTRATIONS_PER_IP_PER_HOUR: '100',
  }));
  pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 2 });
  moderator = await register('modalice');
  player = await register('playerbob');
  vandal = await register('vandalvic');
  expect(await roles().grant(moderator.userId, 'm_test')).toBe(true);
}, 60_000);

afterAll(async () => {
  await stop?.();
  await pool?.end();
  await cleanupCanvas(names, { nc, redis });
  await nc.close();
  redis.disconnect();
}, 30_000);

const region = { x: 10, y: 10, width: 8, height: 6 };
const KEY = 'apply-key-0001';
const routes: readonly [string, string, unknown][] = [
  ['GET', '/api/v1/mod/me', undefined],
  ['POST', '/api/v1/mod/survey', { region, since: 0 }],
  ['POST', '/api/v1/mod/preview', { region, since: 0 }],
  ['POST', '/api/v1/mod/apply', { selection: { region, since: 0 }, idempotencyKey: KEY }],
  ['POST', '/api/v1/mod/ban', { user: 'playerbob', mode: 'ban', idempotencyKey: 'ban-key-0001' }],
  ['POST', '/api/v1/mod/unban', { user: 'playerbob', idempotencyKey: 'unban-key-0001' }],
  ['GET', '/api/v1/mod/audit?limit=10', undefined],
];

describe('moderator API', () => {
  it('refuses guests, players and forged cookies on every route (403), before any side effect', async () => {
    const before = await lastSeq().catch(() => 0);
    for (const [method, path, body] of routes) {
      for (const cookie of [undefined, player.cookie, `rplace_session=${'x'.repeat(43)}.${'y'.repeat(43)}`]) {
        const r = await http(method, path, body, cookie);
        expect(r.status, `${method} ${path} as ${cookie === player.cookie ? 'player' : 'guest'}`).toBe(403);
        expect(r.json['code']).toBe('forbidden');
      }
    }
    expect(await lastSeq().catch(() => 0)).toBe(before);
    expect(
      await createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema)).get(
        player.userId,
      ),
    ).toBeNull();
    expect((await http('GET', '/api/v1/mod/me', undefined, moderator.cookie)).json).toEqual({
      userId: moderator.userId,
      username: 'modalice',
    });
  });

  it('validates bodies and bounds: bad JSON, unknown fields, no CSRF header, off-canvas region', async () => {
    expect((await http('POST', '/api/v1/mod/survey', { region, since: 0, extra: 1 }, moderator.cookie)).status).toBe(
      400,
    );
    expect(
      (await http('POST', '/api/v1/mod/survey', { region: { ...region, width: 0 }, since: 0 }, moderator.cookie))
        .status,
    ).toBe(400);
    expect((await http('POST', '/api/v1/mod/survey', { region, since: 0 }, moderator.cookie, false)).status).toBe(403);
    const off = await http(
      'POST',
      '/api/v1/mod/survey',
      { region: { x: 100, y: 100, width: 5, height: 5 }, since: 0 },
      moderator.cookie,
    );
    expect(off.status).toBe(400);
    expect(off.json['code']).toBe('invalid_coordinates');
    expect(
      (
        await http(
          'POST',
          '/api/v1/mod/apply',
          { selection: { region, since: 0 }, idempotencyKey: 'x' },
          moderator.cookie,
        )
      ).status,
    ).toBe(400);
    expect((await http('GET', '/api/v1/mod/audit?limit=100000', undefined, moderator.cookie)).status).toBe(400);
  });

  it('surveys who placed, previews before/after, applies once under a double submit, and audits it', async () => {
    const t0 = Date.now() - 10_000;
    // The player paints a 4×3 block, then the vandal covers part of it and more; all inside `region`.
    const good = Array.from({ length: 12 }, (_, i) => ({ x: 10 + (i % 4), y: 10 + Math.floor(i / 4), color: 3 }));
    await place(player.userId, good, t0);
    const bad = Array.from({ length: 10 }, (_, i) => ({ x: 12 + (i % 5), y: 11 + Math.floor(i / 5), color: 5 }));
    await place(vandal.userId, bad, t0 + 5_000);

    const survey = await http('POST', '/api/v1/mod/survey', { region, since: t0 + 1_000 }, moderator.cookie);
    expect(survey.status).toBe(200);
    expect(survey.json['users']).toEqual([
      { userId: vandal.userId, username: 'vandalvic', placements: 10, firstAt: t0 + 5_000, lastAt: t0 + 5_000 },
    ]);
    expect(survey.json['pixels']).toBe(10);
    const all = await http('POST', '/api/v1/mod/survey', { region, since: 0 }, moderator.cookie);
    expect((all.json['users'] as { username: string }[]).map((u) => u.username)).toEqual(['playerbob', 'vandalvic']);

    // Restore the region to how it was before the vandal: every vandal pixel changes back.
    const selection = { region, since: t0 + 1_000 };
    const preview = await http('POST', '/api/v1/mod/preview', selection, moderator.cookie);
    expect(preview.status).toBe(200);
    expect(preview.json['pixels']).toBe(10);
    const before = decodePng(Buffer.from(String(preview.json['beforePng']), 'base64'));
    const after = decodePng(Buffer.from(String(preview.json['afterPng']), 'base64'));
    expect([before.width, before.height]).toEqual([8, 6]);
    const at = (png: typeof before, x: number, y: number) =>
      png.frames[0]![(y - region.y) * region.width + (x - region.x)];
    expect(at(before, 12, 11)).toBe(5);
    expect(at(after, 12, 11)).toBe(3); // the player's colour under it
    expect(at(after, 16, 12)).toBe(0); // the vandal painted blank canvas there
    expect(at(before, 10, 10)).toBe(3);
    expect(at(after, 10, 10)).toBe(3);

    const seqBefore = await lastSeq();
    const body = { selection, idempotencyKey: KEY };
    const [a, b] = await Promise.all([
      http('POST', '/api/v1/mod/apply', body, moderator.cookie),
      http('POST', '/api/v1/mod/apply', body, moderator.cookie),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.json['rollbackId']).toBe(b.json['rollbackId']);
    expect([a.json['repeated'], b.json['repeated']].sort()).toEqual([false, true]);
    expect(a.json['applied']).toBe(10);
    expect(await lastSeq()).toBe(seqBefore + 10);
    // A retry later writes nothing; a new action on the restored region has nothing to do.
    expect((await http('POST', '/api/v1/mod/apply', body, moderator.cookie)).json['repeated']).toBe(true);
    expect((await http('POST', '/api/v1/mod/preview', selection, moderator.cookie)).json['pixels']).toBe(0);
    expect(await lastSeq()).toBe(seqBefore + 10);

    const audit = await http('GET', '/api/v1/mod/audit?limit=10', undefined, moderator.cookie);
    const entries = audit.json['entries'] as Record<string, unknown>[];
    expect(entries[0]).toMatchObject({
      kind: 'rollback',
      rollbackId: a.json['rollbackId'],
      moderatorId: moderator.userId,
      moderator: 'modalice',
      pixels: 10,
    });
  });

  it('selects a user without a rectangle: their placements anywhere, previewed in the box around them', async () => {
    expect((await http('POST', '/api/v1/mod/survey', { since: 0 }, moderator.cookie)).status).toBe(400);
    const t = Date.now() - 5_000;
    await place(
      vandal.userId,
      [
        { x: 40, y: 30, color: 7 },
        { x: 50, y: 33, color: 7 },
      ],
      t,
    );
    const survey = await http('POST', '/api/v1/mod/survey', { since: t, user: 'vandalvic' }, moderator.cookie);
    expect(survey.json['users']).toEqual([
      { userId: vandal.userId, username: 'vandalvic', placements: 2, firstAt: t, lastAt: t },
    ]);
    const preview = await http('POST', '/api/v1/mod/preview', { since: t, user: 'vandalvic' }, moderator.cookie);
    expect([preview.json['pixels'], preview.json['region']]).toEqual([2, { x: 40, y: 30, width: 11, height: 4 }]);
    const seq = await lastSeq();
    const applied = await http(
      'POST',
      '/api/v1/mod/apply',
      { selection: { since: t, user: vandal.userId }, idempotencyKey: 'user-only-01' },
      moderator.cookie,
    );
    expect(applied.json['applied']).toBe(2);
    expect(await lastSeq()).toBe(seq + 2);
  });

  it('bans, shadow-bans and unbans, once per key, and audits each', async () => {
    const bans = createDurableBanStore(redis, names.redisPrefix, createPgBanRecords(pool, names.pgSchema));
    const ban = { user: 'vandalvic', mode: 'ban', idempotencyKey: 'ban-vandal-01' };
    const [x, y] = await Promise.all([
      http('POST', '/api/v1/mod/ban', ban, moderator.cookie),
      http('POST', '/api/v1/mod/ban', ban, moderator.cookie),
    ]);
    expect([x.status, y.status]).toEqual([200, 200]);
    expect([x.json['repeated'], y.json['repeated']].sort()).toEqual([false, true]);
    expect(await bans.get(vandal.userId)).toBe('ban');
    expect(
      (
        await http(
          'POST',
          '/api/v1/mod/ban',
          { user: 'vandalvic', mode: 'shadow', idempotencyKey: 'shadow-vandal-01' },
          moderator.cookie,
        )
      ).status,
    ).toBe(200);
    expect(await bans.get(vandal.userId)).toBe('shadow');
    expect(
      (
        await http(
          'POST',
          '/api/v1/mod/unban',
          { user: vandal.userId, idempotencyKey: 'unban-vandal-01' },
          moderator.cookie,
        )
      ).json['lifted'],
    ).toBe(true);
    expect(await bans.get(vandal.userId)).toBeNull();
    expect(
      (
        await http(
          'POST',
          '/api/v1/mod/ban',
          { user: 'nobody-here', mode: 'ban', idempotencyKey: 'ban-nobody-01' },
          moderator.cookie,
        )
      ).status,
    ).toBe(404);
    const entries = (await http('GET', '/api/v1/mod/audit?limit=10', undefined, moderator.cookie)).json[
      'entries'
    ] as Record<string, unknown>[];
    const actions = entries
      .filter((e) => e['kind'] === 'action')
      .map((e) => [e['action'], e['target'], e['moderator']]);
    expect(actions.slice(0, 3)).toEqual([
      ['unban', 'vandalvic', 'modalice'],
      ['shadow', 'vandalvic', 'modalice'],
      ['ban', 'vandalvic', 'modalice'],
    ]);
  });

  it('a revoked moderator is refused on the very next request', async () => {
    expect((await http('GET', '/api/v1/mod/me', undefined, moderator.cookie)).status).toBe(200);
    expect(await roles().revoke(moderator.userId)).toBe(true);
    for (const [method, path, body] of routes)
      expect((await http(method, path, body, moderator.cookie)).status).toBe(403);
    expect(await roles().grant(moderator.userId, 'm_test')).toBe(true);
    expect((await http('GET', '/api/v1/mod/me', undefined, moderator.cookie)).status).toBe(200);
  });
});
