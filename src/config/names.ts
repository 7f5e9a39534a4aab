/**
 * Every external name derived from a canvas id, so one id isolates a whole deployment (or a test file).
 *
 * Subjects: `rplace.<canvas>.px.<tileX>.<tileY>` — the tile (256×256 pixels) lets a consumer filter
 * spatially (`rplace.main.px.3.*`), and the `<canvas>` token lets several canvases share one NATS account.
 */
export const TILE_SIZE = 256;

export interface Names {
  readonly canvasId: string;
  readonly stream: string;
  /** Subject filter covering every event of this canvas. */
  readonly subjects: string;
  readonly redisPrefix: string;
  readonly pgSchema: string;
  readonly consumers: { readonly bitmap: string; readonly history: string };
  pixelSubject(x: number, y: number): string;
  cooldownKey(userId: string): string;
  readonly canvasKey: string;
  readonly canvasSeqKey: string;
}

export function namesFor(canvasId: string): Names {
  const redisPrefix = `rplace:${canvasId}:`;
  return {
    canvasId,
    stream: `RPLACE_${canvasId}`,
    subjects: `rplace.${canvasId}.>`,
    redisPrefix,
    pgSchema: `rplace_${canvasId}`,
    consumers: { bitmap: 'bitmap-projector', history: 'history-projector' },
    pixelSubject: (x, y) => `rplace.${canvasId}.px.${Math.floor(x / TILE_SIZE)}.${Math.floor(y / TILE_SIZE)}`,
    cooldownKey: (userId) => `${redisPrefix}cooldown:${userId}`,
    canvasKey: `${redisPrefix}canvas:current`,
    canvasSeqKey: `${redisPrefix}canvas:seq`,
  };
}
