/**
 * Validation of a placement request. Returns values, never throws: a bad request is an expected outcome.
 */
import type { CanvasSpec } from './canvas.ts';

export type PlacementRejection =
  | { readonly code: 'invalid_coordinates'; readonly message: string }
  | { readonly code: 'invalid_color'; readonly message: string };

export type PlacementCheck = { readonly ok: true } | ({ readonly ok: false } & PlacementRejection);

export function checkPlacement(spec: CanvasSpec, x: number, y: number, color: number): PlacementCheck {
  if (!Number.isInteger(x) || !Number.isInteger(y) || x < 0 || y < 0 || x >= spec.width || y >= spec.height) {
    return {
      ok: false,
      code: 'invalid_coordinates',
      message: `(${x}, ${y}) is outside the ${spec.width}x${spec.height} canvas`,
    };
  }
  if (!Number.isInteger(color) || color < 0 || color >= spec.palette.length) {
    return {
      ok: false,
      code: 'invalid_color',
      message: `colour ${color} is not in the ${spec.palette.length}-colour palette (0-${spec.palette.length - 1})`,
    };
  }
  return { ok: true };
}
