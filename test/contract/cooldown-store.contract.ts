/**
 * The cooldown contract, run against the in-memory fake (unit) and the Redis store (integration). It pins
 * what place-pixel relies on: `SET NX EX` (one holder per user, atomic under concurrency, gone after the
 * TTL), a refusal that names the holder and the remaining time, an outcome recorded once and only by the
 * holder (keeping the TTL), and a refund that is compare-and-delete.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CooldownResult, CooldownStore } from '../../src/ports/cooldown.ts';

export interface CooldownSubject {
  readonly store: CooldownStore;
  /** Lets `ms` of the store's time pass (the fake moves its clock; Redis really waits). */
  pass(ms: number): Promise<void>;
  /** Waits until fire-and-forget writes (`recordOutcome`) have landed. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const pixel = { x: 3, y: 4, color: 5 };
let n = 0;
const user = () => `user-${++n}-${Math.random().toString(36).slice(2, 8)}`;

function refusal(result: CooldownResult) {
  if (result.acquired) throw new Error('expected a refusal, the cooldown was acquired');
  return result;
}

export function cooldownStoreContract(label: string, open: () => Promise<CooldownSubject>): void {
  describe(`cooldown store contract: ${label}`, () => {
    let s: CooldownSubject;
    beforeEach(async () => {
      s = await open();
    });
    afterEach(async () => s.close());

    it('the first request takes the cooldown; a later one is refused and told who holds it and for how long', async () => {
      const u = user();
      const taken = await s.store.tryAcquire(u, 'req-1', 1_000, 60, pixel);
      expect(taken.acquired).toBe(true);
      // The TTL as the store reports it once taken (place-pixel counts the next placement from it).
      expect(taken.remainingMs).toBeGreaterThan(55_000);
      expect(taken.remainingMs).toBeLessThanOrEqual(60_000);
      const r = refusal(await s.store.tryAcquire(u, 'req-2', 2_000, 60, { x: 0, y: 0, color: 0 }));
      expect(r).toMatchObject({ holderRequestId: 'req-1', holderPlacedAt: 1_000, holderPixel: pixel, holderSeq: null });
      expect(r.remainingMs).toBeGreaterThan(55_000);
      expect(r.remainingMs).toBeLessThanOrEqual(60_000);
      const remaining = await s.store.remainingMs(u);
      expect(remaining).toBeGreaterThan(55_000);
      expect(remaining).toBeLessThanOrEqual(60_000);
    });

    it('users are independent, and a user without a cooldown has 0 ms left', async () => {
      const [a, b] = [user(), user()];
      expect(await s.store.tryAcquire(a, 'r', 1, 60, pixel)).toMatchObject({ acquired: true });
      expect(await s.store.tryAcquire(b, 'r', 1, 60, pixel)).toMatchObject({ acquired: true });
      expect(await s.store.remainingMs(user())).toBe(0);
    });

    it('reads many users at once, in order: held, free, held, none asked', async () => {
      const [a, b, c] = [user(), user(), user()];
      await s.store.tryAcquire(a, 'r', 1, 60, pixel);
      await s.store.tryAcquire(c, 'r', 1, 30, pixel);
      const [ra, rb, rc] = await s.store.remainingMsMany([a, b, c]);
      expect(ra).toBeGreaterThan(55_000);
      expect(ra).toBeLessThanOrEqual(60_000);
      expect(rb).toBe(0);
      expect(rc).toBeGreaterThan(25_000);
      expect(rc).toBeLessThanOrEqual(30_000);
      expect(await s.store.remainingMsMany([])).toEqual([]);
    });

    it('concurrent attempts for one user: exactly one takes it (NX is atomic)', async () => {
      const u = user();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => s.store.tryAcquire(u, `req-${i}`, i, 60, pixel)),
      );
      const winners = results.flatMap((r, i) => (r.acquired ? [`req-${i}`] : []));
      expect(winners).toHaveLength(1);
      for (const r of results) if (!r.acquired) expect(r.holderRequestId).toBe(winners[0]);
    });

    it('the cooldown is gone once its seconds have passed', async () => {
      const u = user();
      expect(await s.store.tryAcquire(u, 'req-1', 1, 1, pixel)).toMatchObject({ acquired: true });
      await s.pass(1_200);
      expect(await s.store.remainingMs(u)).toBe(0);
      expect(await s.store.tryAcquire(u, 'req-2', 2, 1, pixel)).toMatchObject({ acquired: true });
    });

    it("the holder's outcome is recorded once: a later refusal carries its sequence, the TTL is kept", async () => {
      const u = user();
      await s.store.tryAcquire(u, 'req-1', 1_000, 60, pixel);
      s.store.recordOutcome(u, 'someone-else', 99); // not the holder: ignored
      await s.settle();
      expect(refusal(await s.store.tryAcquire(u, 'req-1', 1_500, 60, pixel)).holderSeq).toBeNull();
      s.store.recordOutcome(u, 'req-1', 7);
      s.store.recordOutcome(u, 'req-1', 8); // a second record does not overwrite the first
      await s.settle();
      const r = refusal(await s.store.tryAcquire(u, 'req-1', 2_000, 60, pixel));
      expect(r).toMatchObject({ holderRequestId: 'req-1', holderPlacedAt: 1_000, holderPixel: pixel, holderSeq: 7 });
      expect(r.remainingMs).toBeGreaterThan(55_000);
      expect(r.remainingMs).toBeLessThanOrEqual(60_000);
    });

    it('a refund frees the cooldown only for the request that holds it', async () => {
      const u = user();
      await s.store.tryAcquire(u, 'req-1', 1, 60, pixel);
      await s.store.release(u, 'req-2'); // a late refund of another request: nothing happens
      expect(refusal(await s.store.tryAcquire(u, 'req-3', 2, 60, pixel)).holderRequestId).toBe('req-1');
      await s.store.release(u, 'req-1');
      expect(await s.store.remainingMs(u)).toBe(0);
      expect(await s.store.tryAcquire(u, 'req-3', 3, 60, pixel)).toMatchObject({ acquired: true });
      await s.store.release(user(), 'nobody'); // nothing held: fine
    });

    it('request ids with separators and non-ASCII characters round-trip as the holder', async () => {
      const u = user();
      const id = 'a:b:c::é/日本';
      await s.store.tryAcquire(u, id, 5, 60, pixel);
      expect(refusal(await s.store.tryAcquire(u, 'other', 6, 60, pixel)).holderRequestId).toBe(id);
      await s.store.release(u, id);
      expect(await s.store.remainingMs(u)).toBe(0);
    });
  });
}
