/**
 * The placement command against the real NATS JetStream and Redis: validate → cooldown (Lua SET NX EX)
 * → pipelined append with Nats-Msg-Id → answer. One canvas id for the file; the fault test runs its own
 * private nats-server and kills that one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { decodeEvent, EventKind } from '../../proto/event-codec.ts';
import { connectNats } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { connectRedis } from '../../src/adapters/redis/connect.ts';
import { createRedisCooldownStore } from '../../src/adapters/redis/cooldown-store.ts';
import { startLocalNats, startLocalRedis, type LocalService } from '../../src/adapters/services/local.ts';
import { createPlacePixel, type PlacePixel, type PlaceRequest } from '../../src/app/place-pixel.ts';
import { LogUnavailable, ServiceUnreachable } from '../../src/ports/errors.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import type { CooldownStore } from '../../src/ports/cooldown.ts';
import { PALETTE_32 } from '../../src/domain/palette.ts';
import type { CanvasSpec } from '../../src/domain/canvas.ts';
import { applyStreams } from '../../streams/apply.ts';
import { deleteRedisKeys, testNames } from '../helpers/isolation.ts';
import { openCommandPath, type CommandPath } from '../helpers/command-path.ts';
import { freePort } from '../kit/free-port.ts';
import { sleep } from '../../src/app/sleep.ts';

const spec: CanvasSpec = { width: 2000, height: 2000, palette: PALETTE_32 };
const COOLDOWN_SECONDS = 300;
const names = testNames('placepixel');

let nc: NatsConnection;
let redis: Redis;
let jsm: JetStreamManager;
let log: ReturnType<typeof createJetStreamEventLog>;
let cooldowns: CooldownStore;
let place: PlacePixel;
let userCounter = 0;
const newUser = () => `u_${++userCounter}_${Math.random().toString(36).slice(2, 8)}`;

let fx: CommandPath;
const lastSeq = () => fx.lastSeq();

beforeAll(async () => {
  fx = await openCommandPath(names, 'test place-pixel', (_jsm, conn) => applyStreams(conn, names));
  ({ nc, redis, jsm, log, cooldowns } = fx);
  place = createPlacePixel({ spec, cooldownSeconds: COOLDOWN_SECONDS, cooldowns, log, clock: systemClock });
});

afterAll(async () => fx?.close());

describe('connecting', () => {
  it('an unreachable Redis is a prompt ServiceUnreachable naming the URL', async () => {
    const started = Date.now();
    const attempt = connectRedis('redis://127.0.0.1:1', 'test unreachable');
    await expect(attempt).rejects.toBeInstanceOf(ServiceUnreachable);
    await expect(attempt).rejects.toThrow(/redis:\/\/127\.0\.0\.1:1.*ECONNREFUSED/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});

describe('placing a pixel', () => {
  it('is acknowledged, and the event is in the stream with the right subject, message id and fields', async () => {
    const userId = newUser();
    const before = Date.now();
    const outcome = await place({ userId, requestId: 'req-1', x: 1234, y: 567, color: 12 });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.duplicate).toBe(false);

    const stored = await jsm.streams.getMessage(names.stream, { seq: outcome.seq });
    expect(stored).not.toBeNull();
    expect(stored!.subject).toBe(names.pixelSubject(1234, 567));
    expect(stored!.subject).toBe(`rplace.${names.canvasId}.px.4.2`);
    expect(stored!.header.get('Nats-Msg-Id')).toBe(`${userId}/req-1`);
    const event = decodeEvent(stored!.data);
    expect(event).toMatchObject({
      kind: EventKind.PixelPlaced,
      x: 1234,
      y: 567,
      color: 12,
      userId,
      requestId: 'req-1',
    });
    expect(event.placedAt).toBeGreaterThanOrEqual(before);
    expect(event.placedAt).toBeLessThanOrEqual(Date.now());
    // From the cooldown's TTL as Redis started it (issue 13): never before placedAt + cooldown, and not
    // later than the answer plus the cooldown.
    expect(outcome.nextPlacement).toBeGreaterThan(event.placedAt + COOLDOWN_SECONDS * 1000);
    expect(outcome.nextPlacement).toBeLessThanOrEqual(Date.now() + COOLDOWN_SECONDS * 1000 + 1);

    // The cooldown is held for about COOLDOWN_SECONDS.
    const remaining = await cooldowns.remainingMs(userId);
    expect(remaining).toBeGreaterThan((COOLDOWN_SECONDS - 5) * 1000);
    expect(remaining).toBeLessThanOrEqual(COOLDOWN_SECONDS * 1000);
  });

  it('a second placement by the same user is a cooldown error with remainingSeconds, and nothing is appended', async () => {
    const userId = newUser();
    expect((await place({ userId, requestId: 'a', x: 1, y: 1, color: 1 })).ok).toBe(true);
    const seqBefore = await lastSeq();
    const outcome = await place({ userId, requestId: 'b', x: 2, y: 2, color: 2 });
    expect(outcome).toMatchObject({ ok: false, code: 'cooldown' });
    if (outcome.ok) return;
    expect(outcome.remainingSeconds).toBeGreaterThanOrEqual(COOLDOWN_SECONDS - 5);
    expect(outcome.remainingSeconds).toBeLessThanOrEqual(COOLDOWN_SECONDS);
    expect(outcome.message).toMatch(/\d+ s/);
    expect(await lastSeq()).toBe(seqBefore);
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['x beyond the width', { x: 2000 }, 'invalid_coordinates'],
    ['negative y', { y: -1 }, 'invalid_coordinates'],
    ['fractional x', { x: 1.5 }, 'invalid_coordinates'],
    ['x as a string', { x: '5' }, 'invalid_coordinates'],
    ['y missing', { y: undefined }, 'invalid_coordinates'],
    ['colour beyond the palette', { color: 32 }, 'invalid_color'],
    ['negative colour', { color: -1 }, 'invalid_color'],
    ['colour as null', { color: null }, 'invalid_color'],
    ['empty request id', { requestId: '' }, 'bad_request'],
    ['request id over 64 bytes', { requestId: 'r'.repeat(65) }, 'bad_request'],
    ['request id not a string', { requestId: 42 }, 'bad_request'],
    ['user id missing', { userId: undefined }, 'bad_request'],
  ];
  it.each(invalid)('%s → %s, no cooldown taken and nothing appended', async (_label, patch, code) => {
    const userId = newUser();
    const request = { userId, requestId: 'req', x: 10, y: 10, color: 3, ...patch } as unknown as PlaceRequest;
    const seqBefore = await lastSeq();
    const outcome = await place(request);
    expect(outcome).toMatchObject({ ok: false, code });
    if (!outcome.ok) {
      expect(outcome.message.length).toBeGreaterThan(5);
      expect(outcome.remainingSeconds).toBeUndefined();
    }
    expect(await lastSeq()).toBe(seqBefore);
    expect(await cooldowns.remainingMs(userId)).toBe(0);
  });

  it('1,000 concurrent placements by one user: exactly 1 success and 999 cooldown errors with remainingSeconds', async () => {
    const userId = newUser();
    const seqBefore = await lastSeq();
    const outcomes = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => place({ userId, requestId: `c${i}`, x: i % 2000, y: 3, color: i % 32 })),
    );
    const successes = outcomes.filter((o) => o.ok);
    const failures = outcomes.filter((o) => !o.ok);
    expect(successes).toHaveLength(1);
    expect(failures).toHaveLength(999);
    for (const f of failures) {
      expect(f).toMatchObject({ ok: false, code: 'cooldown' });
      if (!f.ok) {
        expect(f.remainingSeconds).toBeGreaterThanOrEqual(COOLDOWN_SECONDS - 10);
        expect(f.remainingSeconds).toBeLessThanOrEqual(COOLDOWN_SECONDS);
      }
    }
    expect(await lastSeq()).toBe(seqBefore + 1);
  });

  it('the same request id 10 times (concurrently, then again) → one event and the same answer every time', async () => {
    const userId = newUser();
    const request = { userId, requestId: 'retry-me', x: 300, y: 400, color: 7 };
    const seqBefore = await lastSeq();
    const outcomes = [
      ...(await Promise.all(Array.from({ length: 5 }, () => place(request)))),
      ...(await Promise.all(Array.from({ length: 5 }, () => place(request)))),
    ];
    expect(await lastSeq()).toBe(seqBefore + 1);
    const first = outcomes[0]!;
    expect(first.ok).toBe(true);
    if (!first.ok) return;
    expect(first.seq).toBe(seqBefore + 1);
    for (const o of outcomes) {
      expect(o).toMatchObject({ ok: true, seq: first.seq });
      // Each answer reads the same cooldown's TTL at its own moment: the same end, up to the reading's jitter.
      if (o.ok) expect(Math.abs(o.nextPlacement - first.nextPlacement)).toBeLessThanOrEqual(50);
    }
    expect(outcomes.filter((o) => o.ok && !o.duplicate)).toHaveLength(1);
    const stored = await jsm.streams.getMessage(names.stream, { seq: first.seq });
    expect(decodeEvent(stored!.data)).toMatchObject({ x: 300, y: 400, color: 7, userId, requestId: 'retry-me' });
  });

  it('two users may use the same request id: message ids are scoped by user', async () => {
    const seqBefore = await lastSeq();
    const a = await place({ userId: newUser(), requestId: 'same', x: 5, y: 5, color: 5 });
    const b = await place({ userId: newUser(), requestId: 'same', x: 6, y: 6, color: 6 });
    expect(a.ok && b.ok).toBe(true);
    expect(await lastSeq()).toBe(seqBefore + 2);
  });
});

describe('the cooldown store', () => {
  const PX = { x: 0, y: 0, color: 0 };
  it('a rejected attempt learns the holder (request id, time) and the remaining time', async () => {
    const userId = newUser();
    const taken = await cooldowns.tryAcquire(userId, 'first', 1_700_000_000_000, 60, { x: 1, y: 2, color: 3 });
    expect(taken).toEqual({ acquired: true, remainingMs: expect.any(Number) });
    // The TTL Redis just gave the key (nextPlacement is computed from it, issue 13).
    if (taken.acquired) expect(taken.remainingMs).toBeGreaterThan(59_000);
    if (taken.acquired) expect(taken.remainingMs).toBeLessThanOrEqual(60_000);
    const second = await cooldowns.tryAcquire(userId, 'sec:ond', 1_700_000_000_500, 60, { x: 4, y: 5, color: 6 });
    expect(second).toMatchObject({
      acquired: false,
      holderRequestId: 'first',
      holderPlacedAt: 1_700_000_000_000,
      holderPixel: { x: 1, y: 2, color: 3 },
      holderSeq: null,
    });
    if (!second.acquired) {
      expect(second.remainingMs).toBeGreaterThan(55_000);
      expect(second.remainingMs).toBeLessThanOrEqual(60_000);
    }
  });

  it('release is compare-and-delete: only the holding request frees it (ids may contain ":")', async () => {
    const userId = newUser();
    await cooldowns.tryAcquire(userId, 'a:b', 1, 60, PX);
    await cooldowns.release(userId, 'b');
    await cooldowns.release(userId, 'a');
    expect(await cooldowns.remainingMs(userId)).toBeGreaterThan(0);
    await cooldowns.release(userId, 'a:b');
    expect(await cooldowns.remainingMs(userId)).toBe(0);
    await cooldowns.release(userId, 'a:b'); // releasing a free cooldown is harmless
    expect(await cooldowns.tryAcquire(userId, 'c', 2, 60, PX)).toMatchObject({ acquired: true });
  });

  it('many users in one event-loop turn (batched into script calls of at most 500 keys) each get their own answer', async () => {
    const users = Array.from({ length: 1_200 }, () => newUser());
    const first = await Promise.all(users.map((u, i) => cooldowns.tryAcquire(u, `r${i}`, i, 60, PX)));
    expect(first.every((r) => r.acquired)).toBe(true);
    const again = await Promise.all(users.map((u, i) => cooldowns.tryAcquire(u, `x${i}`, 0, 60, PX)));
    again.forEach((r, i) => expect(r).toMatchObject({ acquired: false, holderRequestId: `r${i}`, holderPlacedAt: i }));
  });
});

describe('the event log adapter', () => {
  it('a missing stream (no responders) is LogUnavailable, promptly', async () => {
    const missing = testNames('nostream');
    const orphanLog = createJetStreamEventLog(nc, missing, { timeoutMs: 5_000 });
    try {
      const started = Date.now();
      const append = orphanLog.append(
        { kind: EventKind.PixelPlaced, x: 0, y: 0, color: 0, userId: 'u', requestId: 'r', placedAt: 0 },
        'u/r',
      );
      await expect(append).rejects.toBeInstanceOf(LogUnavailable);
      await expect(append).rejects.toThrow(/503|no responders/);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      await orphanLog.close();
    }
  });

  it('an append nobody acknowledges times out as LogUnavailable, found by the periodic sweep', async () => {
    const silent = testNames('silent');
    // A core subscriber and no stream: the server has a responder, so no 503 comes back, and no PubAck either.
    const sink = nc.subscribe(silent.subjects);
    const silentLog = createJetStreamEventLog(nc, silent, { timeoutMs: 300 });
    try {
      const started = Date.now();
      const append = silentLog.append(
        { kind: EventKind.PixelPlaced, x: 0, y: 0, color: 0, userId: 'u', requestId: 'r', placedAt: 0 },
        'u/r',
      );
      await expect(append).rejects.toBeInstanceOf(LogUnavailable);
      await expect(append).rejects.toThrow(/not acknowledged within 300 ms/);
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(290);
      expect(elapsed).toBeLessThan(1_500);
    } finally {
      sink.unsubscribe();
      await silentLog.close();
    }
  });

  it('beyond maxPending unacknowledged appends, the next one fails at once', async () => {
    const silent = testNames('silentmax');
    const sink = nc.subscribe(silent.subjects);
    const silentLog = createJetStreamEventLog(nc, silent, { timeoutMs: 5_000, maxPending: 3 });
    const event = {
      kind: EventKind.PixelPlaced,
      x: 0,
      y: 0,
      color: 0,
      userId: 'u',
      requestId: 'r',
      placedAt: 0,
    } as const;
    try {
      const held = [1, 2, 3].map((i) => silentLog.append(event, `m${i}`));
      await expect(silentLog.append(event, 'm4')).rejects.toThrow(/3 appends already await/);
      await silentLog.close();
      for (const p of held) await expect(p).rejects.toBeInstanceOf(LogUnavailable);
    } finally {
      sink.unsubscribe();
      await silentLog.close();
    }
  });

  it('after close, pending and new appends are LogUnavailable', async () => {
    const closing = createJetStreamEventLog(nc, names, { timeoutMs: 5_000 });
    await closing.close();
    await expect(
      closing.append(
        { kind: EventKind.PixelPlaced, x: 0, y: 0, color: 0, userId: 'u', requestId: 'r', placedAt: 0 },
        'closed/r',
      ),
    ).rejects.toBeInstanceOf(LogUnavailable);
  });
});

describe('NATS unreachable during a placement (a private nats-server)', () => {
  it('answers unavailable and refunds the cooldown; after NATS returns the user places at once', {
    timeout: 60_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rplace-place-fault-'));
    const port = await freePort();
    const natsOptions = { port, storeDir: join(dir, 'js'), logFile: join(dir, 'nats.log') };
    const faultNames = testNames('placefault');
    let server: LocalService | undefined = await startLocalNats(natsOptions);
    const privateNc = await connectNats(server.url, 'test place-pixel fault');
    const privateLog = createJetStreamEventLog(privateNc, faultNames, { timeoutMs: 2_000 });
    const privateCooldowns = createRedisCooldownStore(redis, faultNames);
    const privatePlace = createPlacePixel({
      spec,
      cooldownSeconds: COOLDOWN_SECONDS,
      cooldowns: privateCooldowns,
      log: privateLog,
      clock: systemClock,
    });
    try {
      await applyStreams(privateNc, faultNames);
      expect((await privatePlace({ userId: 'before', requestId: 'r0', x: 1, y: 1, color: 1 })).ok).toBe(true);

      // Kill the server and place while the client is finding out: in flight or refused up front,
      // the answer must be the same.
      server.kill();
      const during = await Promise.all([
        privatePlace({ userId: 'victim', requestId: 'r1', x: 2, y: 2, color: 2 }),
        sleep(50).then(() => privatePlace({ userId: 'victim2', requestId: 'r1', x: 3, y: 3, color: 3 })),
      ]);
      for (const outcome of during) {
        expect(outcome).toMatchObject({ ok: false, code: 'unavailable' });
        if (!outcome.ok) expect(outcome.remainingSeconds).toBeUndefined();
      }
      expect(await privateCooldowns.remainingMs('victim')).toBe(0);
      expect(await privateCooldowns.remainingMs('victim2')).toBe(0);

      // Same port, same store: the client reconnects by itself, and the refunded user places right away.
      server = await startLocalNats(natsOptions);
      const after = await vi.waitFor(
        async () => {
          const outcome = await privatePlace({ userId: 'victim', requestId: 'r2', x: 4, y: 4, color: 4 });
          if (!outcome.ok && outcome.code === 'unavailable') throw new Error('placements still unavailable');
          return outcome;
        },
        { timeout: 20_000, interval: 200 },
      );
      expect(after).toMatchObject({ ok: true });

      // Nothing half-done: the stream holds exactly the two acknowledged placements.
      const privateJsm = await jetstreamManager(privateNc);
      const info = await privateJsm.streams.info(faultNames.stream);
      expect(info.state.messages).toBe(2);
      const events = await Promise.all(
        [1, 2].map(async (seq) => decodeEvent((await privateJsm.streams.getMessage(faultNames.stream, { seq }))!.data)),
      );
      expect(events.map((e) => e.userId)).toEqual(['before', 'victim']);
    } finally {
      await privateLog.close();
      await privateNc.close().catch(() => undefined);
      await server?.stop();
      await deleteRedisKeys(redis, faultNames);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Redis unreachable during a placement (a private redis-server)', () => {
  it('answers unavailable, appends nothing, and places again once Redis is back', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rplace-place-redis-fault-'));
    const port = await freePort();
    const redisOptions = { port, dir: join(dir, 'data'), logFile: join(dir, 'redis.log') };
    let server: LocalService | undefined = await startLocalRedis(redisOptions);
    const privateRedis = await connectRedis(server.url, 'test place-pixel redis fault');
    const privatePlace = createPlacePixel({
      spec,
      cooldownSeconds: COOLDOWN_SECONDS,
      cooldowns: createRedisCooldownStore(privateRedis, names),
      log,
      clock: systemClock,
    });
    try {
      expect((await privatePlace({ userId: newUser(), requestId: 'r0', x: 1, y: 1, color: 1 })).ok).toBe(true);
      server.kill();
      const seqBefore = await lastSeq();
      const started = Date.now();
      const during = await privatePlace({ userId: newUser(), requestId: 'r1', x: 2, y: 2, color: 2 });
      expect(during).toMatchObject({ ok: false, code: 'unavailable' });
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(await lastSeq()).toBe(seqBefore);

      server = await startLocalRedis(redisOptions);
      const userId = newUser();
      const after = await vi.waitFor(
        async () => {
          const outcome = await privatePlace({ userId, requestId: 'r2', x: 3, y: 3, color: 3 });
          if (!outcome.ok && outcome.code === 'unavailable') throw new Error('placements still unavailable');
          return outcome;
        },
        { timeout: 20_000, interval: 200 },
      );
      expect(after).toMatchObject({ ok: true });
    } finally {
      privateRedis.disconnect();
      await server?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
