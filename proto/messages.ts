/**
 * The JSON control messages of the WebSocket protocol (version `PROTOCOL_VERSION`), with zod schemas for
 * everything a client may send (the edge validates them). The schemas of what a server sends, which the client
 * validates, are in `server-messages.ts` (zod/mini, so the browser bundle stays small). Binary frames
 * (`pixels`, `canvas`) are in `frames.ts`.
 * Documented in `proto/PROTOCOL.md`.
 */
import { z } from 'zod';
import type { ErrorCode } from './error-codes.ts';

export { PROTOCOL_VERSION } from './version.ts';
/** Largest client → server message an edge accepts (bytes). */
export const MAX_CLIENT_MESSAGE_BYTES = 512;

const requestId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'requestId: 1-64 of A-Z a-z 0-9 _ -');
const coordinate = z.number().int().min(0).max(65_535);

export const PlaceMessage = z.strictObject({
  type: z.literal('place'),
  x: coordinate,
  y: coordinate,
  color: z.number().int().min(0).max(255),
  requestId,
});
export const PingMessage = z.strictObject({ type: z.literal('ping') });
/**
 * Ask for every event after `since` (the last sequence the client applied), after seeing a gap. The edge
 * answers with one `pixels` frame starting exactly at `since + 1`, or a fresh `canvas` when it no longer
 * holds those events. (On a reconnect, `/ws?since=SEQ` does the same.)
 */
export const ResumeMessage = z.strictObject({
  type: z.literal('resume'),
  since: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
});

export { MAX_VIEW_TILES } from './tile-frames.ts';
/**
 * Show only this rectangle (canvas pixels; clipped to the canvas): from now on the socket receives
 * `tile` and `tilePixels` frames for the 256×256 tiles it touches, instead of whole-canvas `pixels`.
 * At most `MAX_VIEW_TILES` tiles (`bad_request` beyond).
 */
export const ViewMessage = z.strictObject({
  type: z.literal('view'),
  x: coordinate,
  y: coordinate,
  width: z.number().int().min(1).max(65_536),
  height: z.number().int().min(1).max(65_536),
});

export const ClientMessage = z.discriminatedUnion('type', [PlaceMessage, PingMessage, ResumeMessage, ViewMessage]);
export type ViewMessage = z.infer<typeof ViewMessage>;
export type ClientMessage = z.infer<typeof ClientMessage>;
export type PlaceMessage = z.infer<typeof PlaceMessage>;
export type ResumeMessage = z.infer<typeof ResumeMessage>;

export interface CanvasInfo {
  readonly width: number;
  readonly height: number;
  readonly colorCount: number;
  readonly cooldownSeconds: number;
  /** `#RRGGBB` per palette index. */
  readonly palette: readonly string[];
  /** Colour names, per palette index (for tooltips and screen readers). */
  readonly paletteNames: readonly string[];
  /** The stream sequence the serving edge's canvas reflects. */
  readonly seq: number;
}

export interface WelcomeMessage {
  readonly type: 'welcome';
  readonly protocol: number;
  readonly userId: string;
  readonly isGuest: boolean;
  /** Seconds until this user may place again (0 = now). */
  readonly cooldownRemaining: number;
  readonly canvasInfo: CanvasInfo;
}
export interface SuccessMessage {
  readonly type: 'success';
  readonly requestId: string;
  /** ms since the epoch when the next placement is allowed. */
  readonly nextPlacement: number;
  /** Stream sequence of the placement. */
  readonly seq: number;
}
export interface ErrorMessage {
  readonly type: 'error';
  readonly code: ErrorCode;
  readonly message: string;
  readonly requestId?: string;
  readonly remainingSeconds?: number;
}
export interface PongMessage {
  readonly type: 'pong';
}

/**
 * The canvas grew at stream sequence `seq` (an operator's `rplace canvas resize`): a client that reflects
 * `seq - 1` grows its canvas (the old one lands at (`originX`, `originY`), new pixels are colour 0) and then
 * reflects `seq`; one that reflects less has a gap (send `resume`). Sent on the live topic between the
 * `pixels` frame ending at `seq - 1` and the first one after `seq`. Viewport clients are closed with
 * `CanvasResized` (4006) instead, and reconnect for the new tile grid.
 */
export interface ResizedMessage {
  readonly type: 'resized';
  readonly seq: number;
  readonly width: number;
  readonly height: number;
  readonly originX: number;
  readonly originY: number;
}

export type ServerControlMessage = WelcomeMessage | SuccessMessage | ErrorMessage | PongMessage | ResizedMessage;
