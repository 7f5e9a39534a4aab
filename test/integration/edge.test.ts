/**
 * Two real edges (child processes) on one canvas against the shared NATS and Redis: fan-out across edges,
 * in order and contiguous; bad input; a client that stops reading.
 */
import { appendThroughLog } from '../helpers/append-events.ts';
import { connectTestServices, releaseTestServices } from '../helpers/test-services.ts';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import { buildEdgeLimits, TRANSPORT_MAX_PAYLOAD } from '../../src/adapters/uws/edge-server.ts';
import { CloseCode } from '../../proto/close-codes.ts';
import { MAX_CLIENT_MESSAGE_BYTES } from '../../proto/messages.ts';
import type { RplaceClient } from '../../src/client/index.ts';
import { testNames, dropSchema } from '../helpers/isolation.ts';
import {
  freePort,
  killAllEdgeProcesses,
  nodeClient,
  startEdgeProcess,
  type EdgeProcess,
} from '../helpers/edge-process.ts';
import { sleep } from '../../src/app/sleep.ts';

const names = testNames('edge');
let nc: NatsConnection;
let redis: Redis;
let edgeA: EdgeProcess;
let edgeB: EdgeProcess;
const clients: RplaceClient[] = [];

beforeAll(async () => {
  ({ nc, redis } = await connectTestServices('test-edge'));
  [edgeA, edgeB] = await Promise.all([
    freePort().then((p) => startEdgeProcess(names, p, { WS_MAX_BACKPRESSURE: '65536', RING_EVENTS: '4096' })),
    // edge B's slow reader floods resumes to fill its buffer: per-socket message and resync rates out of the way.
    freePort().then((p) =>
      startEdgeProcess(names, p, {
        WS_MAX_BACKPRESSURE: '65536',
        RING_EVENTS: '4096',
        WS_MESSAGES_PER_SECOND: '100000',
        WS_MESSAGE_BURST: '1000000',
        WS_RESYNCS_PER_SOCKET_PER_MINUTE: '100000',
      }),
    ),
  ]);
}, 120_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([edgeA?.kill(), edgeB?.kill()]);
  killAllEdgeProcesses();
  await dropSchema(names).catch(() => undefined); // the edge migrates the accounts table into the canvas schema
  await releaseTestServices({ nc, redis }, names);
});

function track(url: string) {
  const frames: { firstSeq: number; lastSeq: number }[] = [];
  const client = nodeClient(url, { onPixels: (f) => frames.push({ firstSeq: f.firstSeq, lastSeq: f.lastSeq }) });
  clients.push(client);
  return { client, frames };
}

