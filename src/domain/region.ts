/** A rectangle of the canvas, in pixels: columns `x … x + w - 1`, rows `y … y + h - 1`. */
export interface Region {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}
