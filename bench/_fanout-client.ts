/**
 * Client worker of `bench/fanout.ts`: a child process holding up to 5,000 WebSocket clients on raw
 * `node:net` sockets, as cheap per received frame as Node allows, so the benchmark measures the server and
 * not its own clients (a `ws` client costs ~20–56 µs of CPU per frame; this one a few).
 *
 * - The HTTP upgrade is written by hand (`GET /ws?v=1&since=L`); the edge mints a guest identity itself.
 * - Every socket reads into ONE shared buffer (`onread`: no Buffer, no stream machinery per read), and the
 *   reader only walks frame headers (opcode + length) to count frames and bytes. Server frames are not
 *   masked, so payloads are never touched: not unmasked, not copied.
 * - One client in `sampleEvery` (~200 in all) also copies its binary payloads and decodes the `pixels`
 *   frame (firstSeq, lastSeq, records): it checks the sequences are contiguous (gaps) and reads each
 *   placement's start time from its coordinates (the bench places at `y·2000 + x` = start ms mod
 *   4,000,000), for placement → receipt latency.
 * - Pings are answered with pongs, closes with a close; a socket the server drops is counted, not reopened.
 */
import { connect, type Socket } from 'node:net';

const MOD = 4_000_000;
const MAX_COLLECT = 1 << 20; // sampled clients decode frames up to 1 MiB (a pixels frame of 16,384 events is 82 KB)
const HANDSHAKE_KEY = 'cmZhbm91dC1iZW5jaC1rZXk='; // any 16 bytes, base64
const histogram = new Uint32Array(30_001); // 1 ms buckets, last = ≥ 30 s

let frames = 0; // binary frames (pixels, canvas) received by all clients
let bytes = 0; // every byte read after the handshake
let reads = 0; // read callbacks
let samples = 0; // pixels whose latency was measured
let sampledFrames = 0;
let gaps = 0; // sampled frames not starting at lastSeq + 1
let closedByServer = 0;
let failed = 0;

class Conn {
  readonly socket: Socket;
  readonly sampled: boolean;
  handshake = '';
  open = false;
  closed = false;
  // Frame being read: header bytes gathered so far (when split over reads), then the payload left.
  readonly header = new Uint8Array(14);
  headerLength = 0;
  opcode = 0;
  remaining = 0;
  collecting = false;
  payload: Buffer | null = null;
  payloadLength = 0;
  collected = 0;
  lastSeq = -1;
  frames = 0;
  constructor(socket: Socket, sampled: boolean, since: number) {
    this.socket = socket;
    this.sampled = sampled;
    this.lastSeq = since;
  }
}

let conns: Conn[] = [];
let cpuAtReset = process.cpuUsage();

function reset() {
  cpuAtReset = process.cpuUsage();
  histogram.fill(0);
  frames = 0;
  bytes = 0;
  reads = 0;
  samples = 0;
  sampledFrames = 0;
  gaps = 0;
  for (const c of conns) c.frames = 0;
}

function headerSize(b1: number): number {
  const len7 = b1 & 127;
  return 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (b1 & 0x80 ? 4 : 0);
}

/** Starts a frame from a complete header at `h[o…]`. */
function beginFrame(c: Conn, h: Uint8Array, o: number): void {
  const b1 = h[o + 1] as number;
  const len7 = b1 & 127;
  let length = len7;
  if (len7 === 126) length = ((h[o + 2] as number) << 8) | (h[o + 3] as number);
  else if (len7 === 127) {
    const hi =
      (((h[o + 2] as number) << 24) |
        ((h[o + 3] as number) << 16) |
        ((h[o + 4] as number) << 8) |
        (h[o + 5] as number)) >>>
      0;
    const lo =
      (((h[o + 6] as number) << 24) |
        ((h[o + 7] as number) << 16) |
        ((h[o + 8] as number) << 8) |
        (h[o + 9] as number)) >>>
      0;
    length = hi * 2 ** 32 + lo;
  }
  const opcode = (h[o] as number) & 15;
  c.opcode = opcode;
  c.remaining = length;
  c.payloadLength = length;
  c.collected = 0;
  if (opcode === 2) {
    frames++;
    c.frames++;
  }
  c.collecting = opcode >= 8 || (c.sampled && opcode === 2 && length <= MAX_COLLECT);
  if (c.collecting && (c.payload === null || c.payload.length < length))
    c.payload = Buffer.allocUnsafe(Math.max(length, 1024));
  if (length === 0) endFrame(c);
}

function endFrame(c: Conn): void {
  if (!c.collecting) return;
  const p = c.payload as Buffer;
  const n = c.payloadLength;
  if (c.opcode === 2) {
    if (n < 22 || p[1] !== 1) return; // a canvas (type 2) or not a pixels frame: nothing to time
    const firstSeq = p.readDoubleLE(2);
    const lastSeq = p.readDoubleLE(10);
    const count = p.readUInt32LE(18);
    sampledFrames++;
    if (c.lastSeq >= 0 && lastSeq > c.lastSeq && firstSeq > c.lastSeq + 1) gaps++;
    if (lastSeq > c.lastSeq) c.lastSeq = lastSeq;
    const now = Date.now() % MOD;
    const end = Math.min(22 + count * 5, n);
    for (let o = 22; o + 5 <= end; o += 5) {
      const code =
        ((p[o + 2] as number) | ((p[o + 3] as number) << 8)) * 2000 + ((p[o] as number) | ((p[o + 1] as number) << 8));
      const latency = (now - code + MOD) % MOD;
      histogram[latency < 30_000 ? latency : 30_000]! += 1;
      samples++;
    }
  } else if (c.opcode === 9) {
    c.socket.write(maskedFrame(0x8a, p.subarray(0, n))); // pong with the ping's payload
  } else if (c.opcode === 8) {
    if (!c.closed) {
      c.closed = true;
      closedByServer++;
      c.socket.end(maskedFrame(0x88, p.subarray(0, Math.min(n, 2))));
    }
  }
}

