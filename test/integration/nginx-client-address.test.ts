/**
 * Per-IP limits behind the shipped proxy: the real nginx running deploy/nginx.conf (test/helpers/nginx.ts)
 * in front of a real edge, in both ways the edge can read the address (the X-Real-IP nginx overwrites, or
 * the right-most X-Forwarded-For entry that is not a trusted proxy). Clients come from distinct loopback
 * addresses (127.0.0.x), so nginx's $remote_addr differs per client while nginx itself is 127.0.0.1.
 * A spoofed X-Forwarded-For / X-Real-IP changes nothing, through nginx or straight to the edge.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startEdge } from '../../src/roles/edge/start.ts';
import { edgeSchema } from '../../src/config/edge.ts';
import { loadConfig } from '../../src/config/load.ts';
import { createLogger } from '../../src/adapters/logger.ts';
import { cleanupCanvas, testEnv, testNames } from '../helpers/isolation.ts';
import { freePort, TEST_SESSION_SECRET } from '../helpers/edge-process.ts';
import { startNginx, type Nginx } from '../helpers/nginx.ts';

const names = testNames('nginxaddr');
const sockets: WebSocket[] = [];

/** Opens a WebSocket from `localAddress`; resolves 'open' or the HTTP status it was refused with. */
function open(base: string, localAddress: string, headers: Record<string, string> = {}): Promise<'open' | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/ws?v=1`, {
      headers,
      localAddress,
      perMessageDeflate: false,
    });
    sockets.push(ws);
    ws.once('open', () => resolve('open'));
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.once('error', reject);
  });
}

const spoof = (address: string) => ({ 'x-forwarded-for': address, 'x-real-ip': address });

describe.each([
  { mode: 'X-Real-IP (overwritten by nginx)', env: { CLIENT_ADDRESS_HEADER: 'X-Real-IP' }, subnet: 10 },
  { mode: 'right-most untrusted X-Forwarded-For', env: {} as Record<string, string>, subnet: 20 },
])('behind the shipped nginx, client address from $mode', ({ env, subnet }) => {
  let nginx: Nginx;
  let edgeUrl: string;
  let metricsPort: number;
  let stopEdge: () => Promise<void>;
  const client = (n: number) => `127.0.${subnet}.${n}`;

  beforeAll(async () => {
    metricsPort = await freePort();
    const config = loadConfig(
      edgeSchema,
      testEnv(names, {
        PORT: '0',
        HOST: '127.0.0.1',
        SESSION_SECRET: TEST_SESSION_SECRET,
        CANVAS_WIDTH: '16',
        CANVAS_HEIGHT: '16',
        LOG_LEVEL: 'silent',
        WS_MAX_CONNECTIONS_PER_IP: '2',
        TRUSTED_PROXIES: '127.0.0.1',
        METRICS_PORT: String(metricsPort),
        ...env,
      }),
    );
    let port = 0;
    stopEdge = await startEdge(config, createLogger('edge', 'silent'), { onListening: (p) => (port = p) });
    edgeUrl = `http://127.0.0.1:${port}`;
    nginx = await startNginx([`127.0.0.1:${port}`]);
  }, 60_000);

  afterAll(async () => {
    for (const ws of sockets.splice(0)) ws.terminate();
    await nginx?.stop();
    await stopEdge?.();
  }, 30_000);

  it("a client spoofing X-Forwarded-For and X-Real-IP through nginx still gets only its own address's budget", async () => {
    expect(await open(nginx.url, client(1), spoof('203.0.113.1'))).toBe('open');
    expect(await open(nginx.url, client(1), spoof('203.0.113.2'))).toBe('open');
    expect(await open(nginx.url, client(1), spoof('203.0.113.3'))).toBe(429);
    expect(await open(nginx.url, client(1), { 'x-forwarded-for': `${client(2)}, 127.0.0.1` })).toBe(429);
  });

  it('every real client address behind nginx has its own budget (the edge does not see only nginx)', async () => {
    expect(await open(nginx.url, client(2))).toBe('open');
    expect(await open(nginx.url, client(3))).toBe('open');
    expect(await open(nginx.url, client(3))).toBe('open');
    expect(await open(nginx.url, client(3))).toBe(429);
  });

  it('straight to the edge, an untrusted peer is the client whatever headers it sends', async () => {
    expect(await open(edgeUrl, client(4), spoof(client(5)))).toBe('open');
    expect(await open(edgeUrl, client(4), spoof(client(6)))).toBe('open');
    expect(await open(edgeUrl, client(4), spoof(client(7)))).toBe(429);
  });

  it('metrics are on the internal METRICS_PORT only: not on the public port, not through nginx', async () => {
    expect((await fetch(`${nginx.url}/metrics`)).status).toBe(404);
    expect((await fetch(`${edgeUrl}/metrics`)).status).toBe(404);
    const internal = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(internal.status).toBe(200);
    expect(await internal.text()).toContain('rplace_ws_connections');
    expect((await fetch(`${edgeUrl}/healthz`)).status).toBe(200);
  });
});

afterAll(async () => cleanupCanvas(names), 30_000);
