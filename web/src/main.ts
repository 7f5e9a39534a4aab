/**
 * The browser client: wires the shared protocol client (`src/client/rplace-client.ts`) to the renderer, the camera,
 * the gestures, the palette and the placement flow. No framework: a handful of DOM nodes updated directly.
 */
import { RplaceClient, type ClientStatus } from '../../src/client/index.ts';
import type { WelcomeMessage } from '../../proto/messages.ts';
import { PIXEL_RECORD_BYTES } from '../../proto/frames.ts';
import { MAX_VIEW_TILES, toPixelRecords, VIEW_TILE_SIZE } from '../../proto/tile-frames.ts';
import { tileGrid, tilesOf } from '../../src/domain/edge/view-tiles.ts';
import {
  type Camera,
  cameraFromHash,
  canvasToScreen,
  clampCamera,
  cssTransform,
  fitZoom,
  initialCamera,
  panBy,
  pixelAt,
  pixelFromHash,
  PLACE_ZOOM,
  screenToCanvas,
  shareHash,
  withCamera,
  zoomAt,
  zoomToPlace,
  visibleRegion,
} from './camera.ts';
import { Account } from './account.ts';
import { attachGestures } from './gestures.ts';
import { HistoryMode } from './history-mode.ts';
import { PalettePicker } from './palette-picker.ts';
import { formatCountdown, Placement } from './placement.ts';
import { PixelInfo } from './pixel-info.ts';
import { Renderer } from './renderer.ts';
import { Templates } from './templates.ts';
import { ModConsole } from './mod-console.ts';

