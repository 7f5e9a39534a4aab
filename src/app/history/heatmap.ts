/**
 * Heatmap and virgin map (issue 16, item 2): how many placements each pixel received over a range, and which
 * pixels were never placed. Pure: counts in, palette indices out (the PNG encoder adds the colours).
 *
 * Heat scale: 0 placements is index 0 (black); n ≥ 1 placements is index 1 + ⌊30 · ln n / ln max⌋ (max = the
 * busiest pixel's count), so one placement and the busiest pixel are always the two ends of the ramp whatever
 * the range. Virgin map: index 1 (white) for a pixel never placed up to the instant, 0 (black) otherwise.
 */
import type { PaletteColor } from '../../domain/palette.ts';

/** Black, then a 31-step ramp from deep purple through red and orange to pale yellow. */
export const HEAT_PALETTE: readonly PaletteColor[] = [
  { hex: '#000000', name: 'none' },
  ...Array.from({ length: 31 }, (_, i): PaletteColor => {
    const t = i / 30;
    // Piecewise-linear through purple (0.2,0,0.4), red (0.8,0.1,0.2), orange (1,0.6,0), pale yellow (1,1,0.75).
    const stops: [number, number, number, number][] = [
      [0, 0.2, 0, 0.4],
      [0.4, 0.8, 0.1, 0.2],
      [0.75, 1, 0.6, 0],
      [1, 1, 1, 0.75],
    ];
    let k = 0;
    while (k < stops.length - 2 && t > (stops[k + 1] as [number, number, number, number])[0]) k++;
    const [t0, r0, g0, b0] = stops[k] as [number, number, number, number];
    const [t1, r1, g1, b1] = stops[k + 1] as [number, number, number, number];
    const f = (t - t0) / (t1 - t0);
    const hex = (a: number, b: number) =>
      Math.round(255 * (a + (b - a) * f))
        .toString(16)
        .padStart(2, '0')
        .toUpperCase();
    return { hex: `#${hex(r0, r1)}${hex(g0, g1)}${hex(b0, b1)}`, name: `heat ${i + 1}` };
  }),
];

export const VIRGIN_PALETTE: readonly PaletteColor[] = [
  { hex: '#000000', name: 'placed' },
  { hex: '#FFFFFF', name: 'never placed' },
];

/** The busiest pixel's count (0 for none). */
export function maxCount(counts: Uint32Array): number {
  let max = 0;
  for (let i = 0; i < counts.length; i++) if ((counts[i] as number) > max) max = counts[i] as number;
  return max;
}

/** Heat palette indices for `counts` (see the scale above). */
export function heatIndices(counts: Uint32Array, max = maxCount(counts)): Uint8Array {
  const out = new Uint8Array(counts.length);
  const scale = max > 1 ? 30 / Math.log(max) : 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    out[i] = n === 0 ? 0 : 1 + Math.floor(Math.log(n) * scale + 1e-9);
  }
  return out;
}

/** Virgin-map indices: 1 where nothing was ever placed, 0 elsewhere. */
export function virginIndices(counts: Uint32Array): Uint8Array {
  const out = new Uint8Array(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = counts[i] === 0 ? 1 : 0;
  return out;
}
