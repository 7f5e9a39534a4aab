/**
 * Templates, the pure part (no DOM, unit-tested in test/unit/template.test.ts): an image's colours mapped to
 * the palette, and the progress of the canvas towards it, kept up to date per pixel update.
 *
 * Colours are matched in OKLab (Björn Ottosson, 2020), where Euclidean distance follows perceived difference
 * far better than in sRGB: a dark olive maps to dark green rather than to brown. A colour farther than
 * `maxDistance` from every palette colour is "unmatched" (shown to the player, never counted); a pixel with
 * alpha below `alphaThreshold` is "no pixel" (the template does not care what is there).
 */

/** Target byte of a template pixel that is transparent in the image. */
export const NO_PIXEL = 255;
/** Target byte of a template pixel whose colour is too far from every palette colour. */
export const UNMATCHED = 254;

/** Pixels of the image the browser decodes (a 4096×4096 image is 64 MB of RGBA). */
export const MAX_IMAGE_PIXELS = 4096 * 4096;
/** Bytes of an image file or download: bounds what is read and decoded before any check can run. */
export const MAX_FILE_BYTES = 16 * 1024 * 1024;
/**
 * Default OKLab distance beyond which a colour is unmatched. In r/place 2022 gray is 0.20 from dark gray, the
 * closest two colours (beige, orange) are 0.062 apart and no sRGB colour is farther than 0.24 from the
 * palette; OKLab stretches near-black (#101010 is 0.17 from black). 0.18, just under one grey step, keeps the
 * shades a player would accept and flags the colours the palette has nothing close to.
 */
export const DEFAULT_MAX_DISTANCE = 0.18;

export type Oklab = readonly [number, number, number];

