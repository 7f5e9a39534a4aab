/**
 * A steady placement load for the fault suite: many WebSocket clients (one guest user each), spread over
 * the edges, each placing as soon as its cooldown allows, recording every acknowledged placement (its
 * stream sequence and request id) so the suite can check that none was lost.
 */
import { randomBytes } from 'node:crypto';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { RplaceClient } from '../../src/client/index.ts';
import { cookieKeepingWebSocket, nodeClient } from '../helpers/edge-process.ts';
import { ACK_FIELDS, type WorkerMessage, type WorkerOptions } from './load-worker.ts';

export interface Acked {
  readonly seq: number;
  readonly requestId: string;
  /** Index of the client (client i talks to edge i % edges). */
  readonly client: number;
  readonly x: number;
  readonly y: number;
  readonly color: number;
  readonly at: number;
  /** ms from sending the placement to its `success` (the soak bench's ack latency). */
  readonly latencyMs: number;
}

export interface LoadOptions {
  readonly edgeUrls: readonly string[];
  readonly clients: number;
  readonly width: number;
  readonly height: number;
  readonly colors: number;
  /** Called for every ack; with `keepAcks: false` the acks are not kept in `acked` (a long soak's memory). */
  readonly onAck?: (ack: Acked) => void;
  readonly keepAcks?: boolean;
}