function rawSocket(url: string, query = 'v=1'): Promise<{ ws: WebSocket; texts: string[]; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws?${query}`, { perMessageDeflate: false });
    const texts: string[] = [];
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('message', (data, isBinary) => {
      if (!isBinary) texts.push(data.toString());
    });
    ws.once('open', () => resolve({ ws, texts, closed }));
    ws.once('error', reject);
  });
}

describe('edge', () => {
  it('sets its socket limits explicitly', () => {
    // uWS takes frames up to 16 KiB so that the edge itself closes with 1009 past 512 bytes (edge-bounds.test.ts).
    expect(buildEdgeLimits(65_536, 120)).toEqual({
      maxPayloadLength: TRANSPORT_MAX_PAYLOAD,
      idleTimeout: 120,
      maxBackpressure: 65_536,
      closeOnBackpressureLimit: true,
    });
    expect(TRANSPORT_MAX_PAYLOAD).toBe(16 * 1024);
  });

  it('fans out placements made through either edge to clients of both, in order, with contiguous sequences', async () => {
    const watchA = track(edgeA.url);
    const watchB = track(edgeB.url);
    await Promise.all([watchA.client.connect(), watchB.client.connect()]);
    const startSeq = watchA.client.seq;
    const placers = Array.from({ length: 20 }, (_, i) => nodeClient(i % 2 ? edgeA.url : edgeB.url));
    clients.push(...placers);
    await Promise.all(placers.map((p) => p.connect()));
    const results = await Promise.all(placers.map((p, i) => p.place(i, i * 2, (i % 31) + 1)));
    for (const r of results) expect(r.type, JSON.stringify(r)).toBe('success');
    const lastSeq = Math.max(...results.map((r) => (r.type === 'success' ? r.seq : 0)));
    await expect
      .poll(() => watchA.client.seq >= lastSeq && watchB.client.seq >= lastSeq, { timeout: 10_000, interval: 20 })
      .toBe(true);
    for (const watch of [watchA, watchB]) {
      let expected = startSeq + 1;
      for (const frame of watch.frames) {
        expect(frame.firstSeq).toBe(expected);
        expected = frame.lastSeq + 1;
      }
      expect(expected - 1).toBe(watch.client.seq);
    }
    expect(watchA.client.canvas).toEqual(watchB.client.canvas);
    placers.forEach((_, i) => expect(watchA.client.canvas?.[i * 2 * 64 + i]).toBe((i % 31) + 1));
    // The HTTP canvas is the same canvas, labelled with its sequence.
    await sleep(1100); // past the canvas cache window
    const response = await fetch(`${edgeB.url}/api/v1/canvas`);
    expect(Number(response.headers.get('x-rplace-seq'))).toBe(watchB.client.seq);
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(watchB.client.canvas);
    const notModified = await fetch(`${edgeB.url}/api/v1/canvas`, {
      headers: { 'if-none-match': response.headers.get('etag') ?? '' },
    });
    expect(notModified.status).toBe(304);
  });

  it('answers malformed, unknown, binary and invalid messages with error codes, and closes on abuse', async () => {
    const { ws, texts, closed } = await rawSocket(edgeA.url);
    ws.send('not json');
    ws.send(JSON.stringify({ type: 'dance' }));
    ws.send(Buffer.from([1, 2, 3, 0xff]));
    ws.send(JSON.stringify({ type: 'place', x: 1, y: 1, color: 999, requestId: 'bad-color' }));
    ws.send(JSON.stringify({ type: 'place', x: 64, y: 1, color: 1, requestId: 'outside' }));
    await expect
      .poll(() => texts.filter((t) => t.includes('"error"')).length >= 5, { timeout: 10_000, interval: 20 })
      .toBe(true);
    const errors = texts
      .map((t) => JSON.parse(t) as { type: string; code?: string; requestId?: string })
      .filter((m) => m.type === 'error');
    expect(errors.map((e) => e.code)).toEqual([
      'bad_request',
      'bad_request',
      'bad_request',
      'bad_request',
      'invalid_coordinates',
    ]);
    expect(errors[3]?.requestId).toBe('bad-color');
    for (let i = 0; i < 25; i++) ws.send('{');
    expect(await closed).toBe(CloseCode.PolicyViolation);
  });

  it('closes a socket sending a message over the size limit, and refuses other protocol versions', async () => {
    const big = await rawSocket(edgeA.url);
    big.ws.send('x'.repeat(MAX_CLIENT_MESSAGE_BYTES + 1));
    expect(await big.closed).toBe(CloseCode.MessageTooBig);
    expect(big.texts.some((t) => t.includes('too_large'))).toBe(true);
    const old = await rawSocket(edgeA.url, 'v=99');
    expect(await old.closed).toBe(CloseCode.UnsupportedVersion);
    expect(old.texts.some((t) => t.includes('unsupported_version'))).toBe(true);
    // The edge survived all of it.
    expect((await fetch(`${edgeA.url}/readyz`)).status).toBe(200);
  });

  it('closes a client that stops reading, with bounded memory, while other clients stay fast', async () => {
    const fast = nodeClient(edgeB.url);
    clients.push(fast);
    await fast.connect();
    // 3,000 events straight into the log, so that the ring (and each catch-up from 0) holds ~15 KB.
    const last = await appendThroughLog(
      nc,
      names,
      Array.from({ length: 3000 }, (_, i) => ({ x: i % 64, y: (i >> 6) % 64, color: i % 32 })),
    );
    await expect.poll(() => fast.seq >= last, { timeout: 10_000, interval: 20 }).toBe(true);
    const rssOf = () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${edgeB.child.pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    const connections = async () =>
      Number(/^rplace_ws_connections\{[^}]*\} (\d+)/m.exec(await (await fetch(`${edgeB.url}/metrics`)).text())?.[1]);
    const rssBefore = rssOf();
    const before = await connections();
    const slow = await rawSocket(edgeB.url, 'v=1&since=0');
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause(); // stop reading: the kernel buffers fill, then uWS's
    // Each resume asks for the ring's whole content again: an amplification a slow reader cannot turn into edge memory.
    const resume = JSON.stringify({ type: 'resume', since: 0 });
    const rtts: number[] = [];
    const deadline = Date.now() + 20_000;
    while ((await connections()) > before && Date.now() < deadline) {
      for (let i = 0; i < 500; i++) slow.ws.send(resume);
      rtts.push(await fast.ping());
    }
    expect(await connections()).toBe(before); // the slow socket was closed by the edge
    expect(rssOf() - rssBefore).toBeLessThan(64 * 2 ** 20);
    expect(Math.max(...rtts)).toBeLessThan(1000);
    expect(fast.status).toBe('synced');
    slow.ws.terminate();
  });
});
