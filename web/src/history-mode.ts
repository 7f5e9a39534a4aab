/**
 * History mode: a time slider that scrubs the canvas through the past (`GET /api/v1/history/canvas`),
 * the selected pixel's history, and a timelapse export of the visible region
 * (`GET /api/v1/history/timelapse`; animated PNG, or MP4/WebM when the server lists them). Live updates keep flowing into the client's canvas meanwhile and
 * are shown again when leaving history mode.
 *
 * Scrubbing the canvas draws palette indices (./history-indices.ts). The heatmap and virgin layers (and
 * `?slider=png`, the previous path, kept for the slider bench) keep at most one PNG request in flight and
 * fetch the slider's latest position when it lands.
 *
 * The layer picker shows, instead of the canvas at the slider's time, the heatmap of every placement up to it
 * (`GET /api/v1/history/heatmap`) or the pixels never placed up to it (`GET /api/v1/history/virgin`). Under the
 * timelapse link, a line names the range the timelapse covers and warns when the region has no change in it
 * (asked of the dataset export: its first line, then the request is dropped, which stops the export).
 */
import { type Camera, type Viewport, visibleRegion } from './camera.ts';
import { IndexScrubber } from './history-indices.ts';
import type { Renderer } from './renderer.ts';

export interface HistoryDeps {
  readonly renderer: Renderer;
  liveCanvas(): Uint8Array | undefined;
  visibleRegion(): { camera: Camera; view: Viewport };
  selected(): { x: number; y: number } | null;
  onToggle(active: boolean): void;
  /** The moment shown while active: null for "now" (no snapshot yet), else ms since the epoch. */
  onTime?(time: number | null): void;
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
  private readonly format = document.getElementById('history-format') as HTMLSelectElement;
  private readonly layer = document.getElementById('history-layer') as HTMLSelectElement;
  private readonly range = document.getElementById('history-timelapse-range') as HTMLElement;
  private rangeCheck: AbortController | null = null;
  private rangeTimer: ReturnType<typeof setTimeout> | null = null;
  private size = { width: 0, height: 0 };
  private start = Date.now() - DEFAULT_SPAN_MS;
  private end = Date.now();
  private inFlight = false;
  private wanted: number | null = null;
  private shownTime: number | null = null;
  private shownSeq = 0;
  private exporting = false;
  private readonly pngSlider = new URLSearchParams(location.search).get('slider') === 'png';
  private readonly indices: IndexScrubber;
  /** Steps drawn so far and the last one's sequence and time (read by tests and the slider bench). */
  readonly shown = { steps: 0, seq: 0, time: 0 };

