/**
 * Growing a canvas mid-event (r/place 2022: 1000² → 2000×1000 → 2000²): the resize rule, how an old bitmap maps
 * into the grown one, and the size in force at any stream sequence.
 *
 * A `CanvasResized` event (proto/event-codec.ts) says the new width and height and where the old area sits in
 * the new canvas (`originX`, `originY`: the new coordinates of the old pixel (0, 0)). From its sequence on, every
 * placement is checked against the new size; pixels outside the old area start as colour index 0, like a fresh
 * canvas. Coordinates of events before the resize stay those of the canvas they were placed on.
 *
 * Every reader applies the same `checkResize` to the same log, so every reader accepts (or skips) the same
 * resizes and all projections keep the same size at the same sequence.
 */
import { MAX_CANVAS_SIDE } from './canvas.ts';

export interface CanvasSize {
  readonly width: number;
  readonly height: number;
}

/** What a resize asks for: the new size and where the old canvas lands in it. */
export interface Resize extends CanvasSize {
  readonly originX: number;
  readonly originY: number;
}

/** Why a resize is refused: wire codes of the CLI and of the readers' skip log. */
export const ResizeRefusal = {
  /** Either side smaller than now: a canvas only grows (pixels would be lost). */
  Shrink: 'canvas_shrink',
  /** Same width and height: nothing to do. */
  Unchanged: 'canvas_unchanged',
  /** The old area would not fit inside the new canvas at the given origin. */
  Origin: 'resize_origin_outside',
  /** A side above `MAX_CANVAS_SIDE` or not a positive integer. */
  TooLarge: 'canvas_too_large',
} as const;
export type ResizeRefusal = (typeof ResizeRefusal)[keyof typeof ResizeRefusal];

export type ResizeVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly code: ResizeRefusal; readonly message: string };

const isSide = (n: number) => Number.isInteger(n) && n >= 1 && n <= MAX_CANVAS_SIDE;

/**
 * THE resize rule: the canvas only grows (neither side shrinks, at least one grows), stays within
 * `MAX_CANVAS_SIDE`, and the old area fits inside the new one at the origin.
 */
export function checkResize(current: CanvasSize, resize: Resize): ResizeVerdict {
  const { width, height, originX, originY } = resize;
  if (!isSide(width) || !isSide(height)) {
    return {
      ok: false,
      code: ResizeRefusal.TooLarge,
      message: `a canvas side must be an integer 1..${MAX_CANVAS_SIDE}, got ${width}×${height}`,
    };
  }
  if (width < current.width || height < current.height) {
    return {
      ok: false,
      code: ResizeRefusal.Shrink,
      message: `the canvas only grows: ${current.width}×${current.height} cannot become ${width}×${height}`,
    };
  }
  if (width === current.width && height === current.height) {
    return { ok: false, code: ResizeRefusal.Unchanged, message: `the canvas is already ${width}×${height}` };
  }
  if (
    !Number.isInteger(originX) ||
    !Number.isInteger(originY) ||
    originX < 0 ||
    originY < 0 ||
    originX + current.width > width ||
    originY + current.height > height
  ) {
    return {
      ok: false,
      code: ResizeRefusal.Origin,
      message: `the old ${current.width}×${current.height} area at (${originX}, ${originY}) does not fit in ${width}×${height}`,
    };
  }
  return { ok: true };
}

/**
 * The grown canvas: a new `width × height` buffer (colour 0) with the old one copied in at the origin, row by
 * row. The one mapping every projection (Redis bitmap, history snapshots, edges, clients) uses. Does not
 * mutate `old`; the caller has checked the resize (`checkResize`).
 */
export function growCanvas(old: Uint8Array, oldSize: CanvasSize, resize: Resize): Uint8Array {
  const grown = new Uint8Array(resize.width * resize.height);
  for (let row = 0; row < oldSize.height; row++) {
    const from = row * oldSize.width;
    grown.set(old.subarray(from, from + oldSize.width), (row + resize.originY) * resize.width + resize.originX);
  }
  return grown;
}

/** A resize accepted at a stream sequence. */
export interface SequencedResize extends Resize {
  readonly seq: number;
}

/**
 * The sizes a canvas took along its log: the initial size (config) and every accepted resize, in sequence
 * order. `sizeAt(seq)` is the size after the event at `seq` (so a placement at `seq + 1` is checked against it).
 */
export class SizeTimeline {
  readonly initial: CanvasSize;
  readonly #resizes: SequencedResize[] = [];

  constructor(initial: CanvasSize) {
    this.initial = { width: initial.width, height: initial.height };
  }

  get resizes(): readonly SequencedResize[] {
    return this.#resizes;
  }

  /** The size in force once the event at `seq` has been applied (0: before any event). */
  sizeAt(seq: number): CanvasSize {
    let size: CanvasSize = this.initial;
    for (const r of this.#resizes) {
      if (r.seq > seq) break;
      size = r;
    }
    return { width: size.width, height: size.height };
  }

  /**
   * Records the resize stored at `seq` if the rule accepts it against the size before it; returns the verdict.
   * Idempotent: a resize already recorded at `seq` is accepted again (several readers meet the same one).
   * Sequences must arrive in order (a recorded resize after `seq` throws: the caller skipped part of the log).
   */
  record(seq: number, resize: Resize): ResizeVerdict {
    const known = this.#resizes.find((r) => r.seq === seq);
    if (known) return { ok: true };
    const last = this.#resizes[this.#resizes.length - 1];
    if (last && last.seq > seq) throw new RangeError(`resize at ${seq} recorded after the one at ${last.seq}`);
    const verdict = checkResize(this.sizeAt(seq - 1), resize);
    if (verdict.ok) {
      this.#resizes.push({
        seq,
        width: resize.width,
        height: resize.height,
        originX: resize.originX,
        originY: resize.originY,
      });
    }
    return verdict;
  }
}
