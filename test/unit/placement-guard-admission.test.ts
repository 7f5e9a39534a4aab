/**
 * The placement guard answers the same with and without a `PlacementAdmission` (issue 13: one call for the checks
 * and the cooldowns). The same script of attempts runs through two guards on twin fakes, one port by port and one
 * over the composed admission; every answer, and what each left in its log, must match.
 */
import { describe, expect, it } from 'vitest';
import { createPlacementGuard, type GuardedOutcome } from '../../src/app/auth/placement-guard.ts';
import type { AccountIdentity } from '../../src/app/auth/identity.ts';
import { accountAgeRiskRule, noChallengeGate } from '../../src/app/auth/risk.ts';
import { sessionKey } from '../../src/app/auth/sessions.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { createComposedAdmission } from '../kit/fakes/admission.ts';
import { createFakeBanStore } from '../kit/fakes/ban-store.ts';
import { createManualClock } from '../kit/fakes/clock.ts';
import { createFakeCooldownStore } from '../kit/fakes/cooldown-store.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeRateLimiter } from '../kit/fakes/rate-limiter.ts';
import { createFakeSessionStore } from '../kit/fakes/session-store.ts';

function world(withAdmission: boolean) {
  const clock = createManualClock();
  const stream = new MemoryStream();
  const bans = createFakeBanStore();
  const sessions = createFakeSessionStore(clock);
  const limits = createFakeRateLimiter(clock);
  const cooldowns = createFakeCooldownStore(clock);
  const place = createPlacementGuard({
    place: {
      spec: { width: 20, height: 20, palette: PALETTE_32 },
      cooldownSeconds: 5,
      cooldowns,
      log: createFakeEventLog(stream),
      clock,
    },
    bans,
    sessions,
    limits,
    allowGuestPlacement: true,
    guestCooldownPerIp: true,
    perIp: { limit: 6, windowMs: 60_000 },
    perUser: { limit: 3, windowMs: 60_000 },
    risk: accountAgeRiskRule(3_600_000),
    challenge: noChallengeGate,
    currentSeq: () => 0,
    ...(withAdmission ? { admission: createComposedAdmission({ bans, sessions, limits, cooldowns }) } : {}),
  });
  return { clock, stream, bans, sessions, cooldowns, place };
}

const guest = (userId: string): AccountIdentity => ({
  userId,
  isGuest: true,
  username: null,
  sessionKey: null,
  accountCreatedAt: null,
});

/** Runs the same attempts against a world and returns every answer (the seq of a success left out: both logs start at 1). */
async function script(w: ReturnType<typeof world>): Promise<GuardedOutcome[]> {
  const answers: GuardedOutcome[] = [];
  const at = async (identity: AccountIdentity, ip: string, requestId: string, x = 1, color = 2) =>
    answers.push(await w.place(identity, ip, { requestId, x, y: 1, color }));
  await w.sessions.create('sid-old', { userId: 'old', username: 'old', accountCreatedAt: 0, createdAt: 0 }, 3_600);
  const old: AccountIdentity = {
    userId: 'old',
    isGuest: false,
    username: 'old',
    sessionKey: sessionKey('sid-old'),
    accountCreatedAt: w.clock.now() - 7_200_000,
  };
  const fresh: AccountIdentity = { ...old, userId: 'fresh', sessionKey: null, accountCreatedAt: w.clock.now() };
  await at(old, 'ip-a', 'r1'); // placed
  await at(old, 'ip-a', 'r1'); // a retry: answered from the cooldown
  await at(old, 'ip-a', 'r2'); // cooldown
  await at(old, 'ip-a', 'r1', 3); // same id, other pixel: cooldown
  await at(old, 'ip-a', 'r3', 99); // out of bounds
  await at(guest('g1'), 'ip-b', 'q1'); // placed, the address taken
  await at(guest('g2'), 'ip-b', 'q1'); // the address is held
  await w.bans.set('bad', 'ban');
  await at({ ...old, userId: 'bad', sessionKey: null }, 'ip-c', 'b1');
  await w.bans.set('shady', 'shadow');
  await at({ ...old, userId: 'shady', sessionKey: null }, 'ip-c', 's1');
  await at({ ...old, sessionKey: sessionKey('no-such-session') }, 'ip-c', 'd1');
  for (let i = 0; i < 5; i++) await at(fresh, 'ip-d', `f${i}`); // the budget runs out: challenge
  w.clock.advance(6_000);
  await at(old, 'ip-a', 'r4'); // placed again after the cooldown
  for (let i = 0; i < 4; i++) await at(guest(`h${i}`), 'ip-a', `h${i}`); // the address cap runs out
  return answers.map((a) => (a.ok ? { ...a, seq: 0 } : a));
}

describe('placement guard with a PlacementAdmission', () => {
  it('answers every attempt as the port-by-port guard does, and appends the same events', async () => {
    const plain = world(false);
    const admitted = world(true);
    const expected = await script(plain);
    const got = await script(admitted);
    expect(got).toEqual(expected);
    // The script reaches every branch of the guard, so the comparison covers them all.
    const codes = new Set(
      expected.map((a) => (a.ok ? (a.shadow ? 'shadow' : a.duplicate ? 'duplicate' : 'ok') : a.code)),
    );
    for (const code of [
      'ok',
      'duplicate',
      'shadow',
      'cooldown',
      'invalid_coordinates',
      'banned',
      'unauthorized',
      'challenge_required',
      'rate_limited',
    ])
      expect(codes, code).toContain(code);
    // storedAt is the stream's wall clock: the events and their order are what must match.
    const logged = (w: ReturnType<typeof world>) => w.stream.events.map((e) => ({ seq: e.seq, event: e.event }));
    expect(logged(admitted)).toEqual(logged(plain));
    // The address refunds (a guest whose placement failed) happened alike.
    expect(admitted.cooldowns.calls.release).toBe(plain.cooldowns.calls.release);
  });
});
