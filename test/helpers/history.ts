/** Helpers for history tests: publish events with chosen times, and the reference "canvas at T" replay. */
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeEvent, EventKind, type PixelPlaced } from '../../proto/event-codec.ts';
import type { HttpResponse } from '../../src/app/http.ts';
import type { Names } from '../../src/domain/names.ts';

export interface TestEvent extends PixelPlaced {
  seq: number;
}

/** Publishes events in pipelined chunks; returns them with their stream sequences. */
export async function publishEvents(
  nc: NatsConnection,
  names: Names,
  events: readonly Omit<PixelPlaced, 'kind'>[],
): Promise<TestEvent[]> {
  const js = jetstream(nc);
  const out: TestEvent[] = [];
  for (let i = 0; i < events.length; i += 500) {
    const chunk = events.slice(i, i + 500);
    const acks = await Promise.all(
      chunk.map((e) => js.publish(names.pixelSubject(e.x, e.y), encodeEvent({ kind: EventKind.PixelPlaced, ...e }))),
    );
    acks.forEach((ack, j) =>
      out.push({ kind: EventKind.PixelPlaced, ...(chunk[j] as Omit<PixelPlaced, 'kind'>), seq: ack.seq }),
    );
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/** Random events over [start, start + span) ms, with times jittered so they are NOT monotone in sequence. */
export function randomEvents(
  count: number,
  width: number,
  height: number,
  start: number,
  span: number,
  colors = 32,
  seed = 1,
): Omit<PixelPlaced, 'kind'>[] {
  let s = seed >>> 0;
  const rand = () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  return Array.from({ length: count }, (_, i) => ({
    x: Math.floor(rand() * width),
    y: Math.floor(rand() * height),
    color: Math.floor(rand() * colors),
    userId: `u${Math.floor(rand() * 50)}`,
    requestId: `r${i}-${seed}`,
    placedAt: Math.round(start + (span * i) / count + (rand() - 0.5) * (span / count) * 6),
  }));
}

/** The reference rule: replay in sequence order, stopping at the first event placed after `time`. */
export function referenceCanvasAt(
  events: readonly TestEvent[],
  width: number,
  height: number,
  time: number,
): { canvas: Uint8Array; seq: number } {
  const canvas = new Uint8Array(width * height);
  let seq = 0;
  for (const e of events) {
    if (e.placedAt > time) break;
    canvas[e.y * width + e.x] = e.color;
    seq = e.seq;
  }
  return { canvas, seq };
}

export function referenceCanvasToSeq(
  events: readonly TestEvent[],
  width: number,
  height: number,
  upTo: number,
): Uint8Array {
  const canvas = new Uint8Array(width * height);
  for (const e of events) if (e.seq <= upTo) canvas[e.y * width + e.x] = e.color;
  return canvas;
}

/** A route's whole body (streamed or not) as one buffer. */
export async function bytesOf(response: HttpResponse): Promise<Buffer> {
  const body = response.body;
  if (body === undefined) return Buffer.alloc(0);
  if (typeof body === 'string' || body instanceof Uint8Array) return Buffer.from(body);
  const parts: Uint8Array[] = [];
  for await (const part of body) parts.push(part);
  return Buffer.concat(parts);
}
