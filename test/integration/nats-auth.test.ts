/**
 * Least-privilege NATS against a real nats-server started by this test with the generated authorization
 * (streams/permissions.ts): anonymous and wrong-password connections are refused; each role's identity can
 * do what its code does (through the real adapters) and nothing else; the operator can administer. The
 * history identity authenticates with an nkey (NATS_NKEY_SEED_FILE), the others with passwords.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { nkeys, type NatsConnection } from '@nats-io/nats-core';
import { decodeEvent, encodeEvent, EventKind, type CanvasEvent, type PixelRestored } from '../../proto/event-codec.ts';
import { createNatsResizeLog } from '../../src/adapters/nats/resize-log.ts';
import { connectNats, isPermissionViolation } from '../../src/adapters/nats/connect.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createNatsModerationLog } from '../../src/adapters/nats/moderation-log.ts';
import { createNatsProjectionSource } from '../../src/adapters/nats/projection-source.ts';
import { createNatsRevocations, subscribeRevocations, type Revocation } from '../../src/adapters/nats/revocations.ts';
import { answerStatusRequests, requestRoleStatus } from '../../src/adapters/nats/status-responder.ts';
import { startLocalNats, type LocalService } from '../../src/adapters/services/local.ts';
import type { StoredEvent } from '../../src/ports/event-log.ts';
import { SequenceConflict, ServiceUnreachable } from '../../src/ports/errors.ts';
import { ensureStream, applyStreams } from '../../streams/apply.ts';
import {
  natsAuthorizationConfig,
  natsInboxPrefix,
  natsUserOf,
  NATS_ROLES,
  type NatsRole,
} from '../../streams/permissions.ts';
import { portFree } from '../../deploy/local/topology.ts';
import { growEvent } from '../helpers/append-events.ts';
import { testNames } from '../helpers/isolation.ts';
import { ConfigError } from '../../src/ports/errors.ts';

const names = testNames('natsauth');
const canvas = { width: 64, height: 64, colors: 32 };
const logger = pino({ level: 'silent' });
const passwords = Object.fromEntries(NATS_ROLES.map((role) => [role, randomBytes(18).toString('base64url')])) as Record<
  NatsRole,
  string
>;
const dir = mkdtempSync(join(tmpdir(), 'rplace-natsauth-'));
const historyKey = nkeys.createUser();
const historySeedFile = join(dir, 'history.nk');
let server: LocalService;
let url: string;
const connections: NatsConnection[] = [];

async function as(role: NatsRole): Promise<NatsConnection> {
  const credentials =
    role === 'history'
      ? { nkeySeedFile: historySeedFile }
      : { user: { name: natsUserOf(role, names), password: passwords[role] } };
  const nc = await connectNats(url, `test-${role}`, { ...credentials, inboxPrefix: natsInboxPrefix(role, names) });
  connections.push(nc);
  return nc;
}

const placed = (i: number, kind: CanvasEvent['kind'] = EventKind.PixelPlaced): CanvasEvent =>
  ({ kind, x: i % 64, y: 3, color: 5, userId: 'u1', requestId: `r${i}-${kind}`, placedAt: Date.now() }) as CanvasEvent;
const restored = (i: number): PixelRestored => ({ ...placed(i), kind: EventKind.PixelRestored });

/** A fire-and-forget publish is refused asynchronously: the same subject as a request shows the verdict. */
async function refused(nc: NatsConnection, subject: string): Promise<boolean> {
  try {
    await nc.request(subject, '{}', { timeout: 1_500 });
    return false;
  } catch (error) {
    return isPermissionViolation(error);
  }
}

/** The server refuses a subscription by closing it with a permission violation; an allowed one stays open. */
async function subscribeRefused(nc: NatsConnection, subject: string): Promise<boolean> {
  const sub = nc.subscribe(subject);
  const verdict = await Promise.race([sub.closed, new Promise<'open'>((r) => setTimeout(() => r('open'), 1_500))]);
  if (verdict === 'open') sub.unsubscribe();
  return isPermissionViolation(verdict);
}

beforeAll(async () => {
  let port = 0;
  for (let p = 4200 + Math.floor(Math.random() * 90); p < 4300; p++) {
    if (await portFree(p)) {
      port = p;
      break;
    }
  }
  expect(port).toBeGreaterThan(0);
  const secrets = {
    ...Object.fromEntries(NATS_ROLES.map((role) => [role, { password: passwords[role] }])),
    history: { nkey: historyKey.getPublicKey() },
  };
  writeFileSync(historySeedFile, `${new TextDecoder().decode(historyKey.getSeed())}\n`, { mode: 0o600 });
  writeFileSync(join(dir, 'nats.conf'), natsAuthorizationConfig(names, secrets), { mode: 0o600 });
  server = await startLocalNats({
    port,
    storeDir: join(dir, 'store'),
    logFile: join(dir, 'nats.log'),
    extraArgs: ['-c', join(dir, 'nats.conf')],
  });
  url = `nats://127.0.0.1:${port}`;
}, 30_000);

