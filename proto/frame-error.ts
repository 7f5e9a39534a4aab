/** Thrown by every frame decoder (`frames.ts`, `tile-frames.ts`) on malformed input. */
export class FrameDecodeError extends Error {
  override readonly name = 'FrameDecodeError';
}
