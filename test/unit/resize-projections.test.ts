/**
 * Growing the canvas, through every projection on the fakes (no service): given placements, a resize and
 * placements outside the old bounds, when the bitmap projection, a rebuild from the log (whole replay, and
 * from a snapshot taken before the resize) and the edge's canvas follow the stream, then each equals the
 * replay at every sequence, byte for byte and in the new size; the operator's command refuses shrinking.
 * test/integration/canvas-resize.test.ts keeps the same story on NATS, Redis and Postgres.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { EventKind, type LogEvent } from '../../proto/event-codec.ts';
import { rebuildBitmap, runBitmapProjection } from '../../src/app/project-bitmap.ts';
import { applyColumns, recoverCanvas } from '../../src/app/recover-canvas.ts';
import { resizeCanvas } from '../../src/app/resize-canvas.ts';
import { EdgeCanvas, SequenceGap } from '../../src/domain/edge/edge-canvas.ts';
import { growCanvas } from '../../src/domain/resize.ts';
import { createFakeBitmapStore } from '../kit/fakes/bitmap-store.ts';
import { createFakeEventStream } from '../kit/fakes/event-stream.ts';
import { MemoryStream } from '../kit/fakes/memory-stream.ts';
import { createFakeProjectionSource } from '../kit/fakes/projection-source.ts';
import type { ResizeLog } from '../../src/ports/event-log.ts';
import type { SnapshotSource } from '../../src/app/recover-canvas.ts';

const initial = { width: 8, height: 4 };
const quiet = { info: () => undefined, warn: () => undefined };
const place = (x: number, y: number, color: number, n: number): LogEvent => ({
  kind: EventKind.PixelPlaced,
  x,
  y,
  color,
  userId: 'u',
  requestId: `r${n}`,
  placedAt: 0,
});
const resizeTo = (width: number, height: number, originX = 0, originY = 0): LogEvent => ({
  kind: EventKind.CanvasResized,
  width,
  height,
  originX,
  originY,
  userId: 'operator',
  requestId: `rs${width}x${height}`,
  placedAt: 0,
});

/** 1..20 inside 8×4, 21 = resize to 12×6 at (2, 1), 22..40 anywhere in 12×6 (outside the old bounds too). */
function story(): MemoryStream {
  const stream = new MemoryStream();
  for (let i = 0; i < 20; i++) stream.append(place(i % 8, i % 4, (i % 31) + 1, i), `m${i}`);
  stream.append(resizeTo(12, 6, 2, 1), 'resize');
  for (let i = 20; i < 39; i++) stream.append(place(11 - (i % 12), 5 - (i % 6), (i % 31) + 1, i), `m${i}`);
  return stream;
}

/** The reference: a hand replay with the domain's growCanvas. */
function reference(stream: MemoryStream, through: number) {
  let size = { ...initial };
  let canvas: Uint8Array = new Uint8Array(size.width * size.height);
  for (const { seq, event } of stream.events) {
    if (seq > through) break;
    if (event.kind === EventKind.CanvasResized) {
      canvas = growCanvas(canvas, size, event);
      size = { width: event.width, height: event.height };
    } else canvas[event.y * size.width + event.x] = event.color;
  }
  return { canvas, ...size };
}

let controller: AbortController | undefined;
afterEach(() => controller?.abort());

