/**
 * The time slider's canvas steps as palette indices (`GET /api/v1/history/canvas`, docs/HISTORY-API.md),
 * drawn with the renderer's palette: no PNG encoded per step on the server nor decoded here.
 *
 * Each step starts a request; at most two are in flight (the older is aborted when a third is needed, which
 * is also the server's per-client share); an answer is drawn only when it is newer than the one shown, and
 * drawing it aborts every older request, so a fast drag keeps landing answers instead of cancelling them all.
 * Zoomed in (the view under a quarter of the canvas), only the visible region plus half of it again on each
 * side is asked for and drawn (`partial`: the rest may show another moment until the next answer).
 */
import { type Camera, type Viewport, visibleRegion } from './camera.ts';
import type { Renderer } from './renderer.ts';

type Region = { x: number; y: number; w: number; h: number };

export interface IndexScrubberDeps {
  readonly renderer: Renderer;
  size(): { width: number; height: number };
  visibleRegion(): { camera: Camera; view: Viewport };
  /** Answers landing while this is false are dropped (history mode was left). */
  active(): boolean;
  drawn(time: number, seq: number): void;
  failed(message: string): void;
}

export class IndexScrubber {
  /** The last answer drawn was a region only. */
  partial = false;
  private readonly deps: IndexScrubberDeps;
  private requests: { id: number; controller: AbortController }[] = [];
  private nextRequest = 0;
  private drawnRequest = 0;

  constructor(deps: IndexScrubberDeps) {
    this.deps = deps;
  }

  request(t: number): void {
    while (this.requests.length >= 2) this.requests.shift()?.controller.abort();
    const request = { id: ++this.nextRequest, controller: new AbortController() };
    this.requests.push(request);
    void this.fetch(t, request);
  }

  abortAll(): void {
    for (const r of this.requests) r.controller.abort();
    this.requests = [];
  }

  private wantedRegion(): Region | null {
    const size = this.deps.size();
    const { camera, view } = this.deps.visibleRegion();
    const v = visibleRegion(camera, view, size);
    if (v.w * v.h * 4 >= size.width * size.height) return null;
    const x = Math.max(0, v.x - (v.w >> 1));
    const y = Math.max(0, v.y - (v.h >> 1));
    return {
      x,
      y,
      w: Math.min(size.width, v.x + v.w + (v.w >> 1)) - x,
      h: Math.min(size.height, v.y + v.h + (v.h >> 1)) - y,
    };
  }

  private async fetch(t: number, request: { id: number; controller: AbortController }): Promise<void> {
    try {
      const iso = encodeURIComponent(new Date(t).toISOString());
      const region = this.wantedRegion();
      const part = region ? `&x=${region.x}&y=${region.y}&w=${region.w}&h=${region.h}` : '';
      // Uncompressed: gzipping 4 MB costs the server ~100 ms per step (slider bench), more than sending it on a LAN.
      const res = await fetch(`/api/v1/history/canvas?time=${iso}&encoding=identity${part}`, {
        credentials: 'include',
        signal: request.controller.signal,
      });
      if (!res.ok) {
        const body = (await res.json().catch(() => ({}))) as { message?: string };
        if (request.id > this.drawnRequest)
          this.deps.failed(
            res.status === 404
              ? 'History is not available on this server.'
              : (body.message ?? `Snapshot failed (${res.status}).`),
          );
        return;
      }
      const indices = new Uint8Array(await res.arrayBuffer());
      if (!this.deps.active() || request.id < this.drawnRequest) return;
      const size = this.deps.size();
      if (indices.length !== (region ? region.w * region.h : size.width * size.height)) {
        this.deps.failed('The snapshot does not match this canvas.');
        return;
      }
      this.drawnRequest = request.id;
      for (const r of this.requests) if (r.id < request.id) r.controller.abort();
      if (region) this.deps.renderer.drawRegion(indices, region);
      else this.deps.renderer.drawAll(indices);
      this.partial = region !== null;
      this.deps.drawn(t, Number(res.headers.get('x-rplace-seq')));
    } catch (error) {
      if ((error as Error).name !== 'AbortError' && request.id > this.drawnRequest)
        this.deps.failed('Could not reach the history service.');
    } finally {
      this.requests = this.requests.filter((r) => r !== request);
    }
  }
}
