/**
 * `GET /api/v1/history/user` through a real edge (in-process, uWS) on the shared NATS, Redis and Postgres: a
 * player (account or guest cookie) pages through their own placements, newest first; naming another user is
 * 403 for players and guests and allowed for a moderator (the Postgres role store, read per request, so a
 * revoke is at once); a forged cookie is a new guest with nothing placed; bad queries are 400. The placements
 * are the history's `events` rows, written through the history store as the projector writes them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { EventKind } from '../../proto/event-codec.ts';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { createPgHistoryStore } from '../../src/adapters/pg/history-store.ts';
import { createPgModeratorRoles } from '../../src/adapters/pg/moderators.ts';
import type { HistoryRow } from '../../src/ports/history.ts';
import { startInProcessEdge } from '../helpers/in-process-edge.ts';
import { cleanupCanvas, testNames, TEST_DATABASE_URL } from '../helpers/isolation.ts';

const names = testNames('userhist');
const SECRET = 'user-history-test-secret-0123456789abc';
let host = '';
let stop: () => Promise<void>;
let pg: PgConnection;

async function get(
  path: string,
  cookie?: string,
): Promise<{ status: number; json: Record<string, unknown>; setCookie: string }> {
  const res = await fetch(`http://${host}${path}`, { headers: cookie ? { cookie } : {} });
  return {
    status: res.status,
    json: (await res.json()) as Record<string, unknown>,
    setCookie: res.headers.get('set-cookie') ?? '',
  };
}

async function register(username: string): Promise<{ cookie: string; userId: string }> {
  const res = await fetch(`http://${host}/api/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-rplace-csrf': '1' },
    body: JSON.stringify({ username, password: 'password-123' }),
  });
  expect(res.status).toBe(201);
  const sid = /rplace_session=([^;]*)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
  return { cookie: `rplace_session=${sid}`, userId: String(((await res.json()) as { userId: string }).userId) };
}

let moderator: { cookie: string; userId: string };
let player: { cookie: string; userId: string };
let other: { cookie: string; userId: string };
let guest: { cookie: string; userId: string };
/** Every stored placement, in sequence order. */
const stored: { seq: number; userId: string; x: number; y: number; color: number; placedAt: number }[] = [];
const roles = () => createPgModeratorRoles(pg.pool, names.pgSchema);
type Page = {
  userId: string;
  username: string | null;
  placements: { seq: number; x: number; y: number }[];
  nextCursor: string | null;
};

beforeAll(async () => {
  ({ stop, host } = await startInProcessEdge(names, {
    SESSION_SECRET: SECRET,
    CANVAS_WIDTH: '64',
    CANVAS_HEIGHT: '48',
    REGISTRATIONS_PER_IP_PER_HOUR: '100',
  }));
  moderator = await register('histmod');
  player = await register('histbob');
  other = await register('histann');
  const me = await get('/api/v1/auth/me');
  guest = { cookie: me.setCookie.split(';')[0]!, userId: String(me.json['userId']) };
  expect(guest.userId).toMatch(/^g_/);
  pg = await connectPg(TEST_DATABASE_URL, names.pgSchema, pino({ level: 'silent' }));
  expect(await roles().grant(moderator.userId, 'm_test')).toBe(true);
  const users = [player.userId, other.userId, guest.userId];
  const rows: HistoryRow[] = [];
  const t0 = Date.now() - 60_000;
  for (let seq = 1; seq <= 75; seq++) {
    const userId = users[seq % 3]!;
    const p = { seq, userId, x: seq % 64, y: seq % 48, color: seq % 32, placedAt: t0 + seq };
    stored.push(p);
    rows.push({
      seq,
      storedAt: p.placedAt,
      event: {
        kind: EventKind.PixelPlaced,
        x: p.x,
        y: p.y,
        color: p.color,
        userId,
        requestId: `r${seq}`,
        placedAt: p.placedAt,
      },
    });
  }
  await createPgHistoryStore(pg, pino({ level: 'silent' })).commit({
    projection: 'user-history-test',
    expectedSeq: 0,
    newSeq: 75,
    rows,
    snapshots: [],
  });
}, 60_000);

