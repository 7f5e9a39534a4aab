/**
 * Who placed the selected pixel and when, from `GET /api/v1/history/pixel` (newest first). With `full`,
 * the whole recent history of the pixel (history mode). Stays quiet when the history API is not deployed.
 */
import { userLabel } from '../../proto/user-label.ts';

/** One entry of `GET /api/v1/history/pixel` (docs/HISTORY-API.md). */
export interface Placement {
  readonly color: number;
  readonly userId: string;
  /** The account's name or "Guest xxxxxx"; null for an account the server could not name. */
  readonly username?: string | null;
  readonly placedAt: string | number;
  readonly kind?: 'placed' | 'restored';
}

const PAGE = 20;

/** Who to show: the server's name, else the same label the header uses, else the id (tools still get it). */
export function placedBy(p: Placement): string {
  return p.username ?? userLabel(p.userId, null) ?? p.userId;
}

export function parsePlacements(body: unknown): Placement[] {
  const list = (body as { placements?: unknown } | null)?.placements;
  if (!Array.isArray(list)) return [];
  return list.filter(
    (p): p is Placement =>
      typeof p === 'object' &&
      p !== null &&
      typeof (p as Placement).color === 'number' &&
      typeof (p as Placement).userId === 'string',
  );
}

export function relativeTime(when: string | number, now = Date.now()): string {
  const t = typeof when === 'number' ? when : Date.parse(when);
  if (!Number.isFinite(t)) return '';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(t).toLocaleString();
}

export class PixelInfo {
  private readonly root: HTMLElement;
  private abort: AbortController | undefined;
  full = false;

  constructor(root: HTMLElement) {
    this.root = root;
  }

  show(pixel: { x: number; y: number } | null, colorName: (color: number) => string): void {
    this.abort?.abort();
    this.root.replaceChildren();
    if (!pixel) return;
    const abort = new AbortController();
    this.abort = abort;
    const limit = this.full ? PAGE : 1;
    fetch(`/api/v1/history/pixel?x=${pixel.x}&y=${pixel.y}&limit=${limit}`, {
      signal: abort.signal,
      credentials: 'include',
    })
      .then(async (res) => {
        if (abort.signal.aborted) return;
        if (res.status === 404) return; // no history role deployed: leave the slot empty
        if (!res.ok) {
          this.root.textContent = 'Pixel history unavailable.';
          return;
        }
        const placements = parsePlacements(await res.json());
        if (abort.signal.aborted) return;
        if (placements.length === 0) {
          this.root.textContent = 'Never placed.';
          return;
        }
        if (!this.full) {
          const p = placements[0] as Placement;
          this.root.textContent = `${colorName(p.color)} by ${placedBy(p)}, ${relativeTime(p.placedAt)}`;
          return;
        }
        const list = document.createElement('ol');
        list.className = 'pixel-history';
        for (const p of placements) {
          const item = document.createElement('li');
          item.textContent = `${colorName(p.color)} ${p.kind === 'restored' ? 'restored by moderation' : `by ${placedBy(p)}`}, ${relativeTime(p.placedAt)}`;
          list.append(item);
        }
        this.root.replaceChildren(list);
      })
      .catch(() => undefined);
  }
}
