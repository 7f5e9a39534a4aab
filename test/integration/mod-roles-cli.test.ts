/**
 * `rplace mod grant|revoke` as an operator runs them (child processes) against the real Postgres: the role
 * the moderator API checks per request, idempotent, recorded in the moderator action log, refused for a
 * user without an account.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { connectPg, type PgConnection } from '../../src/adapters/pg/connect.ts';
import { migrateToLatest } from '../../src/adapters/pg/migrate.ts';
import { createPgModeratorActions, createPgModeratorRoles } from '../../src/adapters/pg/moderators.ts';
import { createPgUserStore } from '../../src/adapters/pg/user-store.ts';
import { rplaceCli } from '../helpers/cli.ts';
import { dropSchema, testEnv, testNames, TEST_DATABASE_URL } from '../helpers/isolation.ts';

const names = testNames('modroles');
const cli = rplaceCli({ ...process.env, ...testEnv(names, { LOG_LEVEL: 'silent' }) });
let conn: PgConnection;

beforeAll(async () => {
  conn = await connectPg(TEST_DATABASE_URL, names.pgSchema, pino({ level: 'silent' }), { max: 2 });
  await migrateToLatest(conn.pool, names.pgSchema);
  await createPgUserStore(conn.pool, names.pgSchema).create({
    userId: 'u_modcarol',
    username: 'Carol',
    passwordHash: 'x',
    createdAt: Date.now(),
  });
}, 30_000);

afterAll(async () => {
  await conn.pool.end();
  await dropSchema(names);
});

describe('rplace mod grant / revoke', () => {
  it('grants by username, idempotently; revokes; refuses guests and unknown users', async () => {
    const roles = createPgModeratorRoles(conn.pool, names.pgSchema);
    expect(await roles.isModerator('u_modcarol')).toBe(false);
    const grant = await cli(['mod', 'grant', 'carol', '--as', 'm_ops']);
    expect([grant.code, grant.stdout, grant.stderr]).toEqual([0, 'carol (u_modcarol) is a moderator\n', '']);
    expect(await roles.isModerator('u_modcarol')).toBe(true);
    expect((await cli(['mod', 'grant', 'u_modcarol'])).code).toBe(0);
    expect(await roles.isModerator('u_modcarol')).toBe(true);

    const revoke = await cli(['mod', 'revoke', 'Carol', '--as', 'm_ops']);
    expect([revoke.code, revoke.stdout]).toEqual([0, 'Carol (u_modcarol) is no longer a moderator\n']);
    expect(await roles.isModerator('u_modcarol')).toBe(false);
    expect((await cli(['mod', 'revoke', 'Carol'])).stdout).toBe('Carol (u_modcarol) was not a moderator\n');

    const guest = await cli(['mod', 'grant', 'g_0123456789abcdef']);
    expect([guest.code, guest.stderr]).toEqual([
      2,
      'rplace mod grant: no such account: g_0123456789abcdef (guests cannot be moderators)\n',
    ]);
    const actions = await createPgModeratorActions(conn.pool, names.pgSchema).recent(10);
    expect(actions.map((a) => [a.action, a.moderatorId, a.targetId])).toEqual([
      ['revoke', 'm_ops', 'u_modcarol'],
      ['grant', expect.stringMatching(/^m_/), 'u_modcarol'],
      ['grant', 'm_ops', 'u_modcarol'],
    ]);
  }, 120_000);
});
