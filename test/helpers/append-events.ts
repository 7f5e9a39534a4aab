/**
 * Appends test events straight to a canvas stream with plain `js.publish` (a window of concurrent
 * publishes, every ack awaited), bypassing the placement command: for tests and benches of readers.
 */
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { encodeEvent, EventKind, type CanvasResized, type PixelPlaced } from '../../proto/event-codec.ts';
import { createJetStreamEventLog } from '../../src/adapters/nats/event-log.ts';
import type { Names } from '../../src/domain/names.ts';

export interface TestPixel {
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

/** A minute before this test process started: readers reject a `placedAt` far from the time it was stored. */
const PLACED_FROM = Date.now() - 60_000;

export function pixelEvent(p: TestPixel, i: number): PixelPlaced {
  return {
    kind: EventKind.PixelPlaced,
    x: p.x,
    y: p.y,
    color: p.color,
    userId: `u${i % 5000}`,
    requestId: `r${i}-${p.x}-${p.y}`,
    placedAt: PLACED_FROM + i,
  };
}

/** An operator's resize to `width`×`height`, the old area at the origin. */
export function growEvent(width: number, height: number, requestId: string): CanvasResized {
  return {
    kind: EventKind.CanvasResized,
    width,
    height,
    originX: 0,
    originY: 0,
    userId: 'operator',
    requestId,
    placedAt: Date.now(),
  };
}

/** Deterministic pseudo-random pixels on a `width`×`height` canvas with `colors` colours. */
export function randomPixels(count: number, width: number, height: number, colors: number, seed = 1): TestPixel[] {
  let s = seed >>> 0 || 1;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return Array.from({ length: count }, () => ({ x: next() % width, y: next() % height, color: next() % colors }));
}

/** Publishes every pixel (as a PixelPlaced event) in order of acknowledgement; returns the last sequence. */
export async function appendPixels(
  nc: NatsConnection,
  names: Names,
  pixels: readonly TestPixel[],
  window = 2000,
): Promise<number> {
  const js = jetstream(nc);
  let last = 0;
  for (let i = 0; i < pixels.length; i += window) {
    const acks = await Promise.all(
      pixels
        .slice(i, i + window)
        .map((p, j) => js.publish(names.pixelSubject(p.x, p.y), encodeEvent(pixelEvent(p, i + j)))),
    );
    for (const ack of acks) last = Math.max(last, ack.seq);
  }
  return last;
}

/** Publishes raw bytes (e.g. an undecodable event) to the canvas stream; returns its sequence. */
export async function appendRaw(nc: NatsConnection, names: Names, bytes: Uint8Array): Promise<number> {
  return (await jetstream(nc).publish(names.pixelSubject(0, 0), bytes)).seq;
}

/**
 * Appends every pixel through the real `EventLog` adapter (all at once, each with message id
 * `<idPrefix>/<i>`, placed now by `userId`), the way the placement command writes; returns the last sequence.
 */
export async function appendThroughLog(
  nc: NatsConnection,
  names: Names,
  pixels: readonly TestPixel[],
  userId = 'bulk',
  idPrefix = userId,
): Promise<number> {
  const log = createJetStreamEventLog(nc, names, { timeoutMs: 5000 });
  try {
    const acks = await Promise.all(
      pixels.map((p, i) =>
        log.append(
          {
            kind: EventKind.PixelPlaced,
            x: p.x,
            y: p.y,
            color: p.color,
            userId,
            requestId: `${idPrefix}${i}`,
            placedAt: Date.now(),
          },
          `${idPrefix}/${i}`,
        ),
      ),
    );
    return Math.max(0, ...acks.map((a) => a.seq));
  } finally {
    await log.close();
  }
}

/**
 * Publishes `pixels` as `userId`'s placements at `placedAt`, the way the edge stores them, one after the
 * other (stream order is the array's).
 */
export async function appendPlacementsBy(
  nc: NatsConnection,
  names: Names,
  userId: string,
  pixels: readonly TestPixel[],
  placedAt: number,
): Promise<void> {
  const js = jetstream(nc);
  for (const [i, p] of pixels.entries()) {
    await js.publish(
      names.pixelSubject(p.x, p.y),
      encodeEvent({ kind: EventKind.PixelPlaced, ...p, userId, requestId: `r${placedAt}-${i}`, placedAt }),
    );
  }
}

/** The canvas stream's last sequence (0 when empty). */
export async function lastStreamSeq(nc: NatsConnection, names: Names): Promise<number> {
  return (await (await jetstreamManager(nc)).streams.info(names.stream)).state.last_seq;
}
