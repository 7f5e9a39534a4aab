/**
 * The placement command on the in-memory fakes (test/kit/fakes/): validate → cooldown → append → record →
 * answer, the refund when the append fails, and the retry rules, with no service and a manual clock. The
 * same command against NATS and Redis stays in test/integration/place-pixel.test.ts.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { EventKind } from '../../proto/event-codec.ts';
import { LogUnavailable } from '../../src/ports/errors.ts';
import { createPlacePixel, retryWindowFor, type PlacePixel } from '../../src/app/place-pixel.ts';
import type { CanvasSpec } from '../../src/domain/canvas.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import { createManualClock, type ManualClock } from '../kit/fakes/clock.ts';
import { createFakeCooldownStore, type FakeCooldownStore } from '../kit/fakes/cooldown-store.ts';
import { createFakeEventLog } from '../kit/fakes/event-log.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';

const spec: CanvasSpec = { width: 100, height: 50, palette: PALETTE_32 };
const COOLDOWN_SECONDS = 60;
const RETRY_WINDOW_MS = 120_000;

let clock: ManualClock;
let stream: MemoryStream;
let cooldowns: FakeCooldownStore;
let place: PlacePixel;

beforeEach(() => {
  clock = createManualClock();
  stream = new MemoryStream({ clock });
  cooldowns = createFakeCooldownStore(clock);
  place = createPlacePixel({
    spec,
    cooldownSeconds: COOLDOWN_SECONDS,
    cooldowns,
    log: createFakeEventLog(stream),
    clock,
    retryWindowMs: RETRY_WINDOW_MS,
  });
});

describe('placing a pixel (fakes)', () => {
  it('appends the event under the user-scoped message id and answers its sequence and the next placement time', async () => {
    const outcome = await place({ userId: 'u1', requestId: 'r1', x: 7, y: 8, color: 9 });
    // From the TTL the store reported, +1 ms: Redis keeps a key until its clock is past the expiry.
    expect(outcome).toEqual({
      ok: true,
      seq: 1,
      nextPlacement: clock.now() + COOLDOWN_SECONDS * 1000 + 1,
      duplicate: false,
    });
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]?.event).toEqual({
      kind: EventKind.PixelPlaced,
      x: 7,
      y: 8,
      color: 9,
      userId: 'u1',
      requestId: 'r1',
      placedAt: clock.now(),
    });
    // The sequence is recorded in the cooldown: a retry is answered from it.
    const retry = await cooldowns.tryAcquire('u1', 'r1', clock.now(), COOLDOWN_SECONDS, { x: 7, y: 8, color: 9 });
    expect(retry).toMatchObject({ acquired: false, holderSeq: 1 });
  });

  it.each([
    [{ x: 100, y: 0, color: 0 }, 'invalid_coordinates'],
    [{ x: 0, y: -1, color: 0 }, 'invalid_coordinates'],
    [{ x: 1.5, y: 0, color: 0 }, 'invalid_coordinates'],
    [{ x: 0, y: 0, color: 32 }, 'invalid_color'],
  ])('refuses %o with %s before taking any cooldown', async (pixel, code) => {
    expect(await place({ userId: 'u1', requestId: 'r1', ...pixel })).toMatchObject({ ok: false, code });
    expect(cooldowns.calls.tryAcquire).toBe(0);
    expect(stream.appendCalls).toBe(0);
  });

  it.each([
    ['an empty user id', { userId: '', requestId: 'r' }],
    ['a request id over 64 UTF-8 bytes', { userId: 'u', requestId: 'é'.repeat(33) }],
  ])('refuses %s as bad_request before any state changes', async (_label, ids) => {
    expect(await place({ ...ids, x: 0, y: 0, color: 0 })).toMatchObject({ ok: false, code: 'bad_request' });
    expect(cooldowns.calls.tryAcquire).toBe(0);
  });

  it('a second placement inside the cooldown is refused with the seconds left, and nothing is appended', async () => {
    await place({ userId: 'u1', requestId: 'r1', x: 1, y: 1, color: 1 });
    clock.advance(20_500);
    expect(await place({ userId: 'u1', requestId: 'r2', x: 2, y: 2, color: 2 })).toEqual({
      ok: false,
      code: 'cooldown',
      message: 'you can place again in 40 s',
      remainingSeconds: 40,
    });
    expect(stream.events).toHaveLength(1);
    clock.advance(40_000);
    expect(await place({ userId: 'u1', requestId: 'r3', x: 2, y: 2, color: 2 })).toMatchObject({ ok: true, seq: 2 });
  });

  it('a failed append refunds the cooldown and answers unavailable; the user places at once afterwards', async () => {
    stream.failAppends(new LogUnavailable('NATS is down'));
    expect(await place({ userId: 'u1', requestId: 'r1', x: 1, y: 1, color: 1 })).toMatchObject({
      ok: false,
      code: 'unavailable',
    });
    expect(cooldowns.calls.release).toBe(1);
    expect(await cooldowns.remainingMs('u1')).toBe(0);
    stream.failAppends(null);
    expect(await place({ userId: 'u1', requestId: 'r2', x: 1, y: 1, color: 1 })).toMatchObject({ ok: true, seq: 1 });
  });

  it('an unexpected append failure still refunds, then rethrows (a bug never leaves a cooldown without its event)', async () => {
    stream.failAppends(new TypeError('a bug below'));
    await expect(place({ userId: 'u1', requestId: 'r1', x: 1, y: 1, color: 1 })).rejects.toBeInstanceOf(TypeError);
    expect(await cooldowns.remainingMs('u1')).toBe(0);
  });

  it('a failed refund is not an error: the cooldown simply runs out', async () => {
    stream.failAppends(new LogUnavailable('NATS is down'));
    const releasing = cooldowns.release.bind(cooldowns);
    cooldowns.release = async (u, r) => {
      cooldowns.unavailable = true;
      try {
        await releasing(u, r);
      } finally {
        cooldowns.unavailable = false;
      }
    };
    expect(await place({ userId: 'u1', requestId: 'r1', x: 1, y: 1, color: 1 })).toMatchObject({
      ok: false,
      code: 'unavailable',
    });
    expect(await cooldowns.remainingMs('u1')).toBe(COOLDOWN_SECONDS * 1000);
  });

  it('the cooldown store down is unavailable, and nothing is appended', async () => {
    cooldowns.unavailable = true;
    expect(await place({ userId: 'u1', requestId: 'r1', x: 1, y: 1, color: 1 })).toMatchObject({
      ok: false,
      code: 'unavailable',
    });
    expect(stream.appendCalls).toBe(0);
  });

  describe('retries of the request that holds the cooldown', () => {
    it('once its sequence is recorded, is answered from the cooldown as a duplicate, with no append, however late', async () => {
      const first = await place({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 3 });
      clock.advance(59_000); // the record decides, not the retry window
      const again = await place({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 3 });
      expect(again).toEqual({ ...first, duplicate: true });
      expect(stream.appendCalls).toBe(1);
    });

    it('while its outcome is unknown, is re-appended with the original time, and the log deduplicates it', async () => {
      // The first attempt took the cooldown but its edge died before the append was recorded.
      const t0 = clock.now();
      await cooldowns.tryAcquire('u1', 'r1', t0, COOLDOWN_SECONDS, { x: 3, y: 3, color: 3 });
      await stream.append(
        { kind: EventKind.PixelPlaced, x: 3, y: 3, color: 3, userId: 'u1', requestId: 'r1', placedAt: t0 },
        'u1/r1',
      );
      clock.advance(10_000);
      expect(await place({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 3 })).toEqual({
        ok: true,
        seq: 1,
        nextPlacement: t0 + COOLDOWN_SECONDS * 1000 + 1,
        duplicate: true,
      });
      expect(stream.events).toHaveLength(1);
    });

    it('another pixel under the same request id is a cooldown refusal', async () => {
      await cooldowns.tryAcquire('u1', 'r1', clock.now(), COOLDOWN_SECONDS, { x: 3, y: 3, color: 3 });
      expect(await place({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 4 })).toMatchObject({
        ok: false,
        code: 'cooldown',
      });
      expect(stream.appendCalls).toBe(0);
    });

    it('later than the retry window, an unknown outcome is a cooldown refusal, never a second append', async () => {
      const long = createPlacePixel({
        spec,
        cooldownSeconds: 600,
        cooldowns,
        log: createFakeEventLog(stream),
        clock,
        retryWindowMs: RETRY_WINDOW_MS,
      });
      await cooldowns.tryAcquire('u1', 'r1', clock.now(), 600, { x: 3, y: 3, color: 3 });
      clock.advance(RETRY_WINDOW_MS + 1);
      expect(await long({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 3 })).toMatchObject({
        ok: false,
        code: 'cooldown',
      });
      expect(stream.appendCalls).toBe(0);
    });

    it('a failed re-append does not refund the cooldown the original attempt holds', async () => {
      await cooldowns.tryAcquire('u1', 'r1', clock.now(), COOLDOWN_SECONDS, { x: 3, y: 3, color: 3 });
      stream.failAppends(new LogUnavailable('NATS is down'));
      expect(await place({ userId: 'u1', requestId: 'r1', x: 3, y: 3, color: 3 })).toMatchObject({
        ok: false,
        code: 'unavailable',
      });
      expect(cooldowns.calls.release).toBe(0);
      expect(await cooldowns.remainingMs('u1')).toBeGreaterThan(0);
    });
  });

  it('two users may use the same request id: the message ids are scoped by user', async () => {
    expect(await place({ userId: 'u1', requestId: 'same', x: 1, y: 1, color: 1 })).toMatchObject({
      ok: true,
      seq: 1,
      duplicate: false,
    });
    expect(await place({ userId: 'u2', requestId: 'same', x: 1, y: 1, color: 1 })).toMatchObject({
      ok: true,
      seq: 2,
      duplicate: false,
    });
  });

  it('refuses a retry window the log cannot honour', () => {
    expect(() => retryWindowFor(60_000)).toThrow(RangeError);
    expect(() =>
      createPlacePixel({
        spec,
        cooldownSeconds: 1,
        cooldowns,
        log: createFakeEventLog(stream),
        clock,
        retryWindowMs: -1,
      }),
    ).toThrow(RangeError);
  });
});
