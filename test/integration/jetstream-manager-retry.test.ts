/**
 * A JetStream API that fails the first time a reader needs it must not fail that reader for good.
 *
 * Reproduces what the fault suite caught (issue 13): an edge whose live tail stopped at the kill of the NATS
 * stream leader and never resumed. Its resize timeline made its JetStream manager on first use, which was
 * mid-election; the manager's API check failed, and the cached rejected promise failed every later
 * `readPixels` (each one asks the timeline for the size first), so the edge's feed retried every 500 ms for
 * ever on the same error. Here a real nats-server without JetStream stands in for the election; the same
 * connection then reconnects to one with JetStream, and the same resize timeline and event stream must
 * answer (the projection source shares the same `jetStreamManagerOf`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/nats-core';
import { connectNats, jetStreamManagerOf } from '../../src/adapters/nats/connect.ts';
import { createNatsEventStream } from '../../src/adapters/nats/event-stream.ts';
import { createNatsResizeLog } from '../../src/adapters/nats/resize-log.ts';
import { createResizeTimeline } from '../../src/adapters/nats/resize-timeline.ts';
import { findExecutable, startLocalNats, type LocalService } from '../../src/adapters/services/local.ts';
import { applyStreams } from '../../streams/apply.ts';
import { portFree } from '../../deploy/local/topology.ts';
import { growEvent } from '../helpers/append-events.ts';
import { testNames } from '../helpers/isolation.ts';

const names = testNames('jsmretry');
const canvas = { width: 64, height: 64, colors: 32 };
const dir = mkdtempSync(join(tmpdir(), 'rplace-jsmretry-'));
let port = 0;
let withoutJetStream: ChildProcess | undefined;
let withJetStream: LocalService | undefined;
let nc: NatsConnection | undefined;

async function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  await new Promise((resolve) => child.once('exit', resolve));
}

beforeAll(async () => {
  for (let p = 4300 + Math.floor(Math.random() * 90); p < 4400; p++) {
    if (await portFree(p)) {
      port = p;
      break;
    }
  }
  expect(port).toBeGreaterThan(0);
  const binary = process.env.NATS_SERVER_BIN || findExecutable('nats-server');
  expect(binary, 'nats-server on PATH').toBeTruthy();
  withoutJetStream = spawn(binary!, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !nc; i++) {
    nc = await connectNats(`nats://127.0.0.1:${port}`, 'test-jsmretry').catch(async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return undefined;
    });
  }
  expect(nc, 'connected to the nats-server without JetStream').toBeDefined();
}, 30_000);

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  withoutJetStream?.kill('SIGKILL');
  await withJetStream?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a JetStream manager whose first creation failed', () => {
  it('is made again on the next call, so the resize timeline and the event stream recover', async () => {
    const conn = nc!;
    // The stream's last sequence answered (as a stream leader can mid-election) while the API check fails.
    let streamLast = async () => 3;
    const timeline = createResizeTimeline(jetStreamManagerOf(conn), names, canvas, () => streamLast());
    const stream = createNatsEventStream(conn, names, { canvas });
    await expect(timeline.sizeAt(3)).rejects.toThrow(/cannot read the resizes/);
    await expect(stream.sizeAt(3)).rejects.toThrow(/cannot read stream/);

    // JetStream comes back: the same connection reconnects to a server that has it, on the same port.
    const reconnected = (async () => {
      for await (const s of conn.status()) if (s.type === 'reconnect') return;
    })();
    withoutJetStream!.kill('SIGKILL');
    await exited(withoutJetStream!);
    withJetStream = await startLocalNats({ port, storeDir: join(dir, 'store'), logFile: join(dir, 'nats.log') });
    await reconnected;
    await applyStreams(conn, names);
    const grown = growEvent(canvas.width * 2, canvas.height, 'grow');
    const stored = await createNatsResizeLog(conn, names).appendResize(grown, 'grow', 0);
    streamLast = () => stream.lastSeq();

    for (const reader of [timeline, stream]) {
      const { size, lastResize } = await reader.sizeAt(stored.seq);
      expect(size).toEqual({ width: canvas.width * 2, height: canvas.height });
      expect(lastResize?.seq).toBe(stored.seq);
    }
  }, 60_000);
});
