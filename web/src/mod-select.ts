/** Pure helpers of the moderator console's selection (no DOM). */
import type { Region } from './mod-api.ts';

/** The rectangle covering both dragged-over pixels, whichever way the drag went. */
export function normalizeDrag(a: { x: number; y: number }, b: { x: number; y: number }): Region {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return { x, y, width: Math.abs(a.x - b.x) + 1, height: Math.abs(a.y - b.y) + 1 };
}

/** "From" choices, as ages in ms (0 = the whole stream). */
export const SINCE_CHOICES: readonly { readonly label: string; readonly ms: number }[] = [
  { label: 'last 15 minutes', ms: 15 * 60_000 },
  { label: 'last hour', ms: 3_600_000 },
  { label: 'last 6 hours', ms: 6 * 3_600_000 },
  { label: 'last 24 hours', ms: 86_400_000 },
  { label: 'last 7 days', ms: 7 * 86_400_000 },
  { label: 'all time', ms: Number.MAX_SAFE_INTEGER },
];
