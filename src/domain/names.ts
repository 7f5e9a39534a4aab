/**
 * Every external name derived from a canvas id, so one id isolates a whole deployment (or a test file).
 *
 * Subjects: `rplace.<canvas>.px.<tileX>.<tileY>` — the tile (256×256 pixels) lets a consumer filter
 * spatially (`rplace.main.px.3.*`), and the `<canvas>` token lets several canvases share one NATS account.
 * Moderation events (`PixelRestored`) go to `rplace.<canvas>.mod.<tileX>.<tileY>`: a subject of their own, so
 * NATS permissions can tell them apart (streams/permissions.ts: placements from edges, moderation events from the
 * operator and the edges' moderator console). Canvas resizes (`CanvasResized`) go to `rplace.<canvas>.ops.resize`,
 * which only the operator identity may publish to.
 */
import { SubjectClass } from '../../proto/event-codec.ts';

export const TILE_SIZE = 256;

export interface Names {
  readonly canvasId: string;
  readonly stream: string;
  /** Subject filter covering every event of this canvas. */
  readonly subjects: string;
  readonly redisPrefix: string;
  readonly pgSchema: string;
  readonly consumers: { readonly bitmap: string; readonly history: string };
  /**
   * Core-NATS control subjects, OUTSIDE the stream's `rplace.<canvas>.>` so they never land in the log, one
   * per writer (streams/permissions.ts): status requests (operator), session revocations (edges, on
   * logout), user revocations (operator, on a ban); `revokeAll` is what edges listen to.
   */
  readonly control: {
    readonly status: string;
    readonly revokeSession: string;
    readonly revokeUser: string;
    readonly revokeAll: string;
  };
  pixelSubject(x: number, y: number): string;
  /** Where moderation events (`PixelRestored`) are stored. */
  moderationSubject(x: number, y: number): string;
  /** Subject filters of the placements and of the moderation events (both inside `subjects`). */
  readonly placementSubjects: string;
  readonly moderationSubjects: string;
  /** True when a stored message's subject is a moderation subject (`rplace.<canvas>.mod.…`). */
  isModerationSubject(subject: string): boolean;
  /** Where canvas resizes (`CanvasResized`) are stored: the operator's subject alone. */
  readonly resizeSubject: string;
  /** Which family of subjects a stored message's subject belongs to (what `checkStoredEvent` checks its kind against). */
  subjectClass(subject: string): SubjectClass;
  /**
   * `subjectClass` of a subject still in its UTF-8 bytes, `bytes[from, to)`: the same rule without a string per
   * message (the pixel tail's fast delivery, src/adapters/nats/fast-delivery.ts).
   */
  subjectClassOfBytes(bytes: Uint8Array, from: number, to: number): SubjectClass;
  cooldownKey(userId: string): string;
  readonly canvasKey: string;
  readonly canvasSeqKey: string;
  /** The size the Redis bitmap is at (`<width>x<height>`; absent: the initial size). */
  readonly canvasSizeKey: string;
}

export function namesFor(canvasId: string): Names {
  const redisPrefix = `rplace:${canvasId}:`;
  const tile = (x: number, y: number) => `${Math.floor(x / TILE_SIZE)}.${Math.floor(y / TILE_SIZE)}`;
  const modPrefix = `rplace.${canvasId}.mod.`;
  const resizeSubject = `rplace.${canvasId}.ops.resize`;
  const modPrefixBytes = new TextEncoder().encode(modPrefix);
  const resizeSubjectBytes = new TextEncoder().encode(resizeSubject);
  return {
    canvasId,
    stream: `RPLACE_${canvasId}`,
    subjects: `rplace.${canvasId}.>`,
    redisPrefix,
    pgSchema: `rplace_${canvasId}`,
    consumers: { bitmap: 'bitmap-projector', history: 'history-projector' },
    control: {
      status: `rplace-ctl.${canvasId}.status`,
      revokeSession: `rplace-ctl.${canvasId}.revoke.session`,
      revokeUser: `rplace-ctl.${canvasId}.revoke.user`,
      revokeAll: `rplace-ctl.${canvasId}.revoke.*`,
    },
    pixelSubject: (x, y) => `rplace.${canvasId}.px.${tile(x, y)}`,
    moderationSubject: (x, y) => `${modPrefix}${tile(x, y)}`,
    placementSubjects: `rplace.${canvasId}.px.>`,
    moderationSubjects: `${modPrefix}>`,
    isModerationSubject: (subject) => subject.startsWith(modPrefix),
    resizeSubject,
    subjectClass: (subject) =>
      subject.startsWith(modPrefix)
        ? SubjectClass.Moderation
        : subject === resizeSubject
          ? SubjectClass.Resize
          : SubjectClass.Placement,
    subjectClassOfBytes: (bytes, from, to) =>
      bytesStartWith(bytes, from, to, modPrefixBytes)
        ? SubjectClass.Moderation
        : to - from === resizeSubjectBytes.length && bytesStartWith(bytes, from, to, resizeSubjectBytes)
          ? SubjectClass.Resize
          : SubjectClass.Placement,
    cooldownKey: (userId) => `${redisPrefix}cooldown:${userId}`,
    canvasKey: `${redisPrefix}canvas:current`,
    canvasSeqKey: `${redisPrefix}canvas:seq`,
    canvasSizeKey: `${redisPrefix}canvas:size`,
  };
}

/** True when `bytes[from, to)` starts with `prefix`. */
function bytesStartWith(bytes: Uint8Array, from: number, to: number, prefix: Uint8Array): boolean {
  if (to - from < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[from + i] !== prefix[i]) return false;
  return true;
}