/** What the harness needs of a load (PlacementLoad in CI's short mode, PeakLoad at peak). */
export interface Load {
  readonly acked: readonly Acked[];
  readonly errors: ReadonlyMap<string, number>;
  start(): Promise<void>;
  ackedSince(since: number): number;
  stop(): Promise<void>;
  /** Figures of the generator itself for the report (offered rate, its CPU). */
  describe?(): Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PlacementLoad implements Load {
  readonly acked: Acked[] = [];
  readonly errors = new Map<string, number>();
  private running = false;
  private readonly clients: RplaceClient[] = [];
  private loops: Promise<void>[] = [];
  private readonly options: LoadOptions;

  constructor(options: LoadOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    this.running = true;
    for (let i = 0; i < this.options.clients; i++) {
      const url = this.options.edgeUrls[i % this.options.edgeUrls.length]!;
      // Each client keeps its guest cookie across reconnects, as a browser does: one guest user per client,
      // so a placement retried after an edge dies is deduplicated, never a second guest's placement.
      this.clients.push(
        nodeClient(url, { trackCanvas: false, placeTimeoutMs: 5_000, WebSocket: cookieKeepingWebSocket() }),
      );
    }
    await Promise.all(this.clients.map((c) => c.connect()));
    await Promise.all(this.clients.map((c) => c.synced()));
    this.loops = this.clients.map((client, i) => this.loop(client, i));
  }

  /** Acks received after `since` (ms epoch). */
  ackedSince(since: number): number {
    return this.acked.filter((a) => a.at >= since).length;
  }

  private count(code: string): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  private async loop(client: RplaceClient, index: number): Promise<void> {
    const { width, height, colors } = this.options;
    let n = 0;
    // Spread the first placements over a second so the load is steady, not a burst per cooldown.
    await sleep((index * 997) % 1000);
    while (this.running) {
      n++;
      const x = (index * 31 + n * 7) % width;
      const y = (index * 17 + n * 13) % height;
      const color = (index + n) % colors;
      const sentAt = Date.now();
      const result = await client.place(x, y, color);
      if (result.type === 'success') {
        const at = Date.now();
        const ack = {
          seq: result.seq,
          requestId: result.requestId,
          client: index,
          x,
          y,
          color,
          at,
          latencyMs: at - sentAt,
        };
        if (this.options.keepAcks !== false) this.acked.push(ack);
        this.options.onAck?.(ack);
        await sleep(Math.max(0, result.nextPlacement - Date.now()) + 20);
      } else {
        this.count(result.code);
        await sleep(result.code === 'cooldown' ? (result.remainingSeconds ?? 1) * 1000 : 100);
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    for (const client of this.clients) client.close();
  }
}

export interface PeakLoadOptions extends LoadOptions {
  /** Placements per second offered in total (each user places every clients / rate seconds, never inside its cooldown). */
  readonly rate: number;
  readonly cooldownMs: number;
  /** The sockets watch only this rectangle (`x,y,width,height`), not the whole canvas (see `PeakLoad`). */
  readonly view?: string;
}

/**
 * The peak load (`FAULT_LOAD=peak`): the same users and the same behaviour under faults as `PlacementLoad`, but
 * generated by one child process per edge (test/faults/load-worker.ts: bare `ws` sockets multiplexed on its own
 * event loop, open-loop at `rate`), so 3,333 placements/s do not compete with the test's event loop, which only
 * records the acks. With `view` the load's sockets are not sent every pixel of the canvas (the fan-out to them
 * would cost the 2-core machine more than the placements; the observers still watch everything).
 */
export class PeakLoad implements Load {
  readonly acked: Acked[] = [];
  readonly errors = new Map<string, number>();
  private readonly options: PeakLoadOptions;
  /** Per generator process, its CPU use from the start to the stop (% of one core). */
  readonly generatorCpu: number[] = [];
  /** Users connected, placements offered per second. */
  startedAt = 0;
  offeredPerSecond = 0;
  private workers: ChildProcess[] = [];
  private stopped: Promise<void>[] = [];
  /** This load's request-id prefix (see WorkerOptions.run). */
  private readonly run = `r${randomBytes(3).toString('hex')}`;

  constructor(options: PeakLoadOptions) {
    this.options = options;
  }

  async start(): Promise<void> {
    const { edgeUrls, clients, rate } = this.options;
    const periodMs = Math.max(this.options.cooldownMs + 20, Math.round((clients / rate) * 1000));
    this.offeredPerSecond = Math.round((clients / periodMs) * 1000);
    const ready: Promise<void>[] = [];
    for (const [e, url] of edgeUrls.entries()) {
      const mine = Array.from({ length: clients }, (_, i) => i).filter((i) => i % edgeUrls.length === e);
      const worker = fork(fileURLToPath(new URL('./load-worker.ts', import.meta.url)), {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      this.workers.push(worker);
      const options: WorkerOptions = {
        url,
        clients: mine,
        areaWidth: this.options.width,
        areaHeight: this.options.height,
        colors: this.options.colors,
        periodMs,
        ...(this.options.view ? { view: this.options.view } : {}),
        run: this.run,
      };
      worker.send(options);
      ready.push(
        new Promise((resolveReady, reject) => {
          worker.once('exit', (code) => reject(new Error(`load worker for ${url} exited (${code}) before ready`)));
          worker.on('message', (m: WorkerMessage) => {
            if (m.t === 'ready') resolveReady();
            else if (m.t === 'batch') this.take(m);
          });
        }),
      );
      this.stopped.push(
        new Promise((resolveStopped) => {
          worker.on('message', (m: WorkerMessage) => {
            if (m.t !== 'stopped') return;
            this.generatorCpu.push(Math.round((m.cpuMs / Math.max(1, m.wallMs)) * 100));
            resolveStopped();
          });
          worker.once('exit', () => resolveStopped());
        }),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the peak load's ${clients} users not all welcomed within 120 s`)),
        120_000,
      );
    });
    try {
      await Promise.race([Promise.all(ready), timeout]);
      for (const w of this.workers) w.send({ t: 'go' });
      this.startedAt = Date.now();
    } catch (error) {
      for (const w of this.workers) w.kill();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  private take(m: Extract<WorkerMessage, { t: 'batch' }>): void {
    const a = m.acks;
    for (let k = 0; k < a.length; k += ACK_FIELDS) {
      const ack: Acked = {
        client: a[k]!,
        requestId: `${this.run}c${a[k]}-${a[k + 1]}`,
        seq: a[k + 2]!,
        x: a[k + 3]!,
        y: a[k + 4]!,
        color: a[k + 5]!,
        at: a[k + 6]!,
        latencyMs: a[k + 7]!,
      };
      if (this.options.keepAcks !== false) this.acked.push(ack);
      this.options.onAck?.(ack);
    }
    for (const [code, n] of Object.entries(m.errors)) this.errors.set(code, (this.errors.get(code) ?? 0) + n);
  }

  ackedSince(since: number): number {
    let n = 0;
    for (const a of this.acked) if (a.at >= since) n++;
    return n;
  }

  describe(): Record<string, unknown> {
    return { offeredPerSecond: this.offeredPerSecond, generatorCpuPercent: this.generatorCpu };
  }

  async stop(): Promise<void> {
    for (const w of this.workers) if (w.connected) w.send({ t: 'stop' });
    await Promise.all(this.stopped);
    for (const w of this.workers) if (w.exitCode === null) w.kill();
  }
}