  constructor(deps: HistoryDeps) {
    this.deps = deps;
    this.indices = new IndexScrubber({
      renderer: deps.renderer,
      size: () => this.size,
      visibleRegion: deps.visibleRegion,
      active: () => this.active,
      drawn: (t, seq) => {
        this.shownSeq = seq;
        this.shownTime = t;
        this.shown.steps++;
        this.shown.seq = seq;
        this.shown.time = t;
        this.deps.onTime?.(t);
        this.note.textContent = `Showing ${new Date(t).toLocaleString()} (${seq} events)`;
        this.updateTimelapseLink();
      },
      failed: (message) => {
        this.note.textContent = message;
      },
    });
    this.toggle.addEventListener('click', () => this.setActive(!this.active));
    (document.getElementById('history-live') as HTMLButtonElement).addEventListener('click', () =>
      this.setActive(false),
    );
    this.slider.addEventListener('input', () => this.scrub());
    this.format.addEventListener('change', () => this.updateTimelapseLink());
    this.layer.addEventListener('change', () => this.scrub());
    this.timelapse.addEventListener('click', (e) => {
      e.preventDefault();
      void this.exportTimelapse();
    });
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
      // The API refuses future times: the right end is just now.
      this.end = Date.now() - 500;
      this.slider.max = String(SLIDER_STEPS);
      this.slider.value = String(SLIDER_STEPS);
      this.shownTime = null;
      this.when.textContent = 'now';
      this.deps.onTime?.(null);
      this.note.textContent = 'Drag the slider to see the canvas at an earlier moment.';
      void this.loadRange();
      this.updateTimelapseLink();
    } else {
      this.indices.abortAll();
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
      const res = await fetch('/api/v1/history/info', { credentials: 'include' });
      if (res.status === 404) {
        this.note.textContent = 'History is not available on this server.';
        return;
      }
      if (!res.ok) return;
      const body = (await res.json()) as { firstPlacedAt?: number | null; formats?: string[] };
      // MP4/WebM exist only where the server has ffmpeg; APNG stays the default either way.
      for (const format of ['mp4', 'webm']) {
        if (body.formats?.includes(format) && !this.format.querySelector(`option[value="${format}"]`))
          this.format.add(new Option(format.toUpperCase(), format));
      }
      this.format.hidden = this.format.options.length < 2;
      const from = typeof body.firstPlacedAt === 'number' ? body.firstPlacedAt : Number.NaN;
      // One second before the first placement, so the slider's left end shows the blank canvas.
      if (Number.isFinite(from) && from < this.end) this.start = from - 1000;
    } catch {
      // The default span stands.
    }
  }

  private scrub(): void {
    const t = this.sliderTime();
    this.when.textContent = new Date(t).toLocaleString();
    if (this.layer.value === 'canvas' && !this.pngSlider) {
      this.indices.request(t);
      return;
    }
    this.wanted = t;
    if (!this.inFlight) void this.fetchWanted();
  }

  /**
   * The camera moved: when only a region was drawn (zoomed in), ask again for the new view at the moment shown,
   * so panning never uncovers pixels of another moment for longer than one answer.
   */
  viewChanged(): void {
    if (
      this.active &&
      this.indices.partial &&
      this.shownTime !== null &&
      this.layer.value === 'canvas' &&
      !this.pngSlider
    )
      this.indices.request(this.shownTime);
  }

  private async fetchWanted(): Promise<void> {
    while (this.wanted !== null && this.active) {
      const t = this.wanted;
      this.wanted = null;
      this.inFlight = true;
      try {
        // PNG: a fraction of the raw bytes, decoded natively off the main thread; fast enough to drag.
        const iso = encodeURIComponent(new Date(t).toISOString());
        const layer = this.layer.value;
        const url =
          layer === 'heatmap'
            ? `/api/v1/history/heatmap?to=${iso}`
            : layer === 'virgin'
              ? `/api/v1/history/virgin?to=${iso}`
              : `/api/v1/history/snapshot?format=png&time=${iso}`;
        const res = await fetch(url, { credentials: 'include' });
        if (!res.ok) {
          const body = (await res.json().catch(() => ({}))) as { message?: string };
          this.note.textContent =
            res.status === 404
              ? 'History is not available on this server.'
              : (body.message ?? `Snapshot failed (${res.status}).`);
          continue;
        }
        const bitmap = await createImageBitmap(await res.blob());
        // Switched to the canvas layer meanwhile: its indices are drawn by the IndexScrubber, not this answer.
        if (!this.active || (this.layer.value !== layer && this.layer.value === 'canvas' && !this.pngSlider)) {
          bitmap.close();
          break;
        }
        if (bitmap.width !== this.size.width || bitmap.height !== this.size.height) {
          bitmap.close();
          this.note.textContent = 'The snapshot does not match this canvas.';
          continue;
        }
        this.deps.renderer.drawBitmap(bitmap);
        bitmap.close();
        this.shownSeq = Number(res.headers.get('x-rplace-seq') ?? res.headers.get('x-rplace-to-seq'));
        this.shownTime = t;
        this.shown.steps++;
        this.shown.seq = this.shownSeq;
        this.shown.time = t;
        this.deps.onTime?.(t);
        const what =
          layer === 'heatmap'
            ? `Placements per pixel up to ${new Date(t).toLocaleString()} (busiest: ${res.headers.get('x-rplace-max-count')})`
            : layer === 'virgin'
              ? `Pixels never placed up to ${new Date(t).toLocaleString()} (white)`
              : `Showing ${new Date(t).toLocaleString()}`;
        this.note.textContent = `${what} (${this.shownSeq} events)`;
        this.updateTimelapseLink();
      } catch {
        this.note.textContent = 'Could not reach the history service.';
      } finally {
        this.inFlight = false;
      }
    }
  }

  /**
   * Downloads the timelapse of the visible region with a job id, polling the job's progress meanwhile,
   * then saves it through a blob URL.
   */
  private async exportTimelapse(): Promise<void> {
    if (this.exporting) return;
    this.updateTimelapseLink();
    const job = `web${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const url = `${this.timelapse.href}&job=${job}`;
    this.exporting = true;
    this.note.textContent = 'Rendering the timelapse…';
    const poll = setInterval(() => {
      fetch(`/api/v1/history/timelapse/progress?job=${job}`)
        .then(async (r) => {
          if (!r.ok) return;
          const p = (await r.json()) as { framesDone?: number; framesTotal?: number };
          if (this.exporting && p.framesTotal)
            this.note.textContent = `Rendering the timelapse: frame ${p.framesDone ?? 0} of ${p.framesTotal}…`;
        })
        .catch(() => undefined);
    }, 500);
    try {
      const res = await fetch(url, { credentials: 'include' });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        this.note.textContent = `Timelapse failed: ${body.message ?? res.status}`;
        return;
      }
      const blob = await res.blob();
      const a = document.createElement('a');
      a.href = URL.createObjectURL(blob);
      a.download = this.timelapse.download;
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
      this.note.textContent = `Timelapse saved (${Math.round(blob.size / 1024)} KB).`;
    } catch {
      this.note.textContent = 'Could not reach the history service.';
    } finally {
      clearInterval(poll);
      this.exporting = false;
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
      format: this.format.value || 'apng',
    });
    this.timelapse.href = `/api/v1/history/timelapse?${params.toString()}`;
    this.timelapse.download = `rplace-${r.x}-${r.y}-${r.w}x${r.h}.${this.format.value === 'apng' ? 'png' : this.format.value}`;
    const covers = `Timelapse: ${r.w}×${r.h} at (${r.x},${r.y}), ${new Date(from).toLocaleString()} – ${new Date(to).toLocaleString()}`;
    this.range.textContent = covers;
    // Asked once the view settles (not on every drag step), one question at a time.
    if (this.rangeTimer) clearTimeout(this.rangeTimer);
    this.rangeTimer = setTimeout(() => void this.checkRegionChanges(covers, from, to, r), 400);
  }

  /** Warns under the link when no placement falls in the region during the timelapse's range. */
  private async checkRegionChanges(
    covers: string,
    from: number,
    to: number,
    r: { x: number; y: number; w: number; h: number },
  ): Promise<void> {
    this.rangeCheck?.abort();
    const controller = new AbortController();
    this.rangeCheck = controller;
    const params = new URLSearchParams({
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      format: 'ndjson',
      x: String(r.x),
      y: String(r.y),
      w: String(r.w),
      h: String(r.h),
    });
    try {
      const res = await fetch(`/api/v1/history/export?${params.toString()}`, {
        credentials: 'include',
        signal: controller.signal,
      });
      if (!res.ok || !res.body) return;
      const reader = res.body.getReader();
      const first = await reader.read();
      await reader.cancel().catch(() => undefined);
      if (this.rangeCheck !== controller) return;
      const empty = first.done || first.value.length === 0;
      this.range.textContent = empty
        ? `${covers}. No pixel of this region changes in that range: the timelapse would be one still frame.`
        : covers;
    } catch {
      // Unknown: the range line stays without a warning.
    } finally {
      if (this.rangeCheck === controller) this.rangeCheck = null;
      controller.abort();
    }
  }
}
