/**
 * The view onto the canvas, as pure functions of plain data (no DOM), so panning, zooming and the
 * shareable URL are computed the same way by every input method.
 *
 * `x`, `y` are the canvas coordinates (in pixels, fractional) shown at the centre of the viewport;
 * `zoom` is screen pixels per canvas pixel.
 */
export interface Camera {
  readonly x: number;
  readonly y: number;
  readonly zoom: number;
}

export interface Viewport {
  readonly width: number;
  readonly height: number;
}

export interface Bounds {
  readonly width: number;
  readonly height: number;
}

/** Large enough that one canvas pixel fills a fingertip on a phone. */
export const MAX_ZOOM = 64;

/** The zoom that shows the whole canvas with a small margin. */
export function fitZoom(view: Viewport, canvas: Bounds): number {
  return Math.max(0.01, Math.min(view.width / canvas.width, view.height / canvas.height) * 0.95);
}

export function minZoom(view: Viewport, canvas: Bounds): number {
  return Math.min(1, fitZoom(view, canvas) / 2);
}

/** Keeps the centre on the canvas and the zoom within limits. */
export function clampCamera(cam: Camera, view: Viewport, canvas: Bounds): Camera {
  const zoom = Math.min(MAX_ZOOM, Math.max(minZoom(view, canvas), cam.zoom));
  return {
    x: Math.min(canvas.width, Math.max(0, cam.x)),
    y: Math.min(canvas.height, Math.max(0, cam.y)),
    zoom,
  };
}

export function initialCamera(view: Viewport, canvas: Bounds): Camera {
  return { x: canvas.width / 2, y: canvas.height / 2, zoom: fitZoom(view, canvas) };
}

/** Canvas coordinates (fractional) under a viewport point. */
export function screenToCanvas(cam: Camera, view: Viewport, sx: number, sy: number): { x: number; y: number } {
  return { x: cam.x + (sx - view.width / 2) / cam.zoom, y: cam.y + (sy - view.height / 2) / cam.zoom };
}

/** The integer pixel under a viewport point, or null off the canvas. */
export function pixelAt(
  cam: Camera,
  view: Viewport,
  canvas: Bounds,
  sx: number,
  sy: number,
): { x: number; y: number } | null {
  const p = screenToCanvas(cam, view, sx, sy);
  const x = Math.floor(p.x);
  const y = Math.floor(p.y);
  return x >= 0 && y >= 0 && x < canvas.width && y < canvas.height ? { x, y } : null;
}

/** Viewport position of a canvas point. */
export function canvasToScreen(cam: Camera, view: Viewport, cx: number, cy: number): { x: number; y: number } {
  return { x: (cx - cam.x) * cam.zoom + view.width / 2, y: (cy - cam.y) * cam.zoom + view.height / 2 };
}

/** Moves the view by a screen-space delta (a drag of the canvas by dx, dy moves the centre the other way). */
export function panBy(cam: Camera, dx: number, dy: number): Camera {
  return { x: cam.x - dx / cam.zoom, y: cam.y - dy / cam.zoom, zoom: cam.zoom };
}

/** Zooms by `factor` keeping the canvas point under (sx, sy) fixed on screen. */
export function zoomAt(cam: Camera, view: Viewport, canvas: Bounds, factor: number, sx: number, sy: number): Camera {
  const before = screenToCanvas(cam, view, sx, sy);
  const zoom = Math.min(MAX_ZOOM, Math.max(minZoom(view, canvas), cam.zoom * factor));
  return {
    x: before.x - (sx - view.width / 2) / zoom,
    y: before.y - (sy - view.height / 2) / zoom,
    zoom,
  };
}

/** The CSS transform placing a canvas element (transform-origin 0 0) for this camera. */
export function cssTransform(cam: Camera, view: Viewport): string {
  const tx = view.width / 2 - cam.x * cam.zoom;
  const ty = view.height / 2 - cam.y * cam.zoom;
  return `translate(${tx.toFixed(2)}px, ${ty.toFixed(2)}px) scale(${cam.zoom})`;
}

