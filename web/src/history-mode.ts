/**
 * History mode: a time slider that scrubs the canvas through the past (`GET /api/v1/history/snapshot`),
 * the selected pixel's history, and a timelapse export of the visible region
 * (`GET /api/v1/history/timelapse`). Live updates keep flowing into the client's canvas meanwhile and
 * are shown again when leaving history mode.
 *
 * Scrubbing keeps at most one snapshot request in flight and always fetches the slider's latest position
 * when it lands, so dragging stays responsive however slow the server is.
 */
import { type Camera, type Viewport, visibleRegion } from './camera.ts';
import type { Renderer } from './renderer.ts';

export interface HistoryDeps {
  readonly renderer: Renderer;
  liveCanvas(): Uint8Array | undefined;
  visibleRegion(): { camera: Camera; view: Viewport };
  selected(): { x: number; y: number } | null;
  onToggle(active: boolean): void;
}

/** The slider spans this much of the past, unless the server tells us when history starts. */
const DEFAULT_SPAN_MS = 24 * 3600 * 1000;
const SLIDER_STEPS = 1000;

export class HistoryMode {
  active = false;
  private readonly deps: HistoryDeps;
  private readonly panel = document.getElementById('history') as HTMLElement;
  private readonly toggle = document.getElementById('history-toggle') as HTMLButtonElement;
  private readonly slider = document.getElementById('history-time') as HTMLInputElement;
  private readonly when = document.getElementById('history-when') as HTMLOutputElement;
  private readonly note = document.getElementById('history-note') as HTMLElement;
  private readonly timelapse = document.getElementById('history-timelapse') as HTMLAnchorElement;
  private size = { width: 0, height: 0 };
  private start = Date.now() - DEFAULT_SPAN_MS;
  private end = Date.now();
  private inFlight = false;
  private wanted: number | null = null;
  private shownTime: number | null = null;

  constructor(deps: HistoryDeps) {
    this.deps = deps;
    this.toggle.addEventListener('click', () => this.setActive(!this.active));
    (document.getElementById('history-live') as HTMLButtonElement).addEventListener('click', () => this.setActive(false));
    this.slider.addEventListener('input', () => this.scrub());
    this.timelapse.addEventListener('focus', () => this.updateTimelapseLink());
    this.timelapse.addEventListener('pointerdown', () => this.updateTimelapseLink());
  }

  canvasChanged(size: { width: number; height: number }): void {
    this.size = size;
  }

  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.toggle.setAttribute('aria-pressed', String(active));
    this.panel.hidden = !active;
    if (active) {
      this.end = Date.now();
      this.slider.max = String(SLIDER_STEPS);
      this.slider.value = String(SLIDER_STEPS);
      this.shownTime = null;
      this.when.textContent = 'now';
      this.note.textContent = 'Drag the slider to see the canvas at an earlier moment.';
      void this.loadRange();
      this.updateTimelapseLink();
    } else {
      const live = this.deps.liveCanvas();
      if (live) this.deps.renderer.drawAll(live);
    }
    this.deps.onToggle(active);
  }

  /** The time the slider points at (ms since the epoch). */
  private sliderTime(): number {
    return Math.round(this.start + (this.end - this.start) * (Number(this.slider.value) / SLIDER_STEPS));
  }

  private async loadRange(): Promise<void> {
    try {
      const res = await fetch('/api/v1/history/range', { credentials: 'include' });
      if (!res.ok) return;
      const body = (await res.json()) as { from?: string; to?: string };
      const from = body.from ? Date.parse(body.from) : Number.NaN;
      if (Number.isFinite(from) && from < this.end) this.start = from;
    } catch {
      // The default span stands.
    }
  }

  private scrub(): void {
    const t = this.sliderTime();
    this.when.textContent = new Date(t).toLocaleString();
    this.wanted = t;
    if (!this.inFlight) void this.fetchWanted();
  }

  private async fetchWanted(): Promise<void> {
    while (this.wanted !== null && this.active) {
      const t = this.wanted;
      this.wanted = null;
      this.inFlight = true;
      try {
        const res = await fetch(`/api/v1/history/snapshot?time=${encodeURIComponent(new Date(t).toISOString())}`, { credentials: 'include' });
        if (!res.ok) {
          const body = (await res.json().catch(() => ({}))) as { message?: string };
          this.note.textContent = res.status === 404 ? 'History is not available on this server.' : (body.message ?? `Snapshot failed (${res.status}).`);
          continue;
        }
        const bytes = new Uint8Array(await res.arrayBuffer());
        if (!this.active) break;
        if (bytes.length !== this.size.width * this.size.height) {
          this.note.textContent = 'The snapshot does not match this canvas.';
          continue;
        }
        this.deps.renderer.drawAll(bytes);
        this.shownTime = t;
        this.note.textContent = `Showing ${new Date(t).toLocaleString()}`;
        this.updateTimelapseLink();
      } catch {
        this.note.textContent = 'Could not reach the history service.';
      } finally {
        this.inFlight = false;
      }
    }
  }

  private updateTimelapseLink(): void {
    const { camera, view } = this.deps.visibleRegion();
    if (this.size.width === 0) return;
    const r = visibleRegion(camera, view, this.size);
    const to = this.shownTime ?? Date.now();
    const from = Math.min(this.start, to - 60_000);
    const params = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      x: String(r.x),
      y: String(r.y),
      w: String(r.w),
      h: String(r.h),
      fps: '10',
      duration: '10',
      format: 'apng',
    });
    this.timelapse.href = `/api/v1/history/timelapse?${params.toString()}`;
    this.timelapse.download = `rplace-${r.x}-${r.y}-${r.w}x${r.h}.png`;
  }
}