afterAll(async () => {
  await stop?.();
  await pg?.close();
  await cleanupCanvas(names);
}, 30_000);

const seqsOf = (userId: string) =>
  stored
    .filter((p) => p.userId === userId)
    .map((p) => p.seq)
    .reverse();

describe('GET /api/v1/history/user', () => {
  it("pages a signed-in player's own placements, newest first", async () => {
    const first = await get('/api/v1/history/user?limit=10', player.cookie);
    expect(first.status).toBe(200);
    const page1 = first.json as unknown as Page;
    expect(page1.userId).toBe(player.userId);
    expect(page1.username).toBe('histbob');
    expect(page1.placements.map((p) => p.seq)).toEqual(seqsOf(player.userId).slice(0, 10));
    const one = stored.find((p) => p.seq === page1.placements[0]!.seq)!;
    expect(page1.placements[0]).toEqual({
      seq: one.seq,
      x: one.x,
      y: one.y,
      color: one.color,
      placedAt: new Date(one.placedAt).toISOString(),
      kind: 'placed',
    });
    const second = (await get(`/api/v1/history/user?limit=100&cursor=${page1.nextCursor}`, player.cookie))
      .json as unknown as Page;
    expect(second.placements.map((p) => p.seq)).toEqual(seqsOf(player.userId).slice(10));
    expect(second.nextCursor).toBeNull();
    // Naming oneself is the same as not naming anyone.
    const named = (await get('/api/v1/history/user?user=histbob&limit=100', player.cookie)).json as unknown as Page;
    expect(named.placements.map((p) => p.seq)).toEqual(seqsOf(player.userId));
  });

  it('serves a guest their own by the guest cookie, and a forged or missing cookie nothing of anyone', async () => {
    const mine = (await get('/api/v1/history/user?limit=100', guest.cookie)).json as unknown as Page;
    expect(mine.userId).toBe(guest.userId);
    expect(mine.placements.map((p) => p.seq)).toEqual(seqsOf(guest.userId));
    for (const cookie of [
      undefined,
      `rplace_guest=${guest.userId}.forged`,
      `rplace_session=${'x'.repeat(43)}.${'y'.repeat(43)}`,
    ]) {
      const r = await get('/api/v1/history/user', cookie);
      expect(r.status, String(cookie)).toBe(200);
      expect((r.json as unknown as Page).userId).not.toBe(guest.userId);
      expect((r.json as unknown as Page).placements).toEqual([]);
    }
  });

  it("refuses another user's placements to players and guests (403), and serves them to a moderator until revoked", async () => {
    for (const cookie of [player.cookie, guest.cookie, undefined])
      for (const user of ['histann', other.userId, 'nobody-at-all'])
        expect((await get(`/api/v1/history/user?user=${user}`, cookie)).status, `${cookie} ${user}`).toBe(403);
    const byName = await get('/api/v1/history/user?user=histann&limit=100', moderator.cookie);
    expect(byName.status).toBe(200);
    expect((byName.json as unknown as Page).placements.map((p) => p.seq)).toEqual(seqsOf(other.userId));
    const guestById = await get(`/api/v1/history/user?user=${guest.userId}&limit=100`, moderator.cookie);
    expect((guestById.json as unknown as Page).placements.map((p) => p.seq)).toEqual(seqsOf(guest.userId));
    expect((await get('/api/v1/history/user?user=nobody-at-all', moderator.cookie)).status).toBe(404);
    expect(await roles().revoke(moderator.userId)).toBe(true);
    expect((await get('/api/v1/history/user?user=histann', moderator.cookie)).status).toBe(403);
  });

  it('answers bad queries with 400 and a code', async () => {
    for (const q of [
      'limit=0',
      'limit=101',
      'limit=abc',
      'cursor=-1',
      'cursor=x',
      'extra=1',
      `user=${'a'.repeat(65)}`,
    ]) {
      const r = await get(`/api/v1/history/user?${q}`, player.cookie);
      expect(r.status, q).toBe(400);
      expect(r.json['code'], q).toBe('bad_request');
    }
  });
});
