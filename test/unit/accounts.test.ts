/**
 * The accounts use case on the in-memory fakes (users, sessions, rate limits, challenges, revocations) and
 * a manual clock: registration, login, the per-account throttle that asks for a challenge, no session
 * fixation, logout revoking sockets. test/integration/auth-routes.test.ts keeps it on Redis and Postgres.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { createAccounts, type Accounts, type AuthSettings } from '../../src/app/auth/accounts.ts';
import { createLoginChallenges } from '../../src/app/auth/login-challenge.ts';
import { sessionKey } from '../../src/app/auth/sessions.ts';
import { FAST_SCRYPT } from '../helpers/auth-fixture.ts';
import { createFakeChallengeStore } from '../kit/fakes/challenge-store.ts';
import { createManualClock, type ManualClock } from '../kit/fakes/clock.ts';
import { createFakeRateLimiter } from '../kit/fakes/rate-limiter.ts';
import { createFakeRevocations } from '../kit/fakes/revocations.ts';
import { createFakeSessionStore } from '../kit/fakes/session-store.ts';
import { createFakeUserStore } from '../kit/fakes/user-store.ts';

const settings: AuthSettings = {
  sessionTtlSeconds: 3600,
  loginPerAccount: { limit: 3, windowMs: 15 * 60_000 },
  loginPerAccountPerIp: { limit: 10, windowMs: 15 * 60_000 },
  loginPerIp: { limit: 100, windowMs: 15 * 60_000 },
  registerPerIp: { limit: 2, windowMs: 60 * 60_000 },
  scryptCost: FAST_SCRYPT,
};

let clock: ManualClock;
let revocations: ReturnType<typeof createFakeRevocations>;
let accounts: Accounts;
const alice = { username: 'Alice', password: 'correct horse' };

beforeEach(() => {
  clock = createManualClock();
  revocations = createFakeRevocations();
  const limits = createFakeRateLimiter(clock);
  accounts = createAccounts({
    users: createFakeUserStore(),
    sessions: createFakeSessionStore(clock),
    limits,
    revocations,
    clock,
    settings,
    loginChallenges: createLoginChallenges({
      store: createFakeChallengeStore(clock),
      limits,
      difficulty: 1,
      perIp: { limit: 10, windowMs: 60_000 },
    }),
  });
});

describe('accounts (fakes)', () => {
  it('registers, signs in with a session that reads back, and refuses the same name in another case', async () => {
    const registered = await accounts.register(alice, '10.0.0.1');
    expect(registered).toMatchObject({
      ok: true,
      session: { username: 'Alice', accountCreatedAt: clock.now(), createdAt: clock.now() },
    });
    if (!registered.ok) return;
    expect(await accounts.session(registered.sessionId)).toEqual(registered.session);
    expect(await accounts.register({ ...alice, username: 'alice' }, '10.0.0.2')).toMatchObject({
      ok: false,
      code: 'username_taken',
    });
  });

  it('refuses bad credentials shapes and throttles registrations per address', async () => {
    expect(await accounts.register({ username: 'a', password: 'x' }, '10.0.0.1')).toMatchObject({
      ok: false,
      code: 'bad_request',
    });
    await accounts.register({ username: 'one', password: 'password1' }, '10.0.0.9');
    await accounts.register({ username: 'two', password: 'password2' }, '10.0.0.9');
    expect(await accounts.register({ username: 'three', password: 'password3' }, '10.0.0.9')).toMatchObject({
      ok: false,
      code: 'rate_limited',
      retryAfterSeconds: 1800,
    });
  });

  it('logs in case-insensitively; a wrong password is invalid_credentials like an unknown user', async () => {
    await accounts.register(alice, '10.0.0.1');
    expect(await accounts.login({ username: 'ALICE', password: alice.password }, '10.0.0.1')).toMatchObject({
      ok: true,
      session: { username: 'Alice' },
    });
    expect(await accounts.login({ username: 'Alice', password: 'wrong password' }, '10.0.0.1')).toMatchObject({
      ok: false,
      code: 'invalid_credentials',
    });
    expect(await accounts.login({ username: 'nobody', password: 'whatever1' }, '10.0.0.1')).toMatchObject({
      ok: false,
      code: 'invalid_credentials',
    });
  });

  it('past the per-account budget a login needs a challenge; the budget refills with time', async () => {
    await accounts.register(alice, '10.0.0.1');
    for (let i = 0; i < 3; i++) await accounts.login({ username: 'Alice', password: 'wrong password' }, `10.0.1.${i}`);
    expect(await accounts.login(alice, '10.0.2.1')).toMatchObject({ ok: false, code: 'challenge_required' });
    clock.advance(5 * 60_000); // one interval of a 3-per-15-minutes budget
    expect(await accounts.login(alice, '10.0.2.1')).toMatchObject({ ok: true });
  });

  it('a login never reuses the session the client presented, and logout revokes its sockets', async () => {
    const first = await accounts.register(alice, '10.0.0.1');
    if (!first.ok) throw new Error('registration failed');
    const second = await accounts.login(alice, '10.0.0.1', first.sessionId);
    if (!second.ok) throw new Error('login failed');
    expect(second.sessionId).not.toBe(first.sessionId);
    expect(await accounts.session(first.sessionId)).toBeNull();
    await accounts.logout(second.sessionId);
    expect(await accounts.session(second.sessionId)).toBeNull();
    expect(revocations.sent).toEqual([
      { session: sessionKey(first.sessionId) },
      { session: sessionKey(second.sessionId) },
    ]);
  });

  it('a session ends with its TTL', async () => {
    const registered = await accounts.register(alice, '10.0.0.1');
    if (!registered.ok) throw new Error('registration failed');
    clock.advance(3600_000);
    expect(await accounts.session(registered.sessionId)).toBeNull();
  });
});