describe('a resize through the projections (fakes)', () => {
  it('the bitmap projection follows it at its sequence and equals the replay', async () => {
    const stream = story();
    const store = createFakeBitmapStore(initial);
    controller = new AbortController();
    const running = runBitmapProjection(
      {
        store,
        source: createFakeProjectionSource(stream, { maxBatch: 7 }),
        stream: createFakeEventStream(stream, { initial }),
        spec: initial,
        log: quiet,
        wipeCheckMs: 10,
      },
      controller.signal,
    );
    await expect.poll(async () => (await store.load())?.seq).toBe(stream.lastSeq);
    expect(await store.load()).toEqual({ ...reference(stream, stream.lastSeq), seq: stream.lastSeq });
    controller.abort();
    await running;
  });

  it('a rebuild crossing the resize (whole replay, and from a snapshot taken before it) equals the replay', async () => {
    const stream = story();
    const events = createFakeEventStream(stream, { initial, maxBatch: 3 });
    const full = await recoverCanvas({ stream: events, spec: initial }, { full: true });
    expect({ canvas: full.canvas, width: full.width, height: full.height }).toEqual(reference(stream, 40));
    const before = reference(stream, 15); // a snapshot of the old size, at 15
    const snapshots: SnapshotSource = {
      latestSnapshot: async () => ({ seq: 15, capturedAt: 0, maxPlacedAt: 0, pixelCount: 15, ...initial }),
      loadSnapshot: async () => before.canvas.slice(),
    };
    const fromSnapshot = await recoverCanvas({ stream: events, spec: initial, snapshots }, {});
    expect(fromSnapshot.path.kind).toBe('snapshot');
    expect(fromSnapshot.canvas).toEqual(full.canvas);
    expect([fromSnapshot.width, fromSnapshot.height]).toEqual([12, 6]);
    // a snapshot whose size is not the one in force at its sequence is rejected, not replayed into
    const wrong: SnapshotSource = {
      latestSnapshot: async (max) =>
        max >= 30 ? { seq: 30, capturedAt: 0, maxPlacedAt: 0, pixelCount: 29, ...initial } : null,
      loadSnapshot: async () => new Uint8Array(32),
    };
    const fallback = await recoverCanvas({ stream: events, spec: initial, snapshots: wrong }, {});
    expect(fallback.path).toMatchObject({ kind: 'full' });
    expect(fallback.path.rejected[0]).toMatch(/is 8×4, not 12×6/);
    const store = createFakeBitmapStore(initial);
    await rebuildBitmap({ stream: events, store, spec: initial }, { full: true });
    expect(await store.load()).toEqual({ ...reference(stream, 40), seq: 40 });
  });

  it('the edge canvas: events before the resize in the old size, then the new size, the ring emptied', () => {
    const stream = story();
    const edge = new EdgeCanvas(initial.width, new Uint8Array(32), 0, { ringEvents: 100 });
    for (const { seq, event } of stream.events) {
      if (event.kind === EventKind.CanvasResized) {
        expect(() => edge.resize(seq, event)).toThrow(/flush first/);
        edge.flush();
        expect(() => edge.resize(seq + 1, event)).toThrow(SequenceGap);
        expect(edge.resize(seq, event)).toBe(true);
        expect(edge.resize(seq, event)).toBe(false); // a redelivery
        expect(edge.catchUp(seq - 1)).toEqual({ kind: 'canvas' }); // the ring's records were in the old size
        expect(edge.catchUp(seq)).toMatchObject({ kind: 'pixels' });
      } else edge.pushPixel(seq, event.x, event.y, event.color);
      if (seq === 10 || seq === 30) {
        edge.flush();
        expect({ canvas: edge.canvas, width: edge.width, height: edge.height }).toEqual(reference(stream, seq));
      }
    }
    edge.flush();
    expect({ canvas: edge.canvas, width: edge.width, height: edge.height }).toEqual(reference(stream, 40));
    expect(edge.tileFrame(0, 0).length).toBeGreaterThan(12 * 6);
  });

  it('applyColumns applies a resize between the entries around it', () => {
    const state = { canvas: new Uint8Array(4), width: 2, height: 2 };
    applyColumns(state, {
      count: 3,
      seqs: Float64Array.of(1, 2, 3),
      setsPixel: Uint8Array.of(1, 0, 1),
      xs: Uint16Array.of(1, 0, 2),
      ys: Uint16Array.of(1, 0, 2),
      colors: Uint8Array.of(5, 0, 6),
      resizes: [{ index: 1, resize: { width: 3, height: 3, originX: 0, originY: 0 } }],
    });
    expect([...state.canvas]).toEqual([0, 0, 0, 0, 5, 0, 0, 0, 6]);
  });
});

describe('resizeCanvas (the operator command)', () => {
  const log = (): ResizeLog & { calls: unknown[][] } => {
    const calls: unknown[][] = [];
    return { calls, appendResize: async (...args) => (calls.push(args), { seq: 99, duplicate: false }) };
  };
  const clock = { now: () => 1_700_000_000_000 };

  it('refuses shrinking with canvas_shrink and appends nothing', async () => {
    const stream = story();
    const l = log();
    const outcome = await resizeCanvas(
      { stream: createFakeEventStream(stream, { initial }), log: l, clock },
      { width: 10, height: 6, originX: 0, originY: 0, operator: 'operator', requestId: 'x' },
    );
    expect(outcome).toMatchObject({ kind: 'refused', code: 'canvas_shrink', size: { width: 12, height: 6 } });
    expect(l.calls).toEqual([]);
  });

  it('appends a resize conditional on the last resize it read', async () => {
    const stream = story();
    const l = log();
    const outcome = await resizeCanvas(
      { stream: createFakeEventStream(stream, { initial }), log: l, clock },
      { width: 24, height: 12, originX: 0, originY: 0, operator: 'operator', requestId: 'grow' },
    );
    expect(outcome).toEqual({
      kind: 'resized',
      seq: 99,
      from: { width: 12, height: 6 },
      to: { width: 24, height: 12, originX: 0, originY: 0 },
      duplicate: false,
    });
    expect(l.calls[0]?.slice(1)).toEqual(['grow', 21]);
    expect(l.calls[0]?.[0]).toMatchObject({ kind: EventKind.CanvasResized, width: 24, placedAt: clock.now() });
  });
});
