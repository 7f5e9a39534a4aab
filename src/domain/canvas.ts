/**
 * Canvas geometry and the one way every projection changes a canvas.
 *
 * A canvas is a `Uint8Array` of `width * height` palette indices, row-major: the pixel at (x, y)
 * is byte `y * width + x` (the same layout as the Redis string `canvas:current`).
 */
import type { PaletteColor } from './palette.ts';

/** Upper bound on either side: coordinates travel as u16, and 8192² bytes (64 MiB) is still one Redis string. */
export const MAX_CANVAS_SIDE = 8192;

export interface CanvasSpec {
  readonly width: number;
  readonly height: number;
  readonly palette: readonly PaletteColor[];
}

export function pixelOffset(spec: Pick<CanvasSpec, 'width'>, x: number, y: number): number {
  return y * spec.width + x;
}

export function createCanvas(spec: Pick<CanvasSpec, 'width' | 'height'>): Uint8Array {
  return new Uint8Array(spec.width * spec.height);
}

/** The minimal shape of anything that sets one pixel; `PixelPlaced` and moderation events both satisfy it. */
export interface PixelChange {
  readonly x: number;
  readonly y: number;
  readonly color: number;
}

/**
 * Sets one pixel. Mutates `canvas` in place: a 4 MB canvas is never copied per event.
 * The caller guarantees the change was validated against the same spec (events in the log always are).
 */
export function applyPixel(canvas: Uint8Array, width: number, change: PixelChange): void {
  canvas[change.y * width + change.x] = change.color;
}

/**
 * Applies changes in order, mutating `canvas` in place, and returns it for chaining.
 * Every reader (bitmap projector, edge, snapshotter, point-in-time view) replays through this function,
 * so "snapshot + tail" and "whole stream" are computed by the same code.
 */
export function replay(canvas: Uint8Array, width: number, changes: Iterable<PixelChange>): Uint8Array {
  for (const change of changes) canvas[change.y * width + change.x] = change.color;
  return canvas;
}
