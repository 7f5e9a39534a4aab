/** Starts the real edge role as a child process (so a test can SIGKILL it) and Node clients for it. */
import { spawn, type ChildProcess } from 'node:child_process';
import WebSocket from 'ws';
import { RplaceClient, type ClientOptions, type WebSocketConstructor } from '../../src/client/index.ts';
import type { Names } from '../../src/domain/names.ts';
import { testEnv } from './isolation.ts';
import { waitForHttpOk } from '../kit/wait-ready.ts';

export const TEST_SESSION_SECRET = 'test-secret-test-secret-test-secret-0123';

/** Re-exported for the e2e harness and the benches, which import it from here. */
export { freePort } from '../kit/free-port.ts';

export interface EdgeProcess {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  readonly output: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Every edge child started by this test file, so a failed start never leaks one. */
const started = new Set<ChildProcess>();
export function killAllEdgeProcesses(): void {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
}

export async function startEdgeProcess(
  names: Names,
  port: number,
  extra: Record<string, string> = {},
): Promise<EdgeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/roles/edge/main.ts'], {
    env: {
      ...process.env,
      ...testEnv(names, {
        PORT: String(port),
        HOST: '127.0.0.1',
        SESSION_SECRET: TEST_SESSION_SECRET,
        CANVAS_WIDTH: '64',
        CANVAS_HEIGHT: '64',
        COOLDOWN_SECONDS: '1',
        ...extra,
      }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  // tsx compiles the role at start: slow on a busy 2-core machine.
  await waitForHttpOk(`${url}/readyz`, child, { timeoutMs: 90_000, output: () => output, what: 'edge' }).catch(
    (error: unknown) => {
      child.kill('SIGKILL');
      throw error;
    },
  );
  return {
    port,
    url,
    child,
    output: () => output,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export const NodeWebSocket = class extends WebSocket {
  constructor(url: string) {
    super(url, { perMessageDeflate: false });
  }
} satisfies WebSocketConstructor;

/**
 * A WebSocket class that keeps the cookies its upgrades set and sends them on its next connections, as a
 * browser does: a guest stays the same user across reconnects, so a placement retried after a reconnect is
 * the same user's retry (deduplicated by the log) and not a new guest's placement. One class per client.
 */
export function cookieKeepingWebSocket(): WebSocketConstructor {
  let cookie = '';
  return class extends WebSocket {
    constructor(url: string) {
      super(url, { perMessageDeflate: false, ...(cookie ? { headers: { cookie } } : {}) });
      this.once('upgrade', (response) => {
        const set = response.headers['set-cookie'];
        if (set && set.length > 0) cookie = set.map((c) => c.split(';')[0]).join('; ');
      });
    }
  } satisfies WebSocketConstructor;
}

export function nodeClient(url: string, options: Partial<ClientOptions> = {}): RplaceClient {
  return new RplaceClient({
    url,
    WebSocket: NodeWebSocket,
    backoff: { initialMs: 200, maxMs: 1000, jitterMs: 100 },
    ...options,
  });
}
