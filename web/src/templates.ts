/**
 * Templates, the page part: the "Templates" panel (add from a file or a URL, position, scale; the colour
 * mapping; progress; next wrong pixel; share; remove), one overlay `<canvas>` per template moved with the
 * camera like the main canvas, and at high zoom a screen-space layer of dots (one per template pixel, so the
 * canvas underneath stays visible). The logic is in template.ts; this file only loads images and draws.
 *
 * Progress is updated per pixel record as frames arrive (`onRecords`, O(1) each); the numbers and the
 * highlight of wrong pixels repaint at most once per animation frame.
 */
import { type Camera, type Viewport, canvasToScreen, visibleRegion } from './camera.ts';
import {
  hexToRgb,
  type MappedTemplate,
  mapToPalette,
  MAX_FILE_BYTES,
  MAX_IMAGE_PIXELS,
  placementProblem,
  Progress,
  scaleRgba,
  type TemplateRef,
  templatesFromHash,
  templatesToHash,
  UNMATCHED,
} from './template.ts';

export interface TemplatesDeps {
  palette(): readonly string[];
  paletteNames(): readonly string[];
  /** The live canvas bytes (row-major palette indices) and its size; undefined before the first load. */
  canvas(): Uint8Array | undefined;
  size(): { width: number; height: number };
  view(): { camera: Camera; view: Viewport };
  selected(): { x: number; y: number } | null;
  /** Centres on (x, y) zoomed in, selects it and picks `color`. */
  jumpTo(x: number, y: number, color: number): void;
}

/** From this zoom up each template pixel is a dot in its centre instead of a tinted square. */
export const DOT_ZOOM = 12;
const STORAGE_KEY = 'rplace:templates';
/** localStorage holds about 5 MB per origin; a file template is kept (as a data: URL) up to this size. */
const MAX_STORED_FILE_BYTES = 1024 * 1024;
const FETCH_TIMEOUT_MS = 15_000;
const MAX_TEMPLATES = 8;

interface Shown {
  readonly id: number;
  readonly ref: TemplateRef;
  readonly mapped: MappedTemplate;
  readonly progress: Progress;
  readonly overlay: HTMLCanvasElement;
  readonly wrongLayer: HTMLCanvasElement;
  readonly wrongImage: ImageData;
  readonly item: HTMLLIElement;
  opacity: number;
  highlight: boolean;
  cursor: number;
  dirty: { x0: number; y0: number; x1: number; y1: number } | null;
}

