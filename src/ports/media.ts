/**
 * The image and video encoders the history routes stream through (ports: the use cases never import an
 * image library). Implemented by src/adapters/image/png.ts and src/adapters/image/ffmpeg-video.ts.
 */

/** Encodes palette images (implemented by src/adapters/image/png.ts). */
export interface ImageEncoder {
  png(indices: Uint8Array, width: number, height: number): Promise<Uint8Array>;
  apng(
    width: number,
    height: number,
    frames: number,
    fps: number,
  ): {
    header(): Uint8Array;
    frame(indices: Uint8Array): Promise<Uint8Array>;
    end(): Uint8Array;
  };
}

export type VideoFormat = 'mp4' | 'webm';

export const VIDEO_CONTENT_TYPES: Readonly<Record<VideoFormat, string>> = { mp4: 'video/mp4', webm: 'video/webm' };

/** Encodes palette frames into a video browsers play (implemented with ffmpeg by src/adapters/image/ffmpeg-video.ts). */
export interface VideoEncoder {
  /** The video's frame size for a `width × height` region (scaled up, even). */
  size(width: number, height: number): { width: number; height: number };
  /**
   * The encoded file, streamed while `frames` (each `width × height` palette indices) is consumed. Ending the
   * returned iteration early stops the encoder and frees everything it holds.
   */
  encode(
    format: VideoFormat,
    video: { width: number; height: number; fps: number; frames?: number },
    frames: AsyncIterable<Uint8Array>,
  ): AsyncIterable<Uint8Array>;
}