// The canvas download starts now, in parallel with the guest-cookie request the client makes first
// (it matches the <link rel=preload> in index.html when the browser kept that one).
const canvasUrl = `${location.origin}/api/v1/canvas`;
let earlyCanvas: Promise<Response> | undefined = fetch(canvasUrl, { credentials: 'include' });
earlyCanvas.catch(() => undefined);

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing from index.html`);
  return el as T;
};

const viewportEl = $<HTMLElement>('viewport');
const canvasEl = $<HTMLCanvasElement>('canvas');
const reticleEl = $<HTMLElement>('reticle');
const loadingEl = $<HTMLElement>('loading');
const statusEl = $<HTMLElement>('status');
const coordsEl = $<HTMLElement>('coords');
const selectedEl = $<HTMLElement>('selected');
const feedbackEl = $<HTMLElement>('feedback');
const placeEl = $<HTMLButtonElement>('place');
const zoomLevelEl = $<HTMLElement>('zoom-level');
const retryEl = $<HTMLButtonElement>('retry-now');

const renderer = new Renderer(canvasEl);
const account = new Account();
const palette = new PalettePicker($('palette'));
const pixelInfoEl = $<HTMLElement>('pixel-info');
const pixelInfo = new PixelInfo(pixelInfoEl);

let size = { width: 0, height: 0 };
let paletteHex: readonly string[] = [];
let paletteNames: readonly string[] = [];
let camera: Camera = { x: 0, y: 0, zoom: 1 };
let view = { width: viewportEl.clientWidth, height: viewportEl.clientHeight };
const urlCamera = cameraFromHash(location.hash);
let cameraPlaced = false;
let templates: Templates | undefined;
/** History mode's hook (set once it exists: setCamera may run before). */
let onCameraMoved: (() => void) | undefined;
let modConsole: ModConsole | undefined;

// ---- camera -------------------------------------------------------------------------------------------

let hashTimer: ReturnType<typeof setTimeout> | undefined;
function setCamera(next: Camera): void {
  camera = size.width > 0 ? clampCamera(next, view, size) : next;
  canvasEl.style.transform = cssTransform(camera, view);
  drawReticle();
  templates?.layout();
  modConsole?.layout();
  onCameraMoved?.();
  showView();
  const pct = camera.zoom * 100;
  zoomLevelEl.textContent = `${pct >= 100 ? Math.round(pct) : pct.toFixed(pct >= 10 ? 0 : 1)} %`;
  zoomLevelEl.dataset.canPlace = String(camera.zoom >= PLACE_ZOOM);
  // A shareable URL, updated at most 4 times a second and without filling the history.
  if (!hashTimer) {
    hashTimer = setTimeout(() => {
      hashTimer = undefined;
      if (size.width > 0) history.replaceState(null, '', withCamera(location.hash, camera));
    }, 250);
  }
}

/**
 * Viewport subscriptions: the edge sends only the tiles on screen (plus a margin of half a screen, so a
 * short pan shows fresh pixels at once). Whole-canvas mode stays for canvases over `MAX_VIEW_TILES` tiles.
 */
function showView(): void {
  if (size.width === 0 || !viewClient) return;
  const r = visibleRegion(camera, view, size);
  const mx = Math.ceil(r.w / 2);
  const my = Math.ceil(r.h / 2);
  const x = Math.max(0, r.x - mx);
  const y = Math.max(0, r.y - my);
  const rect = {
    x,
    y,
    width: Math.min(size.width, r.x + r.w + mx) - x,
    height: Math.min(size.height, r.y + r.h + my) - y,
  };
  if (tilesOf(tileGrid(size.width, size.height), rect.x, rect.y, rect.width, rect.height).length <= MAX_VIEW_TILES)
    viewClient.setView(rect);
}
/** The client, once made (the camera moves before it exists). */
let viewClient: RplaceClient | undefined;

function onPixelRecords(records: Uint8Array, count: number): void {
  if (!historyMode.active) renderer.applyRecords(records, count);
  templates?.onRecords(records, count);
  refreshPixelInfoIfTouched(records, count);
}

function zoomBy(factor: number): void {
  setCamera(zoomAt(camera, view, size, factor, view.width / 2, view.height / 2));
}

new ResizeObserver(() => {
  view = { width: viewportEl.clientWidth, height: viewportEl.clientHeight };
  if (size.width > 0) setCamera(camera);
}).observe(viewportEl);

window.addEventListener('hashchange', () => {
  const fromUrl = cameraFromHash(location.hash);
  if (fromUrl) setCamera(fromUrl);
});

// ---- selection and placement -------------------------------------------------------------------------

const placement = new Placement(
  {
    render(state) {
      const cooling = state.cooldownMs > 0;
      placeEl.textContent = state.pending ? 'Placing…' : cooling ? formatCountdown(state.cooldownMs) : 'Place';
      placeEl.disabled = !placement.canPlace();
      placeEl.setAttribute(
        'aria-label',
        cooling ? `Next pixel in ${formatCountdown(state.cooldownMs)}` : 'Place the selected colour',
      );
      placeEl.dataset.cooldown = String(Math.ceil(state.cooldownMs / 1000));
      let text = state.feedback.text;
      if (!text && !state.connected) text = 'Waiting for the connection…';
      else if (!text && state.selected && state.color === null) text = 'Pick a colour.';
      feedbackEl.textContent = text;
      feedbackEl.dataset.kind = state.feedback.kind;
      selectedEl.textContent = state.selected
        ? `Pixel (${state.selected.x}, ${state.selected.y})`
        : 'Tap a pixel to select it';
      drawReticle();
    },
  },
  (x, y, color) => client.place(x, y, color),
);

function select(pixel: { x: number; y: number } | null): void {
  placement.select(pixel);
  // Touch screens have no hover: the coordinates show the selected pixel.
  coordsEl.textContent = pixel ? `(${pixel.x}, ${pixel.y})` : '–';
  pixelInfo.show(pixel, paletteNamesOf);
  modConsole?.pixelSelected(pixel);
}

let pixelInfoRefresh: ReturnType<typeof setTimeout> | undefined;
/**
 * Someone (or we) just painted the selected pixel: show the new owner. Waits a moment because the history
 * projector writes to Postgres in batches, a little after the live frame.
 */
function refreshPixelInfoIfTouched(records: Uint8Array, count: number): void {
  const selected = placement.state.selected;
  if (!selected) return;
  for (let o = 0; o < count * PIXEL_RECORD_BYTES; o += PIXEL_RECORD_BYTES) {
    if (((records[o] as number) | ((records[o + 1] as number) << 8)) !== selected.x) continue;
    if (((records[o + 2] as number) | ((records[o + 3] as number) << 8)) !== selected.y) continue;
    clearTimeout(pixelInfoRefresh);
    pixelInfoRefresh = setTimeout(() => pixelInfo.show(placement.state.selected, paletteNamesOf), 400);
    return;
  }
}

function drawReticle(): void {
  const { selected, color, pending } = placement.state;
  if (!selected || size.width === 0) {
    reticleEl.hidden = true;
    return;
  }
  const p = canvasToScreen(camera, view, selected.x, selected.y);
  const side = Math.max(6, camera.zoom);
  const offset = (side - camera.zoom) / 2;
  reticleEl.hidden = false;
  reticleEl.style.width = `${side}px`;
  reticleEl.style.height = `${side}px`;
  reticleEl.style.transform = `translate(${(p.x - offset).toFixed(1)}px, ${(p.y - offset).toFixed(1)}px)`;
  // The chosen colour previews on the pixel: immediate local feedback, without changing the canvas bytes.
  reticleEl.style.background =
    color !== null && (pending || camera.zoom >= 4) && !historyMode.active ? (paletteHex[color] ?? '') : 'transparent';
  reticleEl.classList.toggle('pending', pending);
}

palette.onSelect = (color) => placement.pick(color);
placeEl.addEventListener('click', () => void placement.place());

// ---- input ---------------------------------------------------------------------------------------------

attachGestures(viewportEl, {
  pan: (dx, dy) => setCamera(panBy(camera, dx, dy)),
  zoomAt: (factor, sx, sy) => setCamera(zoomAt(camera, view, size, factor, sx, sy)),
  tap: (sx, sy) => {
    viewportEl.focus({ preventScroll: true });
    const pixel = pixelAt(camera, view, size, sx, sy);
    if (!pixel) return;
    // Zoomed out, a pixel is smaller than a fingertip: the first tap zooms in around it, the next one selects.
    if (camera.zoom < PLACE_ZOOM && !historyMode.active) {
      setCamera(zoomToPlace(camera, view, size, sx, sy));
      feedbackEl.textContent = 'Zoomed in: tap the pixel to select it.';
      feedbackEl.dataset.kind = 'none';
      return;
    }
    select(pixel);
  },
  hover: (point) => {
    const pixel = point ? pixelAt(camera, view, size, point.x, point.y) : null;
    coordsEl.textContent = pixel
      ? `(${pixel.x}, ${pixel.y})`
      : placement.state.selected
        ? `(${placement.state.selected.x}, ${placement.state.selected.y})`
        : '–';
  },
});

viewportEl.addEventListener('keydown', (e) => {
  const step = Math.max(1, Math.round(Math.min(view.width, view.height) / 8));
  const arrows: Record<string, [number, number]> = {
    ArrowLeft: [step, 0],
    ArrowRight: [-step, 0],
    ArrowUp: [0, step],
    ArrowDown: [0, -step],
  };
  const arrow = arrows[e.key];
  if (arrow && e.shiftKey && placement.state.selected) {
    // Shift+arrows move the selection by one pixel, for precise keyboard placement.
    const s = placement.state.selected;
    const x = Math.min(size.width - 1, Math.max(0, s.x - Math.sign(arrow[0])));
    const y = Math.min(size.height - 1, Math.max(0, s.y - Math.sign(arrow[1])));
    select({ x, y });
  } else if (arrow) {
    setCamera(panBy(camera, arrow[0], arrow[1]));
  } else if (e.key === '+' || e.key === '=') {
    zoomBy(1.5);
  } else if (e.key === '-' || e.key === '_') {
    zoomBy(1 / 1.5);
  } else if (e.key === 'Enter' || e.key === ' ') {
    select(pixelAt(camera, view, size, view.width / 2, view.height / 2));
  } else if (e.key === 'Escape') {
    select(null);
  } else {
    return;
  }
  e.preventDefault();
});

$('zoom-in').addEventListener('click', () => zoomBy(2));
$('zoom-out').addEventListener('click', () => zoomBy(0.5));
$('zoom-fit').addEventListener('click', () =>
  setCamera({ x: size.width / 2, y: size.height / 2, zoom: fitZoom(view, size) }),
);

const shareEl = $<HTMLButtonElement>('share');
shareEl.addEventListener('click', () => {
  const selected = placement.state.selected;
  const link = `${location.origin}${location.pathname}${location.search}${shareHash(location.hash, camera, selected)}`;
  const what = selected ? `pixel (${selected.x}, ${selected.y})` : 'this view';
  const done = (text: string) => {
    feedbackEl.textContent = text;
    feedbackEl.dataset.kind = 'ok';
    shareEl.dataset.link = link;
  };
  navigator.clipboard.writeText(link).then(
    () => done(`Link to ${what} copied.`),
    () => done(`Link to ${what}: ${link}`),
  );
});

// ---- connection --------------------------------------------------------------------------------------

const STATUS_TEXT: Record<ClientStatus, string> = {
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  synced: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
  incompatible: 'Server updated: please reload',
};

let pastTime: number | null | undefined;
let retryTicker: ReturnType<typeof setInterval> | undefined;

/** The header's status: live, the past moment history mode shows, or the reconnect countdown with "retry now". */
function showStatus(status: ClientStatus): void {
  const text = statusEl.querySelector('.status-text');
  const reconnecting = status === 'reconnecting' && client.nextRetryAt !== null;
  retryEl.hidden = !reconnecting;
  if (reconnecting && !retryTicker) retryTicker = setInterval(() => showStatus(client.status), 250);
  if (!reconnecting && retryTicker) {
    clearInterval(retryTicker);
    retryTicker = undefined;
  }
  if (pastTime !== undefined) {
    // History mode shows the past: never a green "Live" over it.
    statusEl.dataset.state = 'past';
    if (text) text.textContent = pastTime === null ? 'History: now' : `History: ${new Date(pastTime).toLocaleString()}`;
  } else {
    statusEl.dataset.state =
      status === 'synced' ? 'live' : status === 'closed' || status === 'incompatible' ? 'offline' : 'pending';
    let label = STATUS_TEXT[status];
    if (reconnecting)
      label = `Reconnecting in ${Math.max(0, Math.ceil(((client.nextRetryAt ?? 0) - Date.now()) / 1000))} s`;
    if (text) text.textContent = label;
  }
  placement.setConnected(status === 'synced');
}

retryEl.addEventListener('click', () => {
  client.retryNow();
  showStatus(client.status);
});

function paletteNamesOf(color: number): string {
  return client.welcome?.canvasInfo.paletteNames[color] ?? `colour ${color}`;
}

function onWelcome(welcome: WelcomeMessage): void {
  const info = welcome.canvasInfo;
  if (info.palette.join() !== paletteHex.join()) {
    paletteHex = info.palette;
    paletteNames = info.paletteNames;
    renderer.setPalette(info.palette);
    palette.setPalette(info.palette, info.paletteNames);
    // A canvas that arrived before the palette (over HTTP) is redrawn with the right colours.
    if (client.canvas) renderer.drawAll(client.canvas);
    templates?.canvasReady();
  }
  if (welcome.isGuest) account.show({ userId: welcome.userId, username: null, isGuest: true });
  else {
    void account.refresh();
    startModConsole();
  }
  placement.setCooldownSeconds(welcome.cooldownRemaining);
}

const debug = new URLSearchParams(location.search).has('debug');
const timings = { canvasAt: -1, paintedAt: -1, frames: 0, drawAllMs: -1, firstFlushMs: -1 };

function onCanvas(width: number, height: number, canvas: Uint8Array | undefined): void {
  if (!canvas) return;
  size = { width, height };
  renderer.resize(width, height);
  // Without a palette the 4 MB canvas would be drawn twice (wrong colours, then right ones); it is drawn
  // once when the palette arrives (asked for at start-up, alongside the canvas).
  if (paletteHex.length > 0) {
    const t0 = performance.now();
    renderer.drawAll(canvas);
    if (timings.drawAllMs < 0) timings.drawAllMs = performance.now() - t0;
  }
  if (!cameraPlaced) {
    cameraPlaced = true;
    setCamera(urlCamera ?? initialCamera(view, size));
  } else {
    setCamera(camera);
  }
  if (timings.canvasAt < 0) timings.canvasAt = performance.now();
  historyMode.canvasChanged(size);
  templates?.canvasReady();
  selectLinkedPixel();
}

let linkedPixelDone = false;
/** A shared link's `p=x,y`: select that pixel once the canvas is known. */
function selectLinkedPixel(): void {
  if (linkedPixelDone || size.width === 0) return;
  linkedPixelDone = true;
  const pixel = pixelFromHash(location.hash, size);
  if (pixel) select(pixel);
}

let infoRequested = false;
async function fetchPaletteInfo(): Promise<void> {
  if (infoRequested) return;
  infoRequested = true;
  try {
    const res = await fetch('/api/v1/canvas/info');
    if (!res.ok || paletteHex.length > 0) return;
    const info = (await res.json()) as { palette?: string[]; paletteNames?: string[] };
    if (!info.palette || paletteHex.length > 0) return;
    paletteHex = info.palette;
    paletteNames = info.paletteNames ?? [];
    renderer.setPalette(info.palette);
    palette.setPalette(info.palette, info.paletteNames ?? []);
    templates?.canvasReady();
    if (client.canvas) {
      const t0 = performance.now();
      renderer.drawAll(client.canvas);
      if (timings.drawAllMs < 0) timings.drawAllMs = performance.now() - t0;
    }
  } catch {
    // The welcome brings the palette too.
  }
}

renderer.onFlush = (_tiles, full, flushMs) => {
  timings.frames += 1;
  if (full && timings.firstFlushMs < 0) timings.firstFlushMs = flushMs;
  if (full && timings.paintedAt < 0 && paletteHex.length > 0) {
    loadingEl.hidden = true;
    // The pixels are on the canvas; the next frame has them on screen.
    requestAnimationFrame(() => {
      timings.paintedAt = performance.now();
      document.documentElement.dataset.painted = 'true';
    });
  }
};

const client = new RplaceClient({
  url: location.origin,
  WebSocket,
  fetch: (url, init) => {
    if (url === canvasUrl && earlyCanvas) {
      const early = earlyCanvas;
      earlyCanvas = undefined;
      return early.catch(() => fetch(url, init));
    }
    return fetch(url, init);
  },
  onWelcome,
  onCanvas: (_seq, width, height, canvas) => onCanvas(width, height, canvas),
  onPixels: (frame) => onPixelRecords(frame.records, frame.count),
  onTile: (frame) => {
    const at = { x: frame.tx * VIEW_TILE_SIZE, y: frame.ty * VIEW_TILE_SIZE, w: frame.width, h: frame.height };
    if (!historyMode.active && at.w > 0 && at.h > 0) renderer.drawRegion(frame.data, at);
    templates?.canvasReady();
  },
  onTilePixels: (frame) => onPixelRecords(toPixelRecords(frame), frame.count),
  onStatus: (status) => showStatus(status),
});

viewClient = client;
showView();

const historyMode = new HistoryMode({
  renderer,
  liveCanvas: () => client.canvas,
  visibleRegion: () => ({ camera, view }),
  selected: () => placement.state.selected,
  onTime: (time) => {
    pastTime = time;
    showStatus(client.status);
  },
  onToggle: (active) => {
    document.body.classList.toggle('history-mode', active);
    pastTime = active ? (pastTime ?? null) : undefined;
    showStatus(client.status);
    pixelInfo.full = active;
    drawReticle();
    pixelInfo.show(placement.state.selected, paletteNamesOf);
  },
});

onCameraMoved = () => historyMode.viewChanged();

templates = new Templates(
  {
    palette: () => paletteHex,
    paletteNames: () => paletteNames,
    canvas: () => client.canvas,
    size: () => size,
    view: () => ({ camera, view }),
    selected: () => placement.state.selected,
    jumpTo: (x, y, color) => {
      if (historyMode.active) historyMode.setActive(false);
      setCamera({ x: x + 0.5, y: y + 0.5, zoom: Math.max(camera.zoom, PLACE_ZOOM * 2) });
      select({ x, y });
      palette.select(color);
    },
  },
  $('overlays'),
);

/** Signed-in sessions ask once whether they moderate; the console exists only then (the server re-checks every call). */
function startModConsole(): void {
  if (modConsole) return;
  modConsole = new ModConsole({
    viewport: viewportEl,
    topbar: document.querySelector('.topbar') as HTMLElement,
    pixelSlot: pixelInfoEl.parentElement as HTMLElement,
    toPixel: (sx, sy) => {
      if (size.width === 0) return null;
      // Clamped: a drag that leaves the canvas selects up to its edge.
      const p = screenToCanvas(camera, view, sx, sy);
      return {
        x: Math.min(size.width - 1, Math.max(0, Math.floor(p.x))),
        y: Math.min(size.height - 1, Math.max(0, Math.floor(p.y))),
      };
    },
    toScreen: (x, y) => canvasToScreen(camera, view, x, y),
    zoom: () => camera.zoom,
  });
  void modConsole.init();
}

void fetchPaletteInfo();
void client.connect().catch(() => undefined);
showStatus('connecting');

if (debug) {
  // Test and benchmark hooks only (`/?debug`): the canvas bytes this page holds, its sequence and timings.
  Object.assign(window, {
    rplaceDebug: {
      client,
      timings,
      canvasBase64: () => {
        const bytes = client.canvas ?? new Uint8Array(0);
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return btoa(s);
      },
      seq: () => client.seq,
      size: () => ({ ...size }),
      camera: () => camera,
      /** Client (page) coordinates of the centre of canvas pixel (x, y). */
      screenOf: (x: number, y: number) => {
        const r = viewportEl.getBoundingClientRect();
        const p = canvasToScreen(camera, view, x + 0.5, y + 0.5);
        return { x: r.left + p.x, y: r.top + p.y };
      },
      /** The palette index this page holds for (x, y). */
      pixel: (x: number, y: number) => client.canvas?.[y * size.width + x] ?? -1,
      /** The colour actually drawn on the <canvas> at (x, y), as #RRGGBB. */
      rendered: (x: number, y: number) => {
        const d = canvasEl.getContext('2d')?.getImageData(x, y, 1, 1).data;
        return d
          ? `#${[d[0], d[1], d[2]]
              .map((v) => (v ?? 0).toString(16).padStart(2, '0'))
              .join('')
              .toUpperCase()}`
          : '';
      },
      placement: () => placement.state,
      /** History mode's slider: steps drawn, and the last one's sequence and time. */
      history: () => ({ ...historyMode.shown }),
      /** The whole drawn <canvas> as palette indices (255 for a colour not in the palette), base64. */
      renderedIndicesBase64: () => {
        const d = canvasEl.getContext('2d')?.getImageData(0, 0, size.width, size.height).data;
        if (!d) return '';
        const byColor = new Map(paletteHex.map((hex, i) => [Number.parseInt(hex.slice(1, 7), 16), i]));
        const out = new Uint8Array(size.width * size.height);
        for (let i = 0; i < out.length; i++)
          out[i] = byColor.get(((d[i * 4] ?? 0) << 16) | ((d[i * 4 + 1] ?? 0) << 8) | (d[i * 4 + 2] ?? 0)) ?? 255;
        let s = '';
        for (let i = 0; i < out.length; i += 0x8000) s += String.fromCharCode(...out.subarray(i, i + 0x8000));
        return btoa(s);
      },
      templates: () => templates?.progress ?? [],
      templateAddTimings: () => templates?.lastAdd,
    },
  });
}
