/**
 * Issue 13: `nextPlacement` must never be earlier than the cooldown's real end. The command reads its clock
 * before the cooldown is taken; the TTL starts in Redis later (the acquisition waits for the next event-loop
 * turn's batch, then the round trip, longer under load). Counted from the early clock reading, a client
 * placing exactly at `nextPlacement` got `cooldown`. Here the delay before Redis is made explicit (a store
 * that holds the first acquisition for a while, as a loaded event loop does) and the client places at
 * exactly the moment it was told: against the real NATS and Redis, every one must be accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPlacePixel } from '../../src/app/place-pixel.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import type { CooldownStore } from '../../src/ports/cooldown.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { applyStreams } from '../../streams/apply.ts';
import { testNames } from '../helpers/isolation.ts';
import { openCommandPath, type CommandPath } from '../helpers/command-path.ts';

const names = testNames('nextplace');
let fx: CommandPath;

beforeAll(async () => {
  fx = await openCommandPath(names, 'test next-placement', (_jsm, conn) => applyStreams(conn, names));
});
afterAll(async () => fx?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The real store, with `delayMs(call)` of waiting before each acquisition reaches it. */
function delayedStore(inner: CooldownStore, delayMs: (call: number) => number): CooldownStore {
  let calls = 0;
  return {
    async tryAcquire(...args) {
      await sleep(delayMs(calls++));
      return inner.tryAcquire(...args);
    },
    recordOutcome: (...args) => inner.recordOutcome(...args),
    release: (...args) => inner.release(...args),
    remainingMs: (userId) => inner.remainingMs(userId),
    remainingMsMany: (userIds) => inner.remainingMsMany(userIds),
  };
}

/** Waits until the wall clock reads at least `at` (ms since the epoch). */
async function until(at: number): Promise<void> {
  while (Date.now() < at) await sleep(Math.max(0, at - Date.now()));
}

describe('nextPlacement', () => {
  it('placing exactly at nextPlacement is accepted even when the cooldown started late in Redis', async () => {
    const cooldowns = delayedStore(fx.cooldowns, (call) => (call % 2 === 0 ? 40 : 0));
    const place = createPlacePixel({
      spec: { width: 100, height: 100, palette: PALETTE_32 },
      cooldownSeconds: 1,
      cooldowns,
      log: fx.log,
      clock: systemClock,
    });
    const refusals: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async (_, u) => {
        const userId = `np_${u}_${Math.random().toString(36).slice(2, 8)}`;
        // Each user: a slow acquisition, then the next placement exactly when told (whose acquisition is fast).
        for (let round = 0; round < 2; round++) {
          const first = await place({ userId, requestId: `r${round}a`, x: u, y: round, color: 1 });
          if (!first.ok) throw new Error(`the first placement of ${userId} was refused: ${first.code}`);
          await until(first.nextPlacement);
          const second = await place({ userId, requestId: `r${round}b`, x: u, y: round, color: 2 });
          if (second.ok) await until(second.nextPlacement);
          else {
            refusals.push(`${userId} round ${round}: ${second.code} ${second.message}`);
            await sleep(1_100); // let the real cooldown end before the next round
          }
        }
      }),
    );
    expect(refusals).toEqual([]);
  }, 20_000);

  it('a retry answered from the cooldown reports when that cooldown really ends', async () => {
    const place = createPlacePixel({
      spec: { width: 100, height: 100, palette: PALETTE_32 },
      cooldownSeconds: 1,
      cooldowns: fx.cooldowns,
      log: fx.log,
      clock: systemClock,
    });
    const userId = `np_retry_${Math.random().toString(36).slice(2, 8)}`;
    const first = await place({ userId, requestId: 'same', x: 5, y: 5, color: 3 });
    expect(first.ok).toBe(true);
    await sleep(100); // the outcome record lands
    const retry = await place({ userId, requestId: 'same', x: 5, y: 5, color: 3 });
    expect(retry).toMatchObject({ ok: true, duplicate: true });
    if (!retry.ok || !first.ok) return;
    expect(retry.seq).toBe(first.seq);
    await until(retry.nextPlacement);
    const next = await place({ userId, requestId: 'next', x: 5, y: 5, color: 4 });
    expect(next.ok).toBe(true);
  }, 10_000);
});
