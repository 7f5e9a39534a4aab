/**
 * Colour palettes. Index 0 is white in both, so a zero-filled canvas (a fresh Redis string, a new
 * `Uint8Array`) is a blank white canvas without any initialisation pass.
 */
export interface PaletteColor {
  readonly hex: string;
  readonly name: string;
}

/** The 32 colours of r/place 2022, white first. */
export const PALETTE_32: readonly PaletteColor[] = [
  { hex: '#FFFFFF', name: 'white' },
  { hex: '#6D001A', name: 'burgundy' },
  { hex: '#BE0039', name: 'dark red' },
  { hex: '#FF4500', name: 'red' },
  { hex: '#FFA800', name: 'orange' },
  { hex: '#FFD635', name: 'yellow' },
  { hex: '#FFF8B8', name: 'pale yellow' },
  { hex: '#00A368', name: 'dark green' },
  { hex: '#00CC78', name: 'green' },
  { hex: '#7EED56', name: 'light green' },
  { hex: '#00756F', name: 'dark teal' },
  { hex: '#009EAA', name: 'teal' },
  { hex: '#00CCC0', name: 'light teal' },
  { hex: '#2450A4', name: 'dark blue' },
  { hex: '#3690EA', name: 'blue' },
  { hex: '#51E9F4', name: 'light blue' },
  { hex: '#493AC1', name: 'indigo' },
  { hex: '#6A5CFF', name: 'periwinkle' },
  { hex: '#94B3FF', name: 'lavender' },
  { hex: '#811E9F', name: 'dark purple' },
  { hex: '#B44AC0', name: 'purple' },
  { hex: '#E4ABFF', name: 'pale purple' },
  { hex: '#DE107F', name: 'magenta' },
  { hex: '#FF3881', name: 'pink' },
  { hex: '#FF99AA', name: 'light pink' },
  { hex: '#6D482F', name: 'dark brown' },
  { hex: '#9C6926', name: 'brown' },
  { hex: '#FFB470', name: 'beige' },
  { hex: '#000000', name: 'black' },
  { hex: '#515252', name: 'dark gray' },
  { hex: '#898D90', name: 'gray' },
  { hex: '#D4D7D9', name: 'light gray' },
];

/** The 16 colours of r/place 2017, white first. */
export const PALETTE_16: readonly PaletteColor[] = [
  { hex: '#FFFFFF', name: 'white' },
  { hex: '#E4E4E4', name: 'light gray' },
  { hex: '#888888', name: 'gray' },
  { hex: '#222222', name: 'black' },
  { hex: '#FFA7D1', name: 'pink' },
  { hex: '#E50000', name: 'red' },
  { hex: '#E59500', name: 'orange' },
  { hex: '#A06A42', name: 'brown' },
  { hex: '#E5D900', name: 'yellow' },
  { hex: '#94E044', name: 'lime' },
  { hex: '#02BE01', name: 'green' },
  { hex: '#00D3DD', name: 'cyan' },
  { hex: '#0083C7', name: 'blue' },
  { hex: '#0000EA', name: 'dark blue' },
  { hex: '#CF6EE4', name: 'light purple' },
  { hex: '#820080', name: 'purple' },
];

export const PALETTES = { rplace2022: PALETTE_32, rplace2017: PALETTE_16 } as const;
export type PaletteName = keyof typeof PALETTES;

/** RGBA bytes per palette index, for renderers (PNG export, the browser's image buffer). */
export function paletteRgba(palette: readonly PaletteColor[]): Uint8Array {
  const out = new Uint8Array(palette.length * 4);
  palette.forEach((c, i) => {
    const n = Number.parseInt(c.hex.slice(1), 16);
    out[i * 4] = (n >> 16) & 0xff;
    out[i * 4 + 1] = (n >> 8) & 0xff;
    out[i * 4 + 2] = n & 0xff;
    out[i * 4 + 3] = 0xff;
  });
  return out;
}