class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(0)} MB`;
}

async function readCapped(res: Response): Promise<Blob> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > MAX_FILE_BYTES)
    throw new TemplateError(
      `The image is ${mb(declared)}; templates are limited to ${mb(MAX_FILE_BYTES)} so a page never holds more than that to decode.`,
    );
  if (!res.body) return res.blob();
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > MAX_FILE_BYTES) {
      await reader.cancel();
      throw new TemplateError(
        `The image is over ${mb(MAX_FILE_BYTES)}; templates are limited to that so a page never holds more than that to decode.`,
      );
    }
    parts.push(value);
  }
  return new Blob(parts as BlobPart[], { type: res.headers.get('content-type') ?? '' });
}

/** The image at `src` (http(s) or data: URL) as a Blob, with a clear error for each way it can fail. */
async function fetchImage(src: string): Promise<Blob> {
  let url: URL;
  try {
    url = new URL(src);
  } catch {
    throw new TemplateError('That is not a URL: paste an address starting with https://.');
  }
  if (!['http:', 'https:', 'data:'].includes(url.protocol))
    throw new TemplateError('Only http(s) image URLs can be templates.');
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), FETCH_TIMEOUT_MS);
  let res: Response;
  try {
    res = await fetch(src, { mode: 'cors', credentials: 'omit', signal: abort.signal });
  } catch {
    clearTimeout(timer);
    const host = url.protocol === 'data:' ? 'the data: URL' : url.host;
    throw new TemplateError(
      abort.signal.aborted
        ? `${host} did not answer within ${FETCH_TIMEOUT_MS / 1000} s.`
        : `Could not load the image from ${host}: it is unreachable, or it does not let other sites read its images (CORS). Download it and add it as a file instead.`,
    );
  }
  try {
    if (!res.ok) throw new TemplateError(`${url.host} answered ${res.status} for that image.`);
    return await readCapped(res);
  } finally {
    clearTimeout(timer);
  }
}

async function decode(blob: Blob): Promise<ImageBitmap> {
  if (blob.size > MAX_FILE_BYTES)
    throw new TemplateError(
      `The image is ${mb(blob.size)}; templates are limited to ${mb(MAX_FILE_BYTES)} so a page never holds more than that to decode.`,
    );
  try {
    return await createImageBitmap(blob);
  } catch {
    throw new TemplateError(
      'That is not an image this browser can read (use PNG, GIF, WebP or JPEG; PNG keeps the colours exact).',
    );
  }
}

function rgbaOf(bitmap: ImageBitmap): Uint8ClampedArray {
  if (bitmap.width * bitmap.height > MAX_IMAGE_PIXELS) {
    throw new TemplateError(
      `The image is ${bitmap.width}×${bitmap.height}; templates are limited to ${Math.sqrt(MAX_IMAGE_PIXELS)}×${Math.sqrt(MAX_IMAGE_PIXELS)} pixels (${(MAX_IMAGE_PIXELS * 4) / 1024 / 1024} MB of colour data in the page), and the canvas is smaller anyway.`,
    );
  }
  const c = document.createElement('canvas');
  c.width = bitmap.width;
  c.height = bitmap.height;
  const ctx = c.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new TemplateError('This browser cannot read image pixels.');
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height).data;
}

function fileToDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

export class Templates {
  private readonly deps: TemplatesDeps;
  private readonly layer: HTMLElement;
  private readonly dots: HTMLCanvasElement;
  private readonly panel = document.getElementById('templates') as HTMLElement;
  private readonly toggle = document.getElementById('templates-toggle') as HTMLButtonElement;
  private readonly form = document.getElementById('template-form') as HTMLFormElement;
  private readonly fileInput = document.getElementById('template-file') as HTMLInputElement;
  private readonly urlInput = document.getElementById('template-url') as HTMLInputElement;
  private readonly xInput = document.getElementById('template-x') as HTMLInputElement;
  private readonly yInput = document.getElementById('template-y') as HTMLInputElement;
  private readonly scaleInput = document.getElementById('template-scale') as HTMLInputElement;
  private readonly message = document.getElementById('template-message') as HTMLElement;
  private readonly list = document.getElementById('template-list') as HTMLUListElement;
  private readonly shown: Shown[] = [];
  private nextId = 1;
  private frameRequested = false;
  private pending: TemplateRef[] = [];
  private ready = false;
  /** Where the last add spent its time (ms), for the client benchmark. */
  readonly lastAdd = { loadMs: 0, decodeMs: 0, mapMs: 0, countMs: 0, drawMs: 0 };

  constructor(deps: TemplatesDeps, layer: HTMLElement) {
    this.deps = deps;
    this.layer = layer;
    this.dots = document.createElement('canvas');
    this.dots.className = 'template-dots';
    layer.append(this.dots);
    this.toggle.addEventListener('click', () => this.setOpen(this.panel.hidden));
    (document.getElementById('template-close') as HTMLButtonElement).addEventListener('click', () =>
      this.setOpen(false),
    );
    (document.getElementById('template-here') as HTMLButtonElement).addEventListener('click', () => {
      const s = this.deps.selected();
      if (s) {
        this.xInput.value = String(s.x);
        this.yInput.value = String(s.y);
      } else {
        this.say("Select a pixel on the canvas first: it becomes the template's top-left corner.", 'error');
      }
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      void this.addFromForm();
    });
    // Links first (someone shared them), then what this browser kept.
    this.pending = [...templatesFromHash(location.hash), ...this.stored()];
  }

  setOpen(open: boolean): void {
    this.panel.hidden = !open;
    this.toggle.setAttribute('aria-pressed', String(open));
  }

  /** The canvas and palette are known (or the canvas was replaced by a resync): count from its bytes. */
  canvasReady(): void {
    const canvas = this.deps.canvas();
    if (!canvas || this.deps.palette().length === 0) return;
    for (const t of this.shown) {
      t.progress.recount(canvas, this.deps.size().width);
      this.redrawWrong(t);
    }
    this.requestFrame();
    if (!this.ready) {
      this.ready = true;
      const queued = this.pending;
      this.pending = [];
      const seen = new Set<string>();
      void (async () => {
        for (const ref of queued) {
          const key = `${ref.src}|${ref.x}|${ref.y}|${ref.scale}`;
          if (seen.has(key)) continue;
          seen.add(key);
          try {
            await this.add(ref);
          } catch (error) {
            this.say(`${ref.name ?? 'A saved template'}: ${(error as Error).message}`, 'error');
          }
        }
        this.save();
      })();
    }
  }

  /** Packed `x u16, y u16, color u8` records just applied to the live canvas. */
  onRecords(records: Uint8Array, count: number): void {
    if (this.shown.length === 0) return;
    for (const t of this.shown) t.progress.updateRecords(records, count);
    this.requestFrame();
  }

  /** The camera moved: place the overlays and redraw the dots. */
  layout(): void {
    const { camera, view } = this.deps.view();
    const dotted = camera.zoom >= DOT_ZOOM;
    for (const t of this.shown) {
      const p = canvasToScreen(camera, view, t.progress.x, t.progress.y);
      const transform = `translate(${p.x.toFixed(2)}px, ${p.y.toFixed(2)}px) scale(${camera.zoom})`;
      t.overlay.style.transform = transform;
      t.wrongLayer.style.transform = transform;
      t.overlay.hidden = dotted;
      t.overlay.style.opacity = String(t.opacity);
      t.wrongLayer.hidden = !t.highlight || dotted;
    }
    this.drawDots();
  }

  /** What the tests read: each template's counts. */
  get progress(): {
    name: string;
    x: number;
    y: number;
    width: number;
    height: number;
    total: number;
    right: number;
    wrong: number;
    remaining: number;
  }[] {
    return this.shown.map((t) => ({
      name: t.ref.name ?? t.ref.src,
      x: t.progress.x,
      y: t.progress.y,
      width: t.progress.width,
      height: t.progress.height,
      ...t.progress.value,
    }));
  }

  private say(text: string, kind: 'ok' | 'error' | 'wait'): void {
    this.message.textContent = text;
    this.message.dataset.kind = kind;
  }

  private async addFromForm(): Promise<void> {
    const x = Number(this.xInput.value);
    const y = Number(this.yInput.value);
    const scale = Number(this.scaleInput.value || '1');
    if (!Number.isFinite(scale) || scale <= 0 || scale > 64) {
      this.say(
        'Scale must be a number above 0 and at most 64 (0.5 halves an image drawn at 2 pixels per pixel).',
        'error',
      );
      return;
    }
    const file = this.fileInput.files?.[0];
    const url = this.urlInput.value.trim();
    if (!file && !url) {
      this.say('Choose an image file or paste an image URL.', 'error');
      return;
    }
    this.say('Loading the template…', 'wait');
    try {
      if (file) {
        if (file.size > MAX_FILE_BYTES)
          throw new TemplateError(
            `${file.name} is ${mb(file.size)}; templates are limited to ${mb(MAX_FILE_BYTES)} so a page never holds more than that to decode.`,
          );
        const src = file.size <= MAX_STORED_FILE_BYTES ? await fileToDataUrl(file) : '';
        await this.add({ src, x, y, scale, name: file.name }, file);
        if (!src)
          this.say(
            `Added ${file.name}. It is over ${mb(MAX_STORED_FILE_BYTES)}, so it is not kept across reloads: use a URL for that.`,
            'ok',
          );
      } else {
        await this.add({ src: url, x, y, scale, name: url.split('/').pop()?.slice(0, 60) || url });
      }
      this.save();
      this.fileInput.value = '';
      this.urlInput.value = '';
    } catch (error) {
      this.say(
        error instanceof TemplateError ? error.message : `Could not add the template: ${(error as Error).message}`,
        'error',
      );
    }
  }

  private async add(ref: TemplateRef, file?: Blob): Promise<void> {
    if (this.shown.length >= MAX_TEMPLATES)
      throw new TemplateError(`At most ${MAX_TEMPLATES} templates at once: remove one first.`);
    const size = this.deps.size();
    if (size.width === 0) throw new TemplateError('The canvas has not loaded yet.');
    if (!Number.isInteger(ref.x) || !Number.isInteger(ref.y))
      throw new TemplateError('The position must be whole pixels.');
    const early = placementProblem({ x: ref.x, y: ref.y, width: 1, height: 1 }, size);
    if (early) throw new TemplateError(early);
    let t0 = performance.now();
    const blob = file ?? (await fetchImage(ref.src));
    this.lastAdd.loadMs = performance.now() - t0;
    t0 = performance.now();
    const bitmap = await decode(blob);
    let rgba: Uint8ClampedArray;
    let width = bitmap.width;
    let height = bitmap.height;
    try {
      rgba = rgbaOf(bitmap);
    } finally {
      bitmap.close();
    }
    if (ref.scale !== 1) ({ rgba, width, height } = scaleRgba(rgba, width, height, ref.scale));
    const problem = placementProblem({ x: ref.x, y: ref.y, width, height }, size);
    if (problem) throw new TemplateError(problem);
    this.lastAdd.decodeMs = performance.now() - t0;
    t0 = performance.now();
    const mapped = mapToPalette(rgba, width, height, this.deps.palette());
    this.lastAdd.mapMs = performance.now() - t0;
    t0 = performance.now();
    const progress = new Progress({ x: ref.x, y: ref.y, width, height, target: mapped.target });
    const canvas = this.deps.canvas();
    if (canvas) progress.recount(canvas, size.width);
    this.lastAdd.countMs = performance.now() - t0;
    t0 = performance.now();

    const overlay = document.createElement('canvas');
    overlay.className = 'template-overlay';
    overlay.width = width;
    overlay.height = height;
    const octx = overlay.getContext('2d');
    const image = new ImageData(width, height);
    const lut = this.deps.palette().map(hexToRgb);
    for (let i = 0; i < mapped.target.length; i++) {
      const t = mapped.target[i] as number;
      if (t >= UNMATCHED) continue;
      const rgb = lut[t] ?? [255, 0, 255];
      const o = i * 4;
      image.data[o] = rgb[0];
      image.data[o + 1] = rgb[1];
      image.data[o + 2] = rgb[2];
      image.data[o + 3] = 255;
    }
    octx?.putImageData(image, 0, 0);
    const wrongLayer = document.createElement('canvas');
    wrongLayer.className = 'template-wrong';
    wrongLayer.width = width;
    wrongLayer.height = height;

    const shown: Shown = {
      id: this.nextId++,
      ref,
      mapped,
      progress,
      overlay,
      wrongLayer,
      wrongImage: new ImageData(width, height),
      item: document.createElement('li'),
      opacity: 0.5,
      highlight: true,
      cursor: -1,
      dirty: null,
    };
    progress.onChange = (index, wrong) => this.markWrong(shown, index, wrong);
    this.redrawWrong(shown);
    this.layer.insertBefore(overlay, this.dots);
    this.layer.insertBefore(wrongLayer, this.dots);
    this.shown.push(shown);
    this.renderItem(shown, image);
    this.list.append(shown.item);
    this.say(`Added ${ref.name ?? 'the template'}: ${width}×${height} at (${ref.x}, ${ref.y}).`, 'ok');
    this.layout();
    this.requestFrame();
    this.lastAdd.drawMs = performance.now() - t0;
  }

  private remove(t: Shown): void {
    const i = this.shown.indexOf(t);
    if (i >= 0) this.shown.splice(i, 1);
    t.overlay.remove();
    t.wrongLayer.remove();
    t.item.remove();
    this.save();
    this.layout();
  }

  private renderItem(t: Shown, image: ImageData): void {
    const { mapped, ref } = t;
    const names = this.deps.paletteNames();
    const hexes = this.deps.palette();
    t.item.className = 'template-item';
    t.item.dataset.templateId = String(t.id);
    const title = document.createElement('div');
    title.className = 'template-title';
    title.textContent = `${ref.name ?? 'template'} · ${mapped.width}×${mapped.height} at (${ref.x}, ${ref.y})${ref.scale !== 1 ? ` · scale ${ref.scale}` : ''}`;

    const counts = document.createElement('div');
    counts.className = 'template-progress';
    counts.setAttribute('aria-live', 'polite');
    const bar = document.createElement('progress');
    bar.max = Math.max(1, t.progress.total);

    const actions = document.createElement('div');
    actions.className = 'template-actions';
    const next = this.button('Next wrong pixel', () => {
      const target = t.progress.nextWrong(t.cursor);
      if (!target) {
        this.say('Every pixel of this template is right.', 'ok');
        return;
      }
      t.cursor = target.index;
      this.deps.jumpTo(target.x, target.y, target.color);
      // On a phone the panel covers the canvas: get out of the way.
      if (window.matchMedia('(max-width: 640px)').matches) this.setOpen(false);
    });
    next.classList.add('template-next');
    const share = this.button('Share link', () => void this.share(t));
    const remove = this.button('Remove', () => this.remove(t));
    actions.append(next, share, remove);

    const controls = document.createElement('div');
    controls.className = 'template-controls';
    const opacityLabel = document.createElement('label');
    opacityLabel.textContent = 'Opacity ';
    const opacity = document.createElement('input');
    opacity.type = 'range';
    opacity.min = '0.1';
    opacity.max = '1';
    opacity.step = '0.05';
    opacity.value = String(t.opacity);
    opacity.addEventListener('input', () => {
      t.opacity = Number(opacity.value);
      this.layout();
    });
    opacityLabel.append(opacity);
    const highlightLabel = document.createElement('label');
    const highlight = document.createElement('input');
    highlight.type = 'checkbox';
    highlight.checked = t.highlight;
    highlight.addEventListener('change', () => {
      t.highlight = highlight.checked;
      this.layout();
    });
    highlightLabel.append(highlight, ' Highlight wrong pixels');
    controls.append(opacityLabel, highlightLabel);

    // The mapping: each source colour, the palette colour it became, and what could not be matched.
    const details = document.createElement('details');
    details.className = 'template-mapping';
    const summary = document.createElement('summary');
    summary.textContent = `Colours: ${mapped.mapping.length} in the image${mapped.unmatched > 0 ? `, ${mapped.unmatched} pixels unmatched` : ''}${mapped.transparent > 0 ? `, ${mapped.transparent} transparent (no pixel)` : ''}`;
    details.append(summary);
    const preview = document.createElement('canvas');
    preview.className = 'template-preview';
    preview.width = mapped.width;
    preview.height = mapped.height;
    const pimage = new ImageData(new Uint8ClampedArray(image.data), mapped.width, mapped.height);
    for (let i = 0; i < mapped.target.length; i++) {
      // Unmatched pixels as a black/magenta checker: no palette colour looks like it.
      if (mapped.target[i] === UNMATCHED)
        pimage.data.set(
          ((i % mapped.width) + Math.floor(i / mapped.width)) % 2 ? [255, 0, 255, 255] : [0, 0, 0, 255],
          i * 4,
        );
    }
    preview.getContext('2d')?.putImageData(pimage, 0, 0);
    details.append(preview);
    const table = document.createElement('ul');
    table.className = 'template-colours';
    for (const m of mapped.mapping.slice(0, 64)) {
      const li = document.createElement('li');
      const from = document.createElement('span');
      from.className = 'chip';
      from.style.background = `#${m.rgb.toString(16).padStart(6, '0')}`;
      const to = document.createElement('span');
      to.className = 'chip';
      if (m.color === UNMATCHED) to.classList.add('unmatched');
      else to.style.background = hexes[m.color] ?? '';
      li.append(
        from,
        ' → ',
        to,
        ` ${m.color === UNMATCHED ? 'unmatched' : (names[m.color] ?? `colour ${m.color}`)} · ${m.pixels} px${m.distance > 0.0005 ? ` · Δ ${m.distance.toFixed(2)}` : ''}`,
      );
      table.append(li);
    }
    if (mapped.mapping.length > 64)
      table.append(
        Object.assign(document.createElement('li'), {
          textContent: `… and ${mapped.mapping.length - 64} more colours`,
        }),
      );
    details.append(table);

    t.item.replaceChildren(title, counts, bar, actions, controls, details);
  }

  private button(text: string, onClick: () => void): HTMLButtonElement {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'tool';
    b.textContent = text;
    b.addEventListener('click', onClick);
    return b;
  }

  private async share(t: Shown): Promise<void> {
    if (!/^https?:/i.test(t.ref.src)) {
      this.say('A template added from a file has no address to share: add it from an image URL to share it.', 'error');
      return;
    }
    const link = `${location.origin}${location.pathname}${templatesToHash(location.hash, [t.ref])}`;
    try {
      await navigator.clipboard.writeText(link);
      this.say('Link copied: it opens this view with the template.', 'ok');
    } catch {
      this.say(`Copy this link: ${link}`, 'ok');
    }
  }

  private markWrong(t: Shown, index: number, wrong: boolean): void {
    t.wrongImage.data[index * 4 + 3] = wrong ? 255 : 0;
    const x = index % t.progress.width;
    const y = (index / t.progress.width) | 0;
    const d = t.dirty;
    t.dirty = d
      ? { x0: Math.min(d.x0, x), y0: Math.min(d.y0, y), x1: Math.max(d.x1, x + 1), y1: Math.max(d.y1, y + 1) }
      : { x0: x, y0: y, x1: x + 1, y1: y + 1 };
  }

  private redrawWrong(t: Shown): void {
    const data = t.wrongImage.data;
    for (let i = 0; i < t.progress.target.length; i++) {
      const o = i * 4;
      data[o] = 255;
      data[o + 1] = 0;
      data[o + 2] = 200;
      data[o + 3] = t.progress.isWrong(i) ? 255 : 0;
    }
    t.dirty = { x0: 0, y0: 0, x1: t.progress.width, y1: t.progress.height };
  }

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Once per animation frame: the numbers, the dirty part of each highlight, the dots. */
  private flush(): void {
    this.frameRequested = false;
    for (const t of this.shown) {
      const v = t.progress.value;
      const counts = t.item.querySelector('.template-progress');
      const pct = v.total > 0 ? (100 * v.right) / v.total : 100;
      if (counts)
        counts.textContent = `${v.right.toLocaleString()} right · ${v.wrong.toLocaleString()} wrong · ${v.remaining.toLocaleString()} remaining (${pct.toFixed(1)} % done)`;
      const bar = t.item.querySelector('progress');
      if (bar) bar.value = v.right;
      if (t.dirty) {
        const d = t.dirty;
        t.wrongLayer.getContext('2d')?.putImageData(t.wrongImage, 0, 0, d.x0, d.y0, d.x1 - d.x0, d.y1 - d.y0);
        t.dirty = null;
      }
    }
    this.drawDots();
  }

  /** At high zoom: a dot of the template's colour in each visible template pixel, wrong ones ringed. */
  private drawDots(): void {
    const { camera, view } = this.deps.view();
    const dpr = window.devicePixelRatio || 1;
    const ctx = this.dots.getContext('2d');
    if (!ctx) return;
    const on = camera.zoom >= DOT_ZOOM && this.shown.length > 0;
    this.dots.hidden = !on;
    if (!on) return;
    if (this.dots.width !== Math.round(view.width * dpr) || this.dots.height !== Math.round(view.height * dpr)) {
      this.dots.width = Math.round(view.width * dpr);
      this.dots.height = Math.round(view.height * dpr);
      this.dots.style.width = `${view.width}px`;
      this.dots.style.height = `${view.height}px`;
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, view.width, view.height);
    const r = visibleRegion(camera, view, this.deps.size());
    const hexes = this.deps.palette();
    const dot = Math.max(2, camera.zoom / 3);
    for (const t of this.shown) {
      const p = t.progress;
      const x0 = Math.max(r.x, p.x);
      const y0 = Math.max(r.y, p.y);
      const x1 = Math.min(r.x + r.w, p.x + p.width);
      const y1 = Math.min(r.y + r.h, p.y + p.height);
      ctx.globalAlpha = Math.max(0.6, t.opacity);
      for (let y = y0; y < y1; y++) {
        for (let x = x0; x < x1; x++) {
          const i = (y - p.y) * p.width + (x - p.x);
          const target = p.target[i] as number;
          if (target >= UNMATCHED) continue;
          const s = canvasToScreen(camera, view, x + 0.5, y + 0.5);
          if (t.highlight && p.isWrong(i)) {
            ctx.strokeStyle = '#FF00C8';
            ctx.lineWidth = 2;
            ctx.strokeRect(s.x - camera.zoom / 2 + 1, s.y - camera.zoom / 2 + 1, camera.zoom - 2, camera.zoom - 2);
          }
          ctx.fillStyle = hexes[target] ?? '#FF00FF';
          ctx.fillRect(s.x - dot / 2, s.y - dot / 2, dot, dot);
          // A thin dark edge keeps a white dot visible on a white canvas.
          ctx.strokeStyle = 'rgba(0,0,0,0.5)';
          ctx.lineWidth = 1;
          ctx.strokeRect(s.x - dot / 2, s.y - dot / 2, dot, dot);
        }
      }
    }
    ctx.globalAlpha = 1;
  }

  private stored(): TemplateRef[] {
    try {
      const raw = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '[]') as unknown;
      if (!Array.isArray(raw)) return [];
      return raw
        .filter(
          (r): r is TemplateRef =>
            typeof r === 'object' &&
            r !== null &&
            typeof r.src === 'string' &&
            r.src !== '' &&
            Number.isInteger(r.x) &&
            Number.isInteger(r.y) &&
            typeof r.scale === 'number' &&
            r.scale > 0 &&
            r.scale <= 64,
        )
        .slice(0, MAX_TEMPLATES);
    } catch {
      return [];
    }
  }

  private save(): void {
    const refs = this.shown.map((t) => t.ref).filter((r) => r.src !== '');
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(refs));
    } catch {
      this.say("This browser's storage is full: the templates will not be kept after a reload.", 'error');
    }
  }
}
