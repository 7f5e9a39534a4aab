/**
 * `CooldownStore` in memory, on a `Clock`: the Redis store's `SET NX EX` semantics (cooldown-store.ts)
 * without Redis. One holder per user until `seconds` have passed; a refusal names the holder (request id,
 * time, pixel, sequence once recorded) and the remaining time; `recordOutcome` writes the sequence only
 * for the holding request and only once; `release` is compare-and-delete.
 * Fault injection: `unavailable = true` makes every awaited call reject with `StoreUnavailable` (and
 * `recordOutcome` drop its record), as a Redis outage does.
 */
import { StoreUnavailable } from '../../../src/ports/errors.ts';
import type { Clock } from '../../../src/ports/clock.ts';
import type { CooldownResult, CooldownStore, PixelRef } from '../../../src/ports/cooldown.ts';

interface Held {
  readonly requestId: string;
  readonly placedAt: number;
  readonly pixel: PixelRef;
  readonly expiresAt: number;
  seq: number | null;
}

export interface FakeCooldownStore extends CooldownStore {
  unavailable: boolean;
  /** Calls per method, so a test can say "no second acquisition" or "refunded once". */
  readonly calls: { tryAcquire: number; recordOutcome: number; release: number };
}

export function createFakeCooldownStore(clock: Clock = { now: () => Date.now() }): FakeCooldownStore {
  const held = new Map<string, Held>();
  const live = (userId: string): Held | undefined => {
    const h = held.get(userId);
    if (h && h.expiresAt <= clock.now()) {
      held.delete(userId);
      return undefined;
    }
    return h;
  };
  const down = (what: string) => new StoreUnavailable(`fake cooldown store is unavailable (${what})`);
  const store: FakeCooldownStore = {
    unavailable: false,
    calls: { tryAcquire: 0, recordOutcome: 0, release: 0 },
    async tryAcquire(userId, requestId, placedAt, seconds, pixel): Promise<CooldownResult> {
      store.calls.tryAcquire++;
      if (store.unavailable) throw down('take a cooldown');
      // Redis refuses `EX` with a non-positive or non-integer number of seconds.
      if (!Number.isInteger(seconds) || seconds <= 0) throw new StoreUnavailable(`invalid expire time ${seconds}`);
      const h = live(userId);
      if (h === undefined) {
        held.set(userId, {
          requestId,
          placedAt,
          pixel: { x: pixel.x, y: pixel.y, color: pixel.color },
          expiresAt: clock.now() + seconds * 1000,
          seq: null,
        });
        return { acquired: true, remainingMs: seconds * 1000 }; // the TTL as the store holds it once taken
      }
      return {
        acquired: false,
        remainingMs: Math.max(0, h.expiresAt - clock.now()),
        holderRequestId: h.requestId,
        holderPlacedAt: h.placedAt,
        holderPixel: h.pixel,
        holderSeq: h.seq,
      };
    },
    recordOutcome(userId, requestId, seq) {
      store.calls.recordOutcome++;
      if (store.unavailable) return;
      const h = live(userId);
      if (h && h.requestId === requestId && h.seq === null) h.seq = seq;
    },
    async release(userId, requestId) {
      store.calls.release++;
      if (store.unavailable) throw down('release a cooldown');
      if (live(userId)?.requestId === requestId) held.delete(userId);
    },
    async remainingMs(userId) {
      return (await store.remainingMsMany([userId]))[0] ?? 0;
    },
    async remainingMsMany(userIds) {
      if (store.unavailable) throw down('read cooldowns');
      return userIds.map((userId) => {
        const h = live(userId);
        return h ? Math.max(0, h.expiresAt - clock.now()) : 0;
      });
    },
  };
  return store;
}
