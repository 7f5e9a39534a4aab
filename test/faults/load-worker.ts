/**
 * The peak load's generator process (test/faults/load.ts, `PeakLoad`): many guest users on one edge, each its
 * own WebSocket (`ws`, no reference client, no canvas kept), multiplexed on this process's event loop so the
 * test's own loop only records acks. Forked with an IPC channel; its options come as the first message.
 *
 * Each user places open-loop every `periodMs` (never before its cooldown ends), one placement in flight, and
 * behaves as the reference client does on faults: a placement in flight when its socket closes is sent again
 * with the same request id after the reconnect (the edge deduplicates it), with the guest cookie kept, and
 * given up after 5 s (`timeout`, not an ack). Acks go to the parent in batches every 100 ms as flat numbers.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';

export interface WorkerOptions {
  readonly url: string;
  /** Client indices this process runs (the harness tells edges apart by index modulo the edge count). */
  readonly clients: readonly number[];
  /** Placements land in [0, areaWidth) × [0, areaHeight). */
  readonly areaWidth: number;
  readonly areaHeight: number;
  readonly colors: number;
  /** Each user's placement period (≥ the cooldown). */
  readonly periodMs: number;
  /** `x,y,width,height`: the sockets watch only this rectangle (`?view=`), not the whole canvas. */
  readonly view?: string;
  /**
   * Prefixes every request id (`<run>c<client>-<n>`): tests that share one stream (partition.test.ts runs three
   * faults on one topology) must not reuse each other's ids, or "request ids stored twice" counts the earlier run.
   */
  readonly run: string;
}

/** What the parent gets: `acks` as [client, n, seq, x, y, color, at, latencyMs] × k; error counts since the last. */
export type WorkerMessage =
  | { readonly t: 'ready'; readonly connected: number }
  | { readonly t: 'batch'; readonly acks: number[]; readonly errors: Record<string, number> }
  /** This process's CPU time (user + system) and wall time from the `go` to the stop, ms: is the generator the limit? */
  | { readonly t: 'stopped'; readonly cpuMs: number; readonly wallMs: number };

export const ACK_FIELDS = 8;
const PLACE_TIMEOUT_MS = 5_000;
/** After an error other than a cooldown (`unavailable` while NATS is down, …): a new placement this much later. */
const RETRY_MS = 200;

interface InFlight {
  readonly n: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly sentAt: number;
  readonly message: string;
}

interface User {
  readonly client: number;
  ws: WebSocket | undefined;
  cookie: string;
  open: boolean;
  n: number;
  inFlight: InFlight | undefined;
  /** A placement that timed out: sent again under its request id, as a client must (its outcome is unknown). */
  timedOut: InFlight | undefined;
  timer: NodeJS.Timeout | undefined;
  backoffMs: number;
  welcomed: boolean;
  cooldownMs: number;
}

const send = (m: WorkerMessage) => process.send!(m);

