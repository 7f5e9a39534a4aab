/**
 * Draws palette-indexed pixels into one `<canvas>` element the size of the whole canvas; the camera moves
 * and scales that element with a CSS transform (`image-rendering: pixelated`), so panning and zooming
 * never redraw pixels.
 *
 * Pixels are written into an `ImageData` buffer through a palette lookup table (one u32 store per pixel)
 * and only dirty 64×64 tiles are copied to the canvas, once per animation frame: thousands of updates per
 * second cost a few small `putImageData` calls per frame, and a full canvas costs one.
 */
const TILE = 64;

export class Renderer {
  readonly element: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private image: ImageData;
  private pixels32: Uint32Array;
  private lut = new Uint32Array(256);
  private width = 1;
  private height = 1;
  private tilesX = 1;
  private tileDirty = new Uint8Array(1);
  private dirtyTiles: number[] = [];
  private allDirty = false;
  private frameRequested = false;
  /** Called after each frame that copied pixels to the canvas (benchmarks and tests listen). */
  onFlush: ((tiles: number, full: boolean, flushMs: number) => void) | null = null;

  constructor(element: HTMLCanvasElement) {
    this.element = element;
    const ctx = element.getContext('2d', { alpha: false, willReadFrequently: false });
    if (!ctx) throw new Error('2D canvas is not available in this browser');
    this.ctx = ctx;
    this.image = ctx.createImageData(1, 1);
    this.pixels32 = new Uint32Array(this.image.data.buffer);
  }

  /** `palette` as `#RRGGBB` strings, by index. Unknown indices draw as magenta so bugs are visible. */
  setPalette(palette: readonly string[]): void {
    const bytes = new Uint8Array(4);
    const view = new Uint32Array(bytes.buffer);
    this.lut.fill(0);
    for (let i = 0; i < 256; i++) {
      const hex = palette[i] ?? '#FF00FF';
      const n = Number.parseInt(hex.slice(1, 7), 16);
      bytes[0] = (n >> 16) & 0xff;
      bytes[1] = (n >> 8) & 0xff;
      bytes[2] = n & 0xff;
      bytes[3] = 0xff;
      this.lut[i] = view[0] as number;
    }
  }

  resize(width: number, height: number): void {
    if (width === this.width && height === this.height && this.element.width === width) return;
    this.width = width;
    this.height = height;
    this.element.width = width;
    this.element.height = height;
    this.image = this.ctx.createImageData(width, height);
    this.pixels32 = new Uint32Array(this.image.data.buffer);
    this.tilesX = Math.ceil(width / TILE);
    this.tileDirty = new Uint8Array(this.tilesX * Math.ceil(height / TILE));
    this.dirtyTiles = [];
  }

  /** Repaints everything from palette indices (row-major, `width * height` bytes). */
  drawAll(indices: Uint8Array): void {
    const n = Math.min(indices.length, this.pixels32.length);
    const lut = this.lut;
    const out = this.pixels32;
    // Four pixels per iteration from one u32 read of the indices when aligned: this loop runs once over
    // 4M pixels before the first paint, mostly before the JIT has optimised it.
    let i = 0;
    if (indices.byteOffset % 4 === 0) {
      const quads = new Uint32Array(indices.buffer, indices.byteOffset, n >>> 2);
      for (let q = 0; q < quads.length; q++, i += 4) {
        const v = quads[q] as number;
        out[i] = lut[v & 0xff] as number;
        out[i + 1] = lut[(v >>> 8) & 0xff] as number;
        out[i + 2] = lut[(v >>> 16) & 0xff] as number;
        out[i + 3] = lut[v >>> 24] as number;
      }
    }
    for (; i < n; i++) out[i] = lut[indices[i] as number] as number;
    this.allDirty = true;
    this.requestFrame();
  }

  /** Repaints one rectangle from palette indices (row-major, `r.w * r.h` bytes); the rest is left as it is. */
  drawRegion(indices: Uint8Array, r: { x: number; y: number; w: number; h: number }): void {
    const lut = this.lut;
    const out = this.pixels32;
    for (let row = 0; row < r.h; row++) {
      const from = row * r.w;
      const to = (r.y + row) * this.width + r.x;
      for (let i = 0; i < r.w; i++) out[to + i] = lut[indices[from + i] as number] as number;
    }
    for (let ty = (r.y / TILE) | 0; ty <= (((r.y + r.h - 1) / TILE) | 0); ty++) {
      for (let tx = (r.x / TILE) | 0; tx <= (((r.x + r.w - 1) / TILE) | 0); tx++) {
        const t = ty * this.tilesX + tx;
        if (this.tileDirty[t] === 0) {
          this.tileDirty[t] = 1;
          this.dirtyTiles.push(t);
        }
      }
    }
    this.requestFrame();
  }

  /**
   * Shows a decoded image (a history snapshot PNG) as is. The image buffer is left alone: `drawAll` with
   * the live canvas restores the live view.
   */
  drawBitmap(bitmap: ImageBitmap): void {
    this.ctx.drawImage(bitmap, 0, 0);
  }

  setPixel(x: number, y: number, color: number): void {
    if (x >= this.width || y >= this.height) return;
    this.pixels32[y * this.width + x] = this.lut[color] as number;
    const t = ((y / TILE) | 0) * this.tilesX + ((x / TILE) | 0);
    if (this.tileDirty[t] === 0) {
      this.tileDirty[t] = 1;
      this.dirtyTiles.push(t);
    }
    this.requestFrame();
  }

  /** Applies packed `x u16, y u16, color u8` records (the PIXELS frame layout) without allocating. */
  applyRecords(records: Uint8Array, count: number): void {
    for (let o = 0, end = count * 5; o < end; o += 5) {
      this.setPixel(
        (records[o] as number) | ((records[o + 1] as number) << 8),
        (records[o + 2] as number) | ((records[o + 3] as number) << 8),
        records[o + 4] as number,
      );
    }
  }

  private requestFrame(): void {
    if (this.frameRequested) return;
    this.frameRequested = true;
    requestAnimationFrame(() => this.flush());
  }

  /** Copies dirty pixels to the canvas; runs once per animation frame while there are changes. */
  flush(): void {
    this.frameRequested = false;
    const started = performance.now();
    const tiles = this.dirtyTiles.length;
    // Past a quarter of the tiles, one full copy is cheaper than many small ones.
    const full = this.allDirty || tiles > this.tileDirty.length / 4;
    if (full) {
      this.ctx.putImageData(this.image, 0, 0);
    } else {
      for (const t of this.dirtyTiles) {
        const tx = (t % this.tilesX) * TILE;
        const ty = ((t / this.tilesX) | 0) * TILE;
        this.ctx.putImageData(
          this.image,
          0,
          0,
          tx,
          ty,
          Math.min(TILE, this.width - tx),
          Math.min(TILE, this.height - ty),
        );
      }
    }
    for (const t of this.dirtyTiles) this.tileDirty[t] = 0;
    this.dirtyTiles.length = 0;
    this.allDirty = false;
    if (full || tiles > 0) this.onFlush?.(tiles, full, performance.now() - started);
  }
}
