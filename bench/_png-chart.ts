/**
 * A dependency-free line chart as PNG (for the soak bench): one panel per metric group, one coloured
 * polyline per series, each panel scaled to its own 0..max. No text (the bench prints the table and the
 * legend); the PNG is RGB, 8 bit, written with node:zlib's deflate and crc32.
 */
import { crc32, deflateSync } from 'node:zlib';

export interface Panel {
  /** Series name → values, one per sample. */
  readonly series: Readonly<Record<string, readonly number[]>>;
}

const COLORS: readonly [number, number, number][] = [
  [220, 50, 47],
  [38, 139, 210],
  [133, 153, 0],
  [211, 54, 130],
  [181, 137, 0],
  [42, 161, 152],
  [108, 113, 196],
  [0, 0, 0],
];

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

export function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width * 3 + 1)] = 0; // filter: none
    Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Panels stacked vertically, `width`×`panelHeight` each, with a grey frame. Series colours in COLORS order. */
export function lineChart(panels: readonly Panel[], width = 800, panelHeight = 200): Buffer {
  const height = panels.length * panelHeight;
  const rgb = new Uint8Array(width * height * 3).fill(255);
  const dot = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    rgb.set(c, (y * width + x) * 3);
  };
  panels.forEach((panel, p) => {
    const top = p * panelHeight;
    for (let x = 0; x < width; x++) dot(x, top + panelHeight - 1, [160, 160, 160]);
    for (let y = top; y < top + panelHeight; y++) dot(0, y, [160, 160, 160]);
    const all = Object.values(panel.series).flat();
    const max = Math.max(1, ...all);
    Object.values(panel.series).forEach((values, s) => {
      const color = COLORS[s % COLORS.length]!;
      const px = (i: number) => Math.round(((width - 10) * i) / Math.max(1, values.length - 1)) + 5;
      const py = (v: number) => top + panelHeight - 6 - Math.round(((panelHeight - 12) * v) / max);
      for (let i = 1; i < values.length; i++) {
        const [x0, y0, x1, y1] = [px(i - 1), py(values[i - 1]!), px(i), py(values[i]!)];
        const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0), 1);
        for (let k = 0; k <= steps; k++) {
          const x = Math.round(x0 + ((x1 - x0) * k) / steps);
          const y = Math.round(y0 + ((y1 - y0) * k) / steps);
          dot(x, y, color);
          dot(x, y + 1, color);
        }
      }
    });
  });
  return encodeRgbPng(rgb, width, height);
}