/** The canvas rectangle visible in the viewport, clipped to the canvas (integer pixels). */
export function visibleRegion(
  cam: Camera,
  view: Viewport,
  canvas: Bounds,
): { x: number; y: number; w: number; h: number } {
  const a = screenToCanvas(cam, view, 0, 0);
  const b = screenToCanvas(cam, view, view.width, view.height);
  const x = Math.max(0, Math.floor(a.x));
  const y = Math.max(0, Math.floor(a.y));
  const x2 = Math.min(canvas.width, Math.ceil(b.x));
  const y2 = Math.min(canvas.height, Math.ceil(b.y));
  return { x, y, w: Math.max(1, x2 - x), h: Math.max(1, y2 - y) };
}

/** `#x=120&y=340&z=8`: shareable, and a hash never reaches the server so any static host serves it. */
export function cameraToHash(cam: Camera): string {
  const z = cam.zoom >= 1 ? Math.round(cam.zoom * 100) / 100 : Math.round(cam.zoom * 1000) / 1000;
  return `#x=${Math.round(cam.x)}&y=${Math.round(cam.y)}&z=${z}`;
}

/** Reads a camera from a URL hash; missing or malformed fields yield null (then the default view is used). */
export function cameraFromHash(hash: string): Camera | null {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const x = Number(params.get('x'));
  const y = Number(params.get('y'));
  const zoom = Number(params.get('z'));
  if (!params.has('x') || !params.has('y') || !params.has('z')) return null;
  if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(zoom) || zoom <= 0) return null;
  return { x, y, zoom };
}

/**
 * Below this zoom (screen pixels per canvas pixel) a tap zooms in instead of selecting: at the fit zoom of a
 * 2000-pixel canvas a pixel is a third of a screen pixel, and a finger covers dozens. 8 makes it a target
 * a mouse hits every time and a finger nearly so, while still showing 100+ pixels across a phone.
 */
export const PLACE_ZOOM = 8;

/** The camera after a tap at (sx, sy) while zoomed out: zoomed to `PLACE_ZOOM` with the tapped point kept under the finger. */
export function zoomToPlace(cam: Camera, view: Viewport, canvas: Bounds, sx: number, sy: number): Camera {
  return zoomAt(cam, view, canvas, PLACE_ZOOM / cam.zoom, sx, sy);
}

/** Replaces the camera's `x`, `y`, `z` in a hash, keeping the other parameters (templates, a shared pixel). */
export function withCamera(hash: string, cam: Camera): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const camera = new URLSearchParams(cameraToHash(cam).slice(1));
  for (const key of ['x', 'y', 'z']) params.set(key, camera.get(key) as string);
  return `#${params.toString()}`;
}

/** A link's selected pixel, `p=x,y`, or null. */
export function pixelFromHash(hash: string, canvas: Bounds): { x: number; y: number } | null {
  const m = /^(\d{1,5}),(\d{1,5})$/.exec(new URLSearchParams(hash.replace(/^#/, '')).get('p') ?? '');
  if (!m) return null;
  const x = Number(m[1]);
  const y = Number(m[2]);
  return x < canvas.width && y < canvas.height ? { x, y } : null;
}

/** The hash of a link to the selected pixel (centred, zoomed in to at least `PLACE_ZOOM`) or, without one, to the view. */
export function shareHash(hash: string, cam: Camera, selected: { x: number; y: number } | null): string {
  const params = new URLSearchParams(
    withCamera(
      hash,
      selected ? { x: selected.x + 0.5, y: selected.y + 0.5, zoom: Math.max(cam.zoom, PLACE_ZOOM * 2) } : cam,
    ).slice(1),
  );
  if (selected) params.set('p', `${selected.x},${selected.y}`);
  else params.delete('p');
  return `#${params.toString()}`;
}