/** A client frame: masked (key 0, so the payload is unchanged), at most 125 bytes. */
function maskedFrame(b0: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(6 + payload.length);
  out[0] = b0;
  out[1] = 0x80 | payload.length;
  out.set(payload, 6);
  return out;
}

/** Walks frames in `buf[start…end)`: headers only, payloads skipped unless the frame is collected. */
function walk(c: Conn, buf: Buffer, start: number, end: number): void {
  let i = start;
  while (i < end) {
    if (c.remaining > 0) {
      const take = c.remaining < end - i ? c.remaining : end - i;
      if (c.collecting) {
        buf.copy(c.payload as Buffer, c.collected, i, i + take);
        c.collected += take;
      }
      c.remaining -= take;
      i += take;
      if (c.remaining === 0) endFrame(c);
      continue;
    }
    if (c.headerLength === 0 && end - i >= 2) {
      const size = headerSize(buf[i + 1] as number);
      if (end - i >= size) {
        beginFrame(c, buf, i);
        i += size;
        continue;
      }
    }
    // A header split over reads: gather it byte by byte.
    c.header[c.headerLength++] = buf[i++] as number;
    if (c.headerLength >= 2 && c.headerLength === headerSize(c.header[1] as number)) {
      c.headerLength = 0;
      beginFrame(c, c.header, 0);
    }
  }
}

const shared = Buffer.allocUnsafe(256 * 1024);

function onRead(c: Conn, nread: number, buf: Buffer): void {
  reads++;
  if (!c.open) {
    // The upgrade response (and maybe the first frames after it) as Latin-1 text until the blank line.
    c.handshake += buf.toString('latin1', 0, nread);
    const endOfHead = c.handshake.indexOf('\r\n\r\n');
    if (endOfHead < 0) {
      if (c.handshake.length > 8192) c.socket.destroy(new Error('upgrade response too long'));
      return;
    }
    if (!c.handshake.startsWith('HTTP/1.1 101')) {
      c.socket.destroy(new Error(`upgrade refused: ${c.handshake.slice(0, c.handshake.indexOf('\r\n'))}`));
      return;
    }
    const headBytes = endOfHead + 4;
    const consumedBefore = c.handshake.length - nread; // Latin-1: one char per byte
    c.handshake = '';
    c.open = true;
    c.socket.emit('upgraded');
    const from = headBytes - consumedBefore;
    bytes += nread - from;
    walk(c, buf, from, nread);
    return;
  }
  bytes += nread;
  walk(c, buf, 0, nread);
}

function connectOne(port: number, since: number, sampled: boolean): Promise<Conn | null> {
  return new Promise((resolve) => {
    let conn: Conn | null = null;
    const socket = connect({
      host: '127.0.0.1',
      port,
      onread: {
        buffer: shared,
        callback: (nread: number, buf: Buffer) => {
          if (conn) onRead(conn, nread, buf);
          return true;
        },
      },
    });
    conn = new Conn(socket, sampled, since);
    const c = conn;
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.write(
        `GET /ws?v=1&since=${since} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${HANDSHAKE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.once('upgraded', () => resolve(c));
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => {
      if (!c.open) {
        failed++;
        resolve(null);
      } else if (!c.closed) {
        c.closed = true;
        closedByServer++;
      }
    });
  });
}

async function connectAll(port: number, count: number, since: number, offset: number, sampleEvery: number) {
  // At most 250 upgrades in flight: the edge does an identity + cooldown lookup per upgrade.
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const c = await connectOne(port, since, (offset + i) % sampleEvery === 0);
      if (c) conns.push(c);
    }
  };
  await Promise.all(Array.from({ length: Math.min(250, count) }, lane));
}

function report() {
  const cpu = process.cpuUsage(cpuAtReset);
  const perClient = conns.map((c) => c.frames).sort((a, b) => a - b);
  return {
    cmd: 'report',
    frames,
    bytes,
    reads,
    samples,
    sampledFrames,
    gaps,
    closed: closedByServer,
    failed,
    open: conns.filter((c) => !c.closed).length,
    minClientFrames: perClient[0] ?? 0,
    medianClientFrames: perClient[Math.floor(perClient.length / 2)] ?? 0,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    histogram: Array.from(histogram),
  };
}

process.on(
  'message',
  (message: { cmd: string; port?: number; count?: number; since?: number; offset?: number; sampleEvery?: number }) => {
    void (async () => {
      if (message.cmd === 'connect') {
        closedByServer = 0;
        failed = 0;
        await connectAll(
          message.port ?? 0,
          message.count ?? 0,
          message.since ?? 0,
          message.offset ?? 0,
          Math.max(1, message.sampleEvery ?? 50),
        );
        process.send?.({ cmd: 'connected', open: conns.length, failed });
      } else if (message.cmd === 'reset') {
        reset();
        process.send?.({ cmd: 'reset' });
      } else if (message.cmd === 'report') {
        process.send?.(report());
      } else if (message.cmd === 'disconnect') {
        for (const c of conns) {
          c.closed = true;
          c.socket.destroy();
        }
        conns = [];
        await new Promise((r) => setTimeout(r, 500));
        process.send?.({ cmd: 'disconnected' });
      } else if (message.cmd === 'exit') {
        process.exit(0);
      }
    })();
  },
);
process.on('disconnect', () => process.exit(0)); // the bench died: do not linger with thousands of sockets
process.send?.({ cmd: 'ready' });
