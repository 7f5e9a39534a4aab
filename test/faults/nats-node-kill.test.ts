/**
 * Fault: kill -9 of one node of a three-node NATS JetStream cluster (the stream's leader, the worst case),
 * under a steady placement load from many WebSocket clients through two edges.
 * Then: every acknowledged placement is in the stream exactly at the sequence it was acked with, none twice;
 * placements continued after the kill; the Redis bitmap and every edge converge to a replay of the stream.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freeNatsPorts, startTopology, type Topology } from '../../deploy/local/topology.ts';
import { decodeEvent, EventKind, type PixelPlaced } from '../../proto/event-codec.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createRedisBitmapStore } from '../../src/adapters/redis/bitmap-store.ts';
import { canvasSpecOf } from '../../src/config/common.ts';
import { createCanvas, replay } from '../../src/domain/canvas.ts';
import { PALETTES } from '../../src/domain/palette.ts';
import { freePort, nodeClient, TEST_SESSION_SECRET } from '../helpers/edge-process.ts';
import { deleteRedisKeys, dropSchema, testNames, TEST_DATABASE_URL, TEST_REDIS_URL } from '../helpers/isolation.ts';
import { PlacementLoad } from './load.ts';

const names = testNames('faultnatskill');
const WIDTH = 64;
const HEIGHT = 64;
const spec = canvasSpecOf({ CANVAS_WIDTH: WIDTH, CANVAS_HEIGHT: HEIGHT, PALETTE: 'rplace2022' });
const CLIENTS = 200;
/**
 * How long after the load stops every projection must equal the replay ("within seconds"). Far above the
 * 500 ms delivery target, so a failure means a consumer that stalled at the fault, not a slow one.
 */