function run(options: WorkerOptions): void {
  const wsUrl = `${options.url.replace(/^http/, 'ws')}/ws?v=1${options.view ? `&view=${options.view}` : ''}`;
  let running = true;
  let acks: number[] = [];
  let errors: Record<string, number> = {};
  const count = (code: string) => {
    errors[code] = (errors[code] ?? 0) + 1;
  };
  const users: User[] = options.clients.map((client) => ({
    client,
    ws: undefined,
    cookie: '',
    open: false,
    n: 0,
    inFlight: undefined,
    timedOut: undefined,
    timer: undefined,
    backoffMs: 200,
    welcomed: false,
    cooldownMs: 0,
  }));
  let welcomed = 0;
  /** Users place only once every process's users are connected (the parent's `go`), so the rate is steady from its first ack. */
  let going = false;
  let goAt = 0;
  const goCpu = { user: 0, system: 0 };

  // Spread the users over the period, so the load is steady rather than a burst per cooldown.
  const spreadOf = (user: User) => ((user.client * 997) % 1000) * (options.periodMs / 1000);
  const schedule = (user: User, at: number) => {
    clearTimeout(user.timer);
    user.timer = setTimeout(() => place(user), Math.max(0, at - Date.now()));
  };

  const place = (user: User) => {
    user.timer = undefined;
    if (!running || !going || user.inFlight || !user.open) return;
    // A new request id would be a second placement if the first landed unanswered (an edge killed after the
    // append): its cooldown would refuse it, which no client should see. The same id is deduplicated instead.
    const again = user.timedOut;
    user.timedOut = undefined;
    const i = user.client;
    const n = again?.n ?? ++user.n;
    const x = again?.x ?? (i * 31 + n * 7) % options.areaWidth;
    const y = again?.y ?? (i * 17 + n * 13) % options.areaHeight;
    const color = again?.color ?? (i + n) % options.colors;
    const message =
      again?.message ?? JSON.stringify({ type: 'place', x, y, color, requestId: `${options.run}c${i}-${n}` });
    user.inFlight = { n, x, y, color, sentAt: Date.now(), message };
    user.ws!.send(message);
    user.timer = setTimeout(() => {
      user.timer = undefined;
      if (user.inFlight?.n !== n) return;
      user.timedOut = user.inFlight;
      user.inFlight = undefined;
      count('timeout');
      schedule(user, Date.now() + RETRY_MS);
    }, PLACE_TIMEOUT_MS);
  };

  const onText = (user: User, text: string) => {
    const m = JSON.parse(text) as {
      type: string;
      requestId?: string;
      seq?: number;
      nextPlacement?: number;
      remainingSeconds?: number;
      cooldownRemaining?: number;
      code?: string;
    };
    if (m.type === 'welcome') {
      user.backoffMs = 200;
      if (!user.welcomed) {
        user.welcomed = true;
        if (++welcomed === users.length) send({ t: 'ready', connected: welcomed });
      }
      if (user.inFlight) {
        // The answer to this may have been lost with the old socket: the same request id, deduplicated.
        user.ws!.send(user.inFlight.message);
        return;
      }
      user.cooldownMs = (m.cooldownRemaining ?? 0) * 1000;
      if (going) schedule(user, Date.now() + Math.max(spreadOf(user), user.cooldownMs));
      return;
    }
    const inFlight = user.inFlight;
    if (!inFlight || m.requestId !== `${options.run}c${user.client}-${inFlight.n}`) return;
    clearTimeout(user.timer);
    user.inFlight = undefined;
    const now = Date.now();
    if (m.type === 'success') {
      acks.push(user.client, inFlight.n, m.seq!, inFlight.x, inFlight.y, inFlight.color, now, now - inFlight.sentAt);
      schedule(user, Math.max(inFlight.sentAt + options.periodMs, m.nextPlacement! + 10));
    } else {
      count(m.code ?? m.type);
      schedule(user, m.code === 'cooldown' ? now + (m.remainingSeconds ?? 1) * 1000 + 10 : now + RETRY_MS);
    }
  };

  const connect = (user: User) => {
    if (!running) return;
    const ws = new WebSocket(wsUrl, {
      perMessageDeflate: false,
      ...(user.cookie ? { headers: { cookie: user.cookie } } : {}),
    });
    user.ws = ws;
    ws.on('upgrade', (response) => {
      const set = response.headers['set-cookie'];
      if (set && set.length > 0) user.cookie = set.map((c) => c.split(';')[0]).join('; ');
    });
    ws.on('open', () => {
      user.open = true;
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) onText(user, String(data));
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (user.ws !== ws) return;
      user.open = false;
      if (!user.inFlight) clearTimeout(user.timer);
      if (!running) return;
      const delay = user.backoffMs + Math.random() * 100;
      user.backoffMs = Math.min(1_000, user.backoffMs * 2);
      setTimeout(() => connect(user), delay);
    });
  };

  const flush = setInterval(() => {
    if (acks.length === 0 && Object.keys(errors).length === 0) return;
    send({ t: 'batch', acks, errors });
    acks = [];
    errors = {};
  }, 100);

  process.on('message', (message: { t: string }) => {
    if (message.t === 'go') {
      going = true;
      goAt = Date.now();
      Object.assign(goCpu, process.cpuUsage());
      const now = Date.now();
      for (const u of users) if (u.open) schedule(u, now + Math.max(spreadOf(u), u.cooldownMs));
      return;
    }
    if (message.t !== 'stop') return;
    running = false;
    // Answers to placements in flight still count: wait for them (bounded by their timeout).
    const deadline = Date.now() + PLACE_TIMEOUT_MS + 500;
    const wait = setInterval(() => {
      if (users.some((u) => u.inFlight && u.open) && Date.now() < deadline) return;
      clearInterval(wait);
      clearInterval(flush);
      for (const u of users) {
        clearTimeout(u.timer);
        u.ws?.close();
      }
      send({ t: 'batch', acks, errors });
      const cpu = process.cpuUsage(goCpu);
      send({ t: 'stopped', cpuMs: (cpu.user + cpu.system) / 1000, wallMs: Date.now() - goAt });
      process.disconnect();
    }, 50);
  });

  // Connect in batches, so 1,700 upgrades do not overflow the edge's accept backlog at once.
  let next = 0;
  const batch = setInterval(() => {
    for (let k = 0; k < 100 && next < users.length; k++) connect(users[next++]!);
    if (next >= users.length) clearInterval(batch);
  }, 20);
}

// Only when forked as the worker: load.ts imports this module for its types and ACK_FIELDS.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.once('message', (options: WorkerOptions) => run(options));
