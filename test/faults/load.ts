/**
 * A steady placement load for the fault suite: many WebSocket clients (one guest user each), spread over
 * the edges, each placing as soon as its cooldown allows, recording every acknowledged placement (its
 * stream sequence and request id) so the suite can check that none was lost.
 */
import type { RplaceClient } from '../../src/client/index.ts';
import { cookieKeepingWebSocket, nodeClient } from '../helpers/edge-process.ts';

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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class PlacementLoad {
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