const CONVERGE_MS = Number(process.env.FAULT_CONVERGE_MS ?? 15_000);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const t0 = Date.now();
const say = (line: string) => process.stdout.write(`[faults +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);

let topology: Topology | undefined;
let nc: NatsConnection | undefined;
let redis: Redis | undefined;
const dataDir = mkdtempSync(join(tmpdir(), 'rplace-fault-nats-'));

beforeAll(async () => {
  const edgePorts = [await freePort(), await freePort()];
  say('starting topology');
  topology = await startTopology({
    onStep: say,
    dataDir,
    natsPorts: await freeNatsPorts(),
    edgePorts,
    projectors: ['bitmap-projector'],
    env: {
      CANVAS_ID: names.canvasId,
      CANVAS_WIDTH: String(WIDTH),
      CANVAS_HEIGHT: String(HEIGHT),
      COOLDOWN_SECONDS: '1',
      REDIS_URL: TEST_REDIS_URL,
      DATABASE_URL: TEST_DATABASE_URL,
      SESSION_SECRET: TEST_SESSION_SECRET,
      HOST: '127.0.0.1',
      // Every client comes from 127.0.0.1: lift the per-address caps, and let guests place.
      ALLOW_GUEST_PLACEMENT: '1',
      WS_MAX_CONNECTIONS_PER_IP: '100000',
      PLACE_ATTEMPTS_PER_IP_PER_MINUTE: '1000000',
      PLACE_ATTEMPTS_PER_USER_PER_10_MINUTES: '1000000',
      LOG_LEVEL: 'info',
    },
  });
  nc = await connect({ servers: topology.natsUrl.split(','), maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  redis = new Redis(TEST_REDIS_URL);
});

afterAll(async () => {
  await topology?.stop();
  // Keep the role and NATS logs for a post-mortem.
  cpSync(join(dataDir, 'logs'), join('test-artifacts', 'faults', names.canvasId), { recursive: true });
  await nc?.close();
  if (redis) {
    await deleteRedisKeys(redis, names);
    redis.disconnect();
  }
  await dropSchema(names).catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('kill -9 of the stream leader in a three-node NATS cluster, under load', () => {
  it('loses no acknowledged placement, keeps accepting placements, and every projection converges', async () => {
    const topo = topology!;
    const jsm = await jetstreamManager(nc!);
    const load = new PlacementLoad({ edgeUrls: topo.edgeUrls.map((u) => u.replace('localhost', '127.0.0.1')), clients: CLIENTS, width: WIDTH, height: HEIGHT, colors: PALETTES.rplace2022.length });
    say('topology up; connecting clients');
    await load.start();
    say('clients synced; load running');
    await sleep(5_000);
    const ackedBeforeKill = load.acked.length;
    expect(ackedBeforeKill).toBeGreaterThan(100);

    const leader = (await jsm.streams.info(names.stream)).cluster?.leader;
    const victim = topo.nodes.find((n) => n.name === leader);
    expect(victim, `leader ${leader}`).toBeDefined();
    const killedAt = Date.now();
    victim!.kill();
    say(`killed ${victim!.name} (leader) after ${ackedBeforeKill} acks`);

    await sleep(10_000);
    const ackedAfterKill = load.ackedSince(killedAt);
    // Placements continue on the surviving two nodes (a new leader is elected within seconds).
    expect(ackedAfterKill).toBeGreaterThan(100);
    const ackedLastThreeSeconds = load.ackedSince(Date.now() - 3_000);
    expect(ackedLastThreeSeconds).toBeGreaterThan(50);
    await load.stop();
    say(`load stopped: ${load.acked.length} acks, ${ackedAfterKill} after the kill`);

    // Bring the node back: it rejoins and catches up (not needed for the check, but the cluster should heal).
    await victim!.restart();
    say(`${victim!.name} restarted`);

    // The stream must hold at least every acknowledged sequence. Right after a node rejoins, stream info
    // may briefly report an older state; poll, and fail only if it never gets there.
    const maxAcked = Math.max(...load.acked.map((a) => a.seq));
    let info = await jsm.streams.info(names.stream);
    const firstReported = info.state.last_seq;
    const pollStart = Date.now();
    while (info.state.last_seq < maxAcked && Date.now() - pollStart < 30_000) {
      await sleep(250);
      info = await jsm.streams.info(names.stream);
    }
    if (firstReported < maxAcked) say(`stream info first reported last_seq ${firstReported} < highest acked ${maxAcked}; ${info.state.last_seq} after ${Date.now() - pollStart} ms`);
    const lastSeq = info.state.last_seq;

    // Read the whole stream. Right after a node rejoins, an ordered read may end early (it stops at the first
    // message whose `pending` is 0, as seen by a replica still catching up): retry until it reaches lastSeq.
    const stream = createNatsEventStream(nc!, names);
    let stored = new Map<number, { requestId: string; x: number; y: number; color: number }>();
    let shortReads = 0;
    const readStart = Date.now();
    for (;;) {
      stored = new Map();
      for await (const batch of stream.read(1, { untilSeq: lastSeq })) {
        for (const e of batch) if (e.event.kind === EventKind.PixelPlaced) stored.set(e.seq, e.event);
      }
      if (stored.has(lastSeq) || Date.now() - readStart > 30_000) break;
      shortReads++;
      await sleep(500);
    }
    if (shortReads > 0) say(`${shortReads} short read(s) of the stream before it returned all ${lastSeq} events`);
    // The authority for anything still missing: a direct get of that sequence from the stream leader.
    for (const a of load.acked) {
      if (stored.has(a.seq)) continue;
      const msg = await jsm.streams.getMessage(names.stream, { seq: a.seq }).catch(() => null);
      if (msg) stored.set(a.seq, decodeEvent(msg.data) as PixelPlaced);
    }
    const lost = load.acked.filter((a) => stored.get(a.seq)?.requestId !== a.requestId);
    const requestIds = [...stored.values()].map((e) => e.requestId);
    // The longest time without any acknowledged placement after the kill: how long the cluster refused writes.
    const ackTimes = [killedAt, ...load.acked.map((a) => a.at).filter((at) => at >= killedAt)].sort((a, b) => a - b);
    const maxAckGapMs = ackTimes.slice(1).reduce((gap, at, i) => Math.max(gap, at - ackTimes[i]!), 0);
    const report = {
      fault: 'kill -9 of the NATS stream leader (3-node cluster, R3)',
      maxAckGapMs,
      clients: CLIENTS,
      acked: load.acked.length,
      ackedAfterKill,
      lost: lost.length,
      streamEvents: stored.size,
      shortReads,
      errors: Object.fromEntries(load.errors),
    };
    process.stdout.write(`[faults] ${JSON.stringify(report)}\n`);
    if (lost.length > 0) {
      const bySeq = new Map([...stored.entries()].map(([seq, e]) => [e.requestId, seq]));
      const detail = lost.slice(0, 10).map((a) => ({ seq: a.seq, at: a.at - killedAt, storedAt: stored.get(a.seq)?.requestId ?? null, foundAtSeq: bySeq.get(a.requestId) ?? null }));
      say(`lastSeq ${lastSeq} (info from ${info.cluster?.leader}); lost: ${JSON.stringify(detail)}`);
    }
    expect(lost).toEqual([]);
    expect(new Set(requestIds).size).toBe(requestIds.length);

    // Convergence: the bitmap and every edge equal a replay of the whole stream.
    say(`stream read: ${stored.size} events up to ${lastSeq}`);
    const expected = replay(createCanvas(spec), WIDTH, [...stored.keys()].sort((a, b) => a - b).map((seq) => stored.get(seq)!));
    // Each projection is watched at the same time, so each gets its own convergence time.
    const convergeStart = Date.now();
    const bitmap = createRedisBitmapStore(redis!, names, spec);
    const watchBitmap = async () => {
      let loaded = await bitmap.load();
      while ((loaded?.seq ?? 0) < lastSeq && Date.now() - convergeStart < CONVERGE_MS) {
        await sleep(100);
        loaded = await bitmap.load();
      }
      return { projection: 'bitmap', seq: loaded?.seq ?? 0, equal: loaded !== null && Buffer.from(loaded.canvas).equals(Buffer.from(expected)), ms: Date.now() - convergeStart };
    };
    const watchEdge = async (url: string, i: number) => {
      const client = nodeClient(url.replace('localhost', '127.0.0.1'), { trackCanvas: true });
      try {
        await client.connect();
        await client.synced();
        while (client.seq < lastSeq && Date.now() - convergeStart < CONVERGE_MS) await sleep(50);
        return { projection: `edge${i + 1}`, seq: client.seq, equal: Buffer.from(client.canvas!).equals(Buffer.from(expected)), ms: Date.now() - convergeStart };
      } finally {
        client.close();
      }
    };
    const states = await Promise.all([watchBitmap(), ...topo.edgeUrls.map(watchEdge)]);
    for (const state of states) say(`${state.projection}: seq ${state.seq} of ${lastSeq}, equal to the replay: ${state.equal}, ${state.ms} ms after the load stopped`);
    process.stdout.write(`[faults] ${JSON.stringify({ ...report, convergedMs: Object.fromEntries(states.map((st) => [st.projection, st.seq === lastSeq ? st.ms : null])) })}\n`);
    expect(states.map(({ projection, seq, equal }) => ({ projection, seq, equal }))).toEqual(
      ['bitmap', ...topo.edgeUrls.map((_, i) => `edge${i + 1}`)].map((projection) => ({ projection, seq: lastSeq, equal: true })),
    );
  });
});