function linear(c: number): number {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

export function oklab(r: number, g: number, b: number): Oklab {
  const lr = linear(r);
  const lg = linear(g);
  const lb = linear(b);
  const l = Math.cbrt(0.4122214708 * lr + 0.5363325363 * lg + 0.0514459929 * lb);
  const m = Math.cbrt(0.2119034982 * lr + 0.6806995451 * lg + 0.1073969566 * lb);
  const s = Math.cbrt(0.0883024619 * lr + 0.2817188376 * lg + 0.6299787005 * lb);
  return [
    0.2104542553 * l + 0.793617785 * m - 0.0040720468 * s,
    1.9779984951 * l - 2.428592205 * m + 0.4505937099 * s,
    0.0259040371 * l + 0.7827717662 * m - 0.808675766 * s,
  ];
}

export function hexToRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.replace('#', '').slice(0, 6), 16);
  return [(n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
}

/** One distinct source colour of the image and what it became. */
export interface ColorMapping {
  /** `0xRRGGBB`. */
  readonly rgb: number;
  /** Palette index, or `UNMATCHED`. */
  readonly color: number;
  /** OKLab distance to the nearest palette colour. */
  readonly distance: number;
  readonly pixels: number;
}

export interface MappedTemplate {
  readonly width: number;
  readonly height: number;
  /** Row-major palette index per pixel, or `NO_PIXEL` / `UNMATCHED`. */
  readonly target: Uint8Array;
  /** Distinct source colours, most pixels first. */
  readonly mapping: readonly ColorMapping[];
  readonly transparent: number;
  readonly unmatched: number;
}

export interface MapOptions {
  readonly maxDistance?: number;
  readonly alphaThreshold?: number;
}

/** Maps RGBA pixels (as `ImageData.data`) to palette indices; each distinct colour is matched once. */
export function mapToPalette(
  rgba: Uint8ClampedArray | Uint8Array,
  width: number,
  height: number,
  palette: readonly string[],
  options: MapOptions = {},
): MappedTemplate {
  const maxDistance = options.maxDistance ?? DEFAULT_MAX_DISTANCE;
  const alphaThreshold = options.alphaThreshold ?? 128;
  const labs = palette.map((hex) => oklab(...hexToRgb(hex)));
  const seen = new Map<number, { color: number; distance: number; pixels: number }>();
  const target = new Uint8Array(width * height);
  let transparent = 0;
  let unmatched = 0;
  for (let i = 0, o = 0; i < target.length; i++, o += 4) {
    if ((rgba[o + 3] as number) < alphaThreshold) {
      target[i] = NO_PIXEL;
      transparent++;
      continue;
    }
    const rgb = ((rgba[o] as number) << 16) | ((rgba[o + 1] as number) << 8) | (rgba[o + 2] as number);
    let entry = seen.get(rgb);
    if (!entry) {
      const lab = oklab((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
      let best = -1;
      let bestD = Number.POSITIVE_INFINITY;
      labs.forEach((p, k) => {
        const d = Math.hypot(lab[0] - p[0], lab[1] - p[1], lab[2] - p[2]);
        if (d < bestD) {
          bestD = d;
          best = k;
        }
      });
      entry = { color: bestD <= maxDistance ? best : UNMATCHED, distance: bestD, pixels: 0 };
      seen.set(rgb, entry);
    }
    entry.pixels++;
    target[i] = entry.color;
    if (entry.color === UNMATCHED) unmatched++;
  }
  const mapping = [...seen].map(([rgb, e]) => ({ rgb, ...e })).sort((a, b) => b.pixels - a.pixels);
  return { width, height, target, mapping, transparent, unmatched };
}

/** Nearest-neighbour resampling of RGBA by `scale` (0.5 halves an image drawn at 2× per pixel). */
export function scaleRgba(
  rgba: Uint8ClampedArray | Uint8Array,
  width: number,
  height: number,
  scale: number,
): { rgba: Uint8ClampedArray; width: number; height: number } {
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  if (w === width && h === height) return { rgba: new Uint8ClampedArray(rgba), width, height };
  const out = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    // Sample the centre of each output pixel, so a 2× image halves to its original pixels.
    const sy = Math.min(height - 1, Math.floor((y + 0.5) / scale));
    for (let x = 0; x < w; x++) {
      const sx = Math.min(width - 1, Math.floor((x + 0.5) / scale));
      const s = (sy * width + sx) * 4;
      const d = (y * w + x) * 4;
      out[d] = rgba[s] as number;
      out[d + 1] = rgba[s + 1] as number;
      out[d + 2] = rgba[s + 2] as number;
      out[d + 3] = rgba[s + 3] as number;
    }
  }
  return { rgba: out, width: w, height: h };
}

/** Why a template cannot be placed where asked, or null. */
export function placementProblem(
  t: { x: number; y: number; width: number; height: number },
  canvas: { width: number; height: number },
): string | null {
  if (
    !Number.isInteger(t.x) ||
    !Number.isInteger(t.y) ||
    t.x < 0 ||
    t.y < 0 ||
    t.x >= canvas.width ||
    t.y >= canvas.height
  ) {
    return `Position (${t.x}, ${t.y}) is off the canvas (0–${canvas.width - 1}, 0–${canvas.height - 1}).`;
  }
  if (t.x + t.width > canvas.width || t.y + t.height > canvas.height) {
    return `A ${t.width}×${t.height} template at (${t.x}, ${t.y}) runs off the ${canvas.width}×${canvas.height} canvas: move it or scale it down.`;
  }
  return null;
}

/** Per-pixel state kept by `Progress`. */
const IGNORED = 0;
const RIGHT = 1;
const WRONG = 2;
const REMAINING = 3;

export interface ProgressCounts {
  /** Pixels the template has a colour for. */
  readonly total: number;
  readonly right: number;
  /** Differ from the template and someone painted them (another colour than the blank canvas's). */
  readonly wrong: number;
  /** Differ from the template and are still the blank canvas colour: nobody has placed them yet. */
  readonly remaining: number;
}

/**
 * The canvas's progress towards one template. `recount` once from the canvas bytes, then `update` per
 * placed pixel: O(1) each, one state byte per template pixel (1 MB for 1000×1000), never a recount.
 */
export class Progress {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly target: Uint8Array;
  private readonly state: Uint8Array;
  private readonly blank: number;
  private counts = { right: 0, wrong: 0, remaining: 0 };
  readonly total: number;
  /** Called with the template-local index of each pixel whose state changed (the overlay redraws it). */
  onChange: ((index: number, wrong: boolean) => void) | null = null;

  constructor(template: { x: number; y: number; width: number; height: number; target: Uint8Array }, blank = 0) {
    this.x = template.x;
    this.y = template.y;
    this.width = template.width;
    this.height = template.height;
    this.target = template.target;
    this.state = new Uint8Array(this.target.length);
    this.blank = blank;
    let total = 0;
    for (const t of this.target) if (t < UNMATCHED) total++;
    this.total = total;
  }

  get value(): ProgressCounts {
    return { total: this.total, ...this.counts };
  }

  /** Counts from the whole canvas (row-major palette indices, `canvasWidth` wide). */
  recount(canvas: Uint8Array, canvasWidth: number): void {
    this.counts = { right: 0, wrong: 0, remaining: 0 };
    for (let ty = 0; ty < this.height; ty++) {
      const row = (this.y + ty) * canvasWidth + this.x;
      for (let tx = 0; tx < this.width; tx++) {
        const i = ty * this.width + tx;
        const s = this.classify(i, canvas[row + tx] as number);
        this.state[i] = s;
        if (s === RIGHT) this.counts.right++;
        else if (s === WRONG) this.counts.wrong++;
        else if (s === REMAINING) this.counts.remaining++;
      }
    }
  }

  /** The canvas pixel (x, y) is now `color`. */
  update(x: number, y: number, color: number): void {
    const tx = x - this.x;
    const ty = y - this.y;
    if (tx < 0 || ty < 0 || tx >= this.width || ty >= this.height) return;
    const i = ty * this.width + tx;
    const before = this.state[i] as number;
    if (before === IGNORED) return;
    const after = this.classify(i, color);
    if (after === before) return;
    this.bump(before, -1);
    this.bump(after, 1);
    this.state[i] = after;
    this.onChange?.(i, after !== RIGHT);
  }

  /** Applies packed `x u16, y u16, color u8` records (the PIXELS frame layout). */
  updateRecords(records: Uint8Array, count: number): void {
    const x0 = this.x;
    const y0 = this.y;
    const x1 = x0 + this.width;
    const y1 = y0 + this.height;
    for (let o = 0, end = count * 5; o < end; o += 5) {
      const x = (records[o] as number) | ((records[o + 1] as number) << 8);
      const y = (records[o + 2] as number) | ((records[o + 3] as number) << 8);
      if (x >= x0 && x < x1 && y >= y0 && y < y1) this.update(x, y, records[o + 4] as number);
    }
  }

  isWrong(index: number): boolean {
    const s = this.state[index];
    return s === WRONG || s === REMAINING;
  }

  /**
   * The next pixel (canvas coordinates) after template index `after` that is not yet right, wrapping
   * around; null when the template is complete.
   */
  nextWrong(after = -1): { x: number; y: number; color: number; index: number } | null {
    const n = this.state.length;
    for (let pass = 0; pass < 2; pass++) {
      const from = pass === 0 ? after + 1 : 0;
      const to = pass === 0 ? n : Math.min(n, after + 1);
      for (let i = from; i < to; i++) {
        const s = this.state[i];
        if (s === WRONG || s === REMAINING)
          return {
            x: this.x + (i % this.width),
            y: this.y + Math.floor(i / this.width),
            color: this.target[i] as number,
            index: i,
          };
      }
    }
    return null;
  }

  private classify(i: number, color: number): number {
    const t = this.target[i] as number;
    if (t >= UNMATCHED) return IGNORED;
    if (color === t) return RIGHT;
    return color === this.blank ? REMAINING : WRONG;
  }

  private bump(state: number, by: number): void {
    if (state === RIGHT) this.counts.right += by;
    else if (state === WRONG) this.counts.wrong += by;
    else if (state === REMAINING) this.counts.remaining += by;
  }
}

/** A template as kept in the URL hash and localStorage. */
export interface TemplateRef {
  /** An http(s) URL; files added from the device are `data:` URLs (kept locally, not in links). */
  readonly src: string;
  readonly x: number;
  readonly y: number;
  readonly scale: number;
  readonly name?: string;
}

/** `tpl=<x>,<y>,<scale>,<url>` once per template, alongside the camera's `x=&y=&z=` in the hash. */
export function templatesToHash(hash: string, refs: readonly TemplateRef[]): string {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  params.delete('tpl');
  for (const r of refs) if (/^https?:/i.test(r.src)) params.append('tpl', `${r.x},${r.y},${r.scale},${r.src}`);
  return `#${params.toString()}`;
}

export function templatesFromHash(hash: string): TemplateRef[] {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const out: TemplateRef[] = [];
  for (const value of params.getAll('tpl').slice(0, 16)) {
    const m = /^(\d{1,5}),(\d{1,5}),(\d{1,3}(?:\.\d{1,4})?),(https?:\/\/.{1,2000})$/i.exec(value);
    if (!m) continue;
    const scale = Number(m[3]);
    if (scale > 0 && scale <= 64) out.push({ x: Number(m[1]), y: Number(m[2]), scale, src: m[4] as string });
  }
  return out;
}