afterAll(async () => {
  for (const nc of connections) await nc.close().catch(() => undefined);
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('authentication', () => {
  it('refuses anonymous connections and wrong passwords', async () => {
    await expect(connectNats(url, 'test-anonymous')).rejects.toBeInstanceOf(ServiceUnreachable);
    await expect(connectNats(url, 'test-anonymous')).rejects.toThrow(/authori[sz]ation/i);
    await expect(
      connectNats(url, 'test-wrong', { user: { name: natsUserOf('operator', names), password: 'not-it' } }),
    ).rejects.toThrow(/authori[sz]ation/i);
    const stranger = join(dir, 'stranger.nk');
    writeFileSync(stranger, nkeys.createUser().getSeed());
    await expect(connectNats(url, 'test-stranger', { nkeySeedFile: stranger })).rejects.toThrow(/authori[sz]ation/i);
  });
});

describe('permissions per role', () => {
  let operator: NatsConnection;
  let edge: NatsConnection;
  let bitmap: NatsConnection;
  let history: NatsConnection;

  beforeAll(async () => {
    [operator, edge, bitmap, history] = await Promise.all([
      as('operator'),
      as('edge'),
      as('bitmap-projector'),
      as('history'),
    ]);
  });

  it('only the operator creates the stream; a role meeting a missing stream says to apply it as the operator', async () => {
    await expect(ensureStream(edge, names)).rejects.toBeInstanceOf(ConfigError);
    await expect(ensureStream(bitmap, names)).rejects.toThrow(/rplace streams apply/);
    expect((await applyStreams(operator, names)).outcome).toBe('created');
    for (const nc of [edge, bitmap, history]) expect((await ensureStream(nc, names)).outcome).toBe('unchanged');
  });

  it('an edge appends placements and moderation events (the console) and tails the stream, but cannot delete or change the stream', async () => {
    const log = createJetStreamEventLog(edge, names, { timeoutMs: 3_000 });
    const first = await log.append(placed(1), 'u1/r1');
    expect(first.seq).toBeGreaterThan(0);
    // Its tail (ephemeral consumer create, pull, delete) works under these permissions.
    const seqs: number[] = [];
    for await (const batch of createNatsEventStream(edge, names, { canvas }).readPixels(1, { untilSeq: first.seq }))
      for (let i = 0; i < batch.count; i++) seqs.push(batch.seqs[i]!);
    expect(seqs).toEqual([first.seq]);
    const jsm = await jetstreamManager(edge);
    await expect(jsm.streams.delete(names.stream)).rejects.toSatisfy(isPermissionViolation);
    await expect(jsm.streams.purge(names.stream)).rejects.toSatisfy(isPermissionViolation);
    await expect(jsm.streams.update(names.stream, { max_msgs: 10 })).rejects.toSatisfy(isPermissionViolation);
    // Moderation events are allowed: the moderator console runs on the edge and checks the moderator role per request.
    expect(await createNatsModerationLog(edge, names, 2_000).appendIfLast(restored(3), 'm3', first.seq)).toEqual({
      ok: true,
      seq: first.seq + 1,
    });
    // Nor may it steal a projection's deliveries.
    await expect(
      jsm.consumers.add(names.stream, { durable_name: names.consumers.bitmap, ack_policy: 'all' as never }),
    ).rejects.toSatisfy(isPermissionViolation);
    expect((await (await jetstreamManager(operator)).streams.info(names.stream)).state.last_seq).toBe(first.seq + 1);
    await log.close();
  });

  it('an edge revokes sessions it logs out and bans users (the moderator console), but cannot ask for status', async () => {
    const heard: Revocation[] = [];
    subscribeRevocations(edge, names.canvasId, (r) => heard.push(r));
    await edge.flush();
    await createNatsRevocations(edge, names.canvasId).sessionEnded('sess-1');
    expect(await refused(edge, names.control.revokeUser)).toBe(false);
    expect(await refused(edge, names.control.status)).toBe(true);
    await createNatsRevocations(operator, names.canvasId).userBanned('banned-1');
    await expect.poll(() => heard.length, { timeout: 3_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    expect(heard).toEqual([{ session: 'sess-1' }, { user: 'banned-1' }]);
  });

  it('projectors consume through their own durable only, and cannot publish to the stream or delete it', async () => {
    const before = (await (await jetstreamManager(operator)).streams.info(names.stream)).state.last_seq;
    for (const [nc, durable, other] of [
      [bitmap, names.consumers.bitmap, names.consumers.history],
      [history, names.consumers.history, names.consumers.bitmap],
    ] as const) {
      const controller = new AbortController();
      const got: StoredEvent[] = [];
      const running = createNatsProjectionSource(nc, names, durable, logger, { canvas }).run(
        1,
        async (batch) => {
          got.push(...batch);
          if (got.length >= 1) controller.abort();
        },
        controller.signal,
      );
      await running;
      expect(got[0]?.seq).toBe(1);
      await expect(jetstream(nc).publish(names.pixelSubject(0, 0), encodeEvent(placed(9)))).rejects.toSatisfy(
        isPermissionViolation,
      );
      await expect(
        jetstream(nc).publish(names.moderationSubject(0, 0), encodeEvent(placed(9, EventKind.PixelRestored))),
      ).rejects.toSatisfy(isPermissionViolation);
      expect(await refused(nc, names.control.revokeSession)).toBe(true);
      expect(await refused(nc, names.control.revokeUser)).toBe(true);
      const jsm = await jetstreamManager(nc);
      await expect(jsm.streams.delete(names.stream)).rejects.toSatisfy(isPermissionViolation);
      await expect(jsm.consumers.delete(names.stream, other)).rejects.toSatisfy(isPermissionViolation);
    }
    expect((await (await jetstreamManager(operator)).streams.info(names.stream)).state.last_seq).toBe(before);
  });

  it('only the operator may resize the canvas; every role reads the size under its permissions (STREAM.MSG.GET)', async () => {
    const resize = (id: string) => encodeEvent(growEvent(canvas.width * 2, canvas.height, id));
    for (const nc of [edge, bitmap, history])
      await expect(jetstream(nc).publish(names.resizeSubject, resize('nope'))).rejects.toSatisfy(isPermissionViolation);
    const stored = await createNatsResizeLog(operator, names).appendResize(decodeEvent(resize('grow')), 'grow', 0);
    for (const nc of [edge, bitmap, history]) {
      const { size, lastResize } = await createNatsEventStream(nc, names, { canvas }).sizeAt(stored.seq);
      expect(size).toEqual({ width: canvas.width * 2, height: canvas.height });
      expect(lastResize?.seq).toBe(stored.seq);
    }
    // A second resize computed from the stale "no resize yet" is refused by the server.
    await expect(
      createNatsResizeLog(operator, names).appendResize(decodeEvent(resize('again')), 'again', 0),
    ).rejects.toBeInstanceOf(SequenceConflict);
  });

  it("roles answer the operator's status request (allow_responses); the operator writes moderation events and may delete the stream", async () => {
    answerStatusRequests(bitmap, names.canvasId, 'bitmap-projector');
    answerStatusRequests(edge, names.canvasId, 'edge');
    await Promise.all([bitmap.flush(), edge.flush()]);
    const replies = await requestRoleStatus(operator, names.canvasId, 500);
    expect(replies.answered.map((r) => r.role).sort()).toEqual(['bitmap-projector', 'edge']);
    const last = (await (await jetstreamManager(operator)).streams.info(names.stream)).state.last_seq;
    const appended = await createNatsModerationLog(operator, names).appendIfLast(restored(4), 'mod-4', last);
    expect(appended).toMatchObject({ ok: true, seq: last + 1 });
    await expect(jetstream(operator).publish(names.pixelSubject(0, 0), encodeEvent(placed(5)))).rejects.toSatisfy(
      isPermissionViolation,
    );
    expect(await (await jetstreamManager(operator)).streams.delete(names.stream)).toBe(true);
  });

  it("each identity subscribes only under its own inbox prefix: not `_INBOX.>`, not another identity's, and without it a request fails", async () => {
    const byRole = { operator, edge, 'bitmap-projector': bitmap, history } as const;
    for (const role of NATS_ROLES) {
      const nc = byRole[role];
      expect(await subscribeRefused(nc, `${natsInboxPrefix(role, names)}.probe.>`), `${role} own`).toBe(false);
      expect(await subscribeRefused(nc, '_INBOX.>'), `${role} _INBOX.>`).toBe(true);
      expect(await subscribeRefused(nc, '>'), `${role} >`).toBe(true);
      for (const other of NATS_ROLES.filter((r) => r !== role)) {
        expect(await subscribeRefused(nc, `${natsInboxPrefix(other, names)}.>`), `${role} reads ${other}`).toBe(true);
      }
      // Nor may it write into another identity's inbox (a forged reply), beyond answering a request it got.
      expect(
        await refused(nc, `${natsInboxPrefix(role === 'operator' ? 'edge' : 'operator', names)}.forged`),
        `${role} forges`,
      ).toBe(true);
    }
    // The default `_INBOX` prefix is no longer any identity's: a request from it cannot get its reply.
    const plain = await connectNats(url, 'test-edge-default-inbox', {
      user: { name: natsUserOf('edge', names), password: passwords.edge },
    });
    connections.push(plain);
    await expect(jetstreamManager(plain)).rejects.toSatisfy(isPermissionViolation);
  });
});
