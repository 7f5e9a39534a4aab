/**
 * Is a service answering? Raw TCP handshakes (no client library, no reconnect loops, no log noise),
 * each bounded in time: NATS greets with `INFO {...}` (which also says whether JetStream is on), Redis
 * answers `PING`, Postgres answers the 8-byte SSLRequest with one byte (`S` or `N`).
 */
import { Socket } from 'node:net';
import { endpointOf, parseNatsInfo, type Endpoint, type ServiceKind } from './endpoints.ts';

export type ProbeResult =
  | { readonly up: true; readonly detail: string }
  /** `occupied`: something answered on the port (a wrong service, or NATS without JetStream), so do not start one there. */
  | { readonly up: false; readonly reason: string; readonly occupied: boolean };

/** Opens a TCP connection, optionally writes `hello`, and resolves with what arrives until `done(buffer)` says enough. */
function exchange(
  endpoint: Endpoint,
  hello: Uint8Array | null,
  done: (received: Buffer) => boolean,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let received = Buffer.alloc(0);
    const finish = (error: Error | null) => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      if (error) reject(error);
      else resolve(received);
    };
    const timer = setTimeout(() => finish(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (error) => finish(error));
    socket.once('close', () => finish(new Error('connection closed before an answer')));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (done(received)) finish(null);
      else if (received.length > 64 * 1024) finish(new Error('unexpected answer (too long)'));
    });
    socket.connect(endpoint.port, endpoint.host, () => {
      if (hello) socket.write(hello);
    });
  });
}

const hasLine = (b: Buffer) => b.includes('\r\n');

async function probeEndpoint(kind: ServiceKind, endpoint: Endpoint, timeoutMs: number): Promise<ProbeResult> {
  const where = `${endpoint.host}:${endpoint.port}`;
  try {
    switch (kind) {
      case 'nats': {
        const answer = await exchange(endpoint, null, hasLine, timeoutMs);
        const info = parseNatsInfo(answer.toString('utf8').split('\r\n')[0] ?? '');
        if (!info) return { up: false, reason: `${where} answered, but not as a NATS server`, occupied: true };
        if (!info.jetstream)
          return {
            up: false,
            reason: `NATS ${info.version} at ${where} runs without JetStream (start it with -js)`,
            occupied: true,
          };
        return { up: true, detail: `NATS ${info.version} with JetStream at ${where}` };
      }
      case 'redis': {
        const answer = (await exchange(endpoint, Buffer.from('PING\r\n'), hasLine, timeoutMs)).toString('utf8');
        if (answer.startsWith('+PONG')) return { up: true, detail: `Redis at ${where}` };
        // NOAUTH and friends still prove a Redis is there; the client will report the credential problem.
        if (answer.startsWith('-')) return { up: true, detail: `Redis at ${where} (${answer.trim().slice(1, 80)})` };
        return { up: false, reason: `${where} answered, but not as Redis`, occupied: true };
      }
      case 'postgres': {
        const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
        const answer = await exchange(endpoint, sslRequest, (b) => b.length >= 1, timeoutMs);
        const byte = String.fromCharCode(answer[0] ?? 0);
        if (byte === 'S' || byte === 'N') return { up: true, detail: `Postgres at ${where}` };
        return { up: false, reason: `${where} answered, but not as Postgres`, occupied: true };
      }
    }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return { up: false, reason: `nothing listens on ${where}`, occupied: false };
    // A timeout or reset: something may hold the port; treat it as occupied rather than start a second server.
    return {
      up: false,
      reason: `${where}: ${(error as Error).message}`,
      occupied: code !== 'EHOSTUNREACH' && code !== 'ENOTFOUND',
    };
  }
}

/** Probes the first server of a service URL. Never throws. */
export async function probeService(kind: ServiceKind, url: string, timeoutMs = 1_500): Promise<ProbeResult> {
  const endpoint = endpointOf(kind, url);
  if (!endpoint) return { up: false, reason: `cannot read host and port from ${JSON.stringify(url)}`, occupied: false };
  return probeEndpoint(kind, endpoint, timeoutMs);
}

/** Polls until the service answers or `timeoutMs` passes; resolves with the last result. */
export async function waitForService(
  kind: ServiceKind,
  url: string,
  timeoutMs: number,
  isAlive: () => boolean = () => true,
): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  let last: ProbeResult = { up: false, reason: 'not probed yet', occupied: false };
  while (Date.now() < deadline && isAlive()) {
    last = await probeService(kind, url, 1_000);
    if (last.up) return last;
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return last;
}
