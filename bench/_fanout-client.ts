/**
 * Client worker of `bench/fanout.ts` (a child process holding up to ~15,000 sockets). Uses the shared
 * client library (`proto/client.ts`) over `ws` without permessage-deflate, tracking sequences only.
 * Latency: the bench encodes each placement's start time (ms mod 4,000,000) in its coordinates
 * (y * 2000 + x), so a client computes placement → receipt latency from the frame alone; one client in
 * `sampleEvery` measures every pixel it receives.
 */
import WebSocket from 'ws';
import { RplaceClient, type WebSocketConstructor } from '../proto/client.ts';

const WS = class extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
  }
} as unknown as WebSocketConstructor;

const MOD = 4_000_000;
const histogram = new Uint32Array(30_001); // 1 ms buckets, last = ≥ 30 s
let frames = 0;
let samples = 0;
let clients: RplaceClient[] = [];
const sampleEvery = Number(process.env.SAMPLE_EVERY ?? 10);

let cpuAtReset = process.cpuUsage();
function reset() {
  cpuAtReset = process.cpuUsage();
  histogram.fill(0);
  frames = 0;
  samples = 0;
}

async function connectAll(port: number, count: number, since: number, offset: number) {
  const started: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const sampled = (offset + i) % sampleEvery === 0;
    const client = new RplaceClient({
      url: `http://127.0.0.1:${port}`,
      WebSocket: WS,
      trackCanvas: false,
      binaryType: 'nodebuffer',
      since,
      backoff: { initialMs: 500, maxMs: 5000, jitterMs: 500 },
      onPixels: sampled
        ? (frame) => {
            frames++;
            const now = Date.now() % MOD;
            const r = frame.records;
            for (let o = 0; o < frame.count * 5; o += 5) {
              const code = ((r[o + 2] as number) | ((r[o + 3] as number) << 8)) * 2000 + ((r[o] as number) | ((r[o + 1] as number) << 8));
              const latency = (now - code + MOD) % MOD;
              histogram[Math.min(latency, 30_000)]! += 1;
              samples++;
            }
          }
        : () => {
            frames++;
          },
    });
    clients.push(client);
    started.push(client.connect());
    if (i % 200 === 199) await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(started);
}

process.on('message', (message: { cmd: string; port?: number; count?: number; since?: number; offset?: number }) => {
  void (async () => {
    if (message.cmd === 'connect') {
      await connectAll(message.port ?? 0, message.count ?? 0, message.since ?? 0, message.offset ?? 0);
      process.send?.({ cmd: 'connected' });
    } else if (message.cmd === 'reset') {
      reset();
      process.send?.({ cmd: 'reset' });
    } else if (message.cmd === 'report') {
      const synced = clients.filter((c) => c.status === 'synced').length;
      const cpu = process.cpuUsage(cpuAtReset);
      process.send?.({ cmd: 'report', frames, samples, synced, cpuSeconds: (cpu.user + cpu.system) / 1e6, histogram: Array.from(histogram) });
    } else if (message.cmd === 'disconnect') {
      for (const c of clients) c.close();
      clients = [];
      await new Promise((r) => setTimeout(r, 500));
      process.send?.({ cmd: 'disconnected' });
    } else if (message.cmd === 'exit') {
      process.exit(0);
    }
  })();
});
process.on('disconnect', () => process.exit(0)); // the bench died: do not linger with thousands of sockets
process.send?.({ cmd: 'ready' });
