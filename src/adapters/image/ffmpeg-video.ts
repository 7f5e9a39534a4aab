/**
 * Timelapse video (MP4 / WebM) through one `ffmpeg` process per job, streamed both ways: palette frames are
 * turned into rgb24 and written to ffmpeg's stdin as they are computed (waiting for 'drain'), and the encoded
 * file is read from its stdout as ffmpeg produces it. MP4 is fragmented (an empty `moov` first, then one
 * fragment per keyframe) because a plain MP4 needs a seekable output to write its index at the end.
 *
 * Pixels are scaled up by an integer factor with nearest-neighbour so they stay crisp squares (see
 * `videoSize`), then padded to even dimensions because yuv420p halves the chroma planes.
 *
 * Ending the returned stream early (a client that disconnects, a cancelled job) kills ffmpeg and waits for it
 * to exit; so does a frame source that throws, and a job that runs over `maxRunMs`.
 */
import { spawn } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { VideoEncoder, VideoFormat } from '../../app/history/routes.ts';
import type { PaletteColor } from '../../domain/palette.ts';
import { paletteRgba } from '../../domain/palette.ts';
import { findExecutable } from '../services/local.ts';

/** Short side reached by upscaling when the long side allows it (small regions would play as a smudge). */
const MIN_SHORT_SIDE = 480;
/** Long side the upscale never exceeds (a region already longer than this stays at scale 1). */
const MAX_LONG_SIDE = 1920;
/** ffmpeg's stderr kept for the error message. */
const STDERR_TAIL = 2000;

/** ffmpeg failed: exit code or signal, and the end of what it printed. */
export class FfmpegFailed extends Error {
  override readonly name = 'FfmpegFailed';
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(message: string, exitCode: number | null, stderr: string, options?: { cause?: unknown }) {
    super(message, options);
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The path of an executable `ffmpeg` on PATH, or null. */
export function findFfmpeg(path = process.env.PATH ?? ''): string | null {
  return findExecutable('ffmpeg', path);
}

export interface VideoSize {
  /** Each region pixel becomes a `scale × scale` square. */
  readonly scale: number;
  /** Output size: the scaled region padded (right, bottom) to even numbers. */
  readonly width: number;
  readonly height: number;
}

/**
 * The largest useful integer upscale: enough for the short side to reach 480 px, but never past 1920 px on the
 * long side (and at least 1); then both sides rounded up to even.
 */
export function videoSize(width: number, height: number): VideoSize {
  const scale = Math.max(
    1,
    Math.min(Math.ceil(MIN_SHORT_SIDE / Math.min(width, height)), Math.floor(MAX_LONG_SIDE / Math.max(width, height))),
  );
  const even = (n: number) => n + (n % 2);
  return { scale, width: even(width * scale), height: even(height * scale) };
}

export interface VideoRequest {
  readonly format: VideoFormat;
  /** Region size: every frame is `width × height` palette indices. */
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  /**
   * Frames the source will give, when known. Passed to ffmpeg as the output's length (`-t frames/fps`): the
   * WebM muxer then writes the Duration up front, which it otherwise leaves out on a pipe (it cannot seek back
   * to fill it in), so players show no length (`ffprobe`: `duration=N/A`; measured with ffmpeg 5.1).
   */
  readonly frames?: number;
}

export interface FfmpegVideoOptions {
  readonly ffmpegPath: string;
  readonly palette: readonly PaletteColor[];
  /** ffmpeg is killed after this long, whatever it is doing (default 10 minutes). */
  readonly maxRunMs?: number;
}

function encoderArgs(format: VideoFormat, fps: number): string[] {
  // A keyframe every second: seeking, and (MP4) one fragment per second so the file streams.
  const gop = ['-g', String(fps)];
  if (format === 'mp4') {
    return [
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-crf',
      '20',
      ...gop,
      '-movflags',
      'frag_keyframe+empty_moov+default_base_moof',
      '-f',
      'mp4',
    ];
  }
  return [
    '-c:v',
    'libvpx-vp9',
    '-deadline',
    'realtime',
    '-cpu-used',
    '8',
    '-row-mt',
    '1',
    '-b:v',
    '0',
    '-crf',
    '32',
    ...gop,
    '-f',
    'webm',
  ];
}

/** The whole ffmpeg command line for one job (exported for the docs and tests). */
export function ffmpegArgs(request: VideoRequest): string[] {
  const size = videoSize(request.width, request.height);
  const filters = [
    `scale=${request.width * size.scale}:${request.height * size.scale}:flags=neighbor`,
    `pad=${size.width}:${size.height}:0:0:black`,
    // RGB → YUV with the BT.709 matrix the output is tagged with, so players show the palette's colours.
    'scale=out_color_matrix=bt709:out_range=tv',
    'format=yuv420p',
  ];
  return [
    '-hide_banner',
    '-loglevel',
    'error',
    '-nostdin',
    '-f',
    'rawvideo',
    '-pix_fmt',
    'rgb24',
    '-s',
    `${request.width}x${request.height}`,
    '-r',
    String(request.fps),
    '-i',
    '-',
    '-an',
    '-vf',
    filters.join(','),
    '-colorspace',
    'bt709',
    '-color_primaries',
    'bt709',
    '-color_trc',
    'bt709',
    ...encoderArgs(request.format, request.fps),
    ...(request.frames ? ['-t', (request.frames / request.fps).toFixed(6)] : []),
    '-',
  ];
}

/** Resolves when the stream can take more (or is gone: the caller notices on its next write). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done).off('close', done).off('error', done);
      resolve();
    };
    stream.on('drain', done).on('close', done).on('error', done);
  });
}

/**
 * Encodes `frames` (each `width × height` palette indices, read once each) and yields the file's bytes as
 * ffmpeg writes them. Throws `FfmpegFailed` if ffmpeg exits non-zero, is killed, or cannot start; rethrows
 * an error of the frame source (after killing ffmpeg).
 */
export async function* encodeVideo(
  options: FfmpegVideoOptions,
  request: VideoRequest,
  frames: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const { width, height } = request;
  const lut = paletteRgba(options.palette);
  const child = spawn(options.ffmpegPath, ffmpegArgs(request), { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  // EPIPE when ffmpeg exits before reading everything: the exit status says why.
  child.stdin.on('error', () => undefined);
  let spawnError: Error | null = null;
  child.once('error', (error) => {
    spawnError = error;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let timedOut = false;
  const maxRunMs = options.maxRunMs ?? 600_000;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, maxRunMs);

  let stopped = false;
  let sourceError: unknown = null;
  const pump = (async () => {
    try {
      for await (const indices of frames) {
        if (stopped) break;
        if (indices.length !== width * height)
          throw new RangeError(`frame is ${indices.length} bytes, not ${width}×${height}`);
        // A fresh buffer per frame: stdin keeps a reference until the bytes are flushed.
        const rgb = Buffer.allocUnsafe(indices.length * 3);
        for (let i = 0, o = 0; i < indices.length; i++, o += 3) {
          const c = (indices[i] as number) * 4;
          rgb[o] = lut[c] as number;
          rgb[o + 1] = lut[c + 1] as number;
          rgb[o + 2] = lut[c + 2] as number;
        }
        if (stopped || child.stdin.destroyed) break;
        if (!child.stdin.write(rgb)) await drained(child.stdin);
      }
      child.stdin.end();
    } catch (error) {
      sourceError = error;
      child.kill('SIGKILL');
    }
  })();

  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const { code, signal } = await exited;
    await pump;
    if (sourceError) throw sourceError;
    const tail = stderr.trim().split('\n').slice(-5).join(' | ');
    if (spawnError)
      throw new FfmpegFailed(`ffmpeg could not start: ${(spawnError as Error).message}`, null, stderr, {
        cause: spawnError,
      });
    if (timedOut) throw new FfmpegFailed(`ffmpeg ran over ${maxRunMs} ms and was killed`, code, stderr);
    if (code !== 0)
      throw new FfmpegFailed(
        `ffmpeg ${signal ? `was killed by ${signal}` : `exited with code ${code}`}${tail ? `: ${tail}` : ''}`,
        code,
        stderr,
      );
  } finally {
    // Normal end, an error, or the consumer stopped early (return()): in every case no ffmpeg outlives the job.
    stopped = true;
    clearTimeout(timer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await pump;
  }
}

/** The history routes' `VideoEncoder` on this ffmpeg. */
export function createFfmpegVideoEncoder(options: FfmpegVideoOptions): VideoEncoder {
  return {
    size: (width, height) => videoSize(width, height),
    encode: (format, video, frames) => encodeVideo(options, { format, ...video }, frames),
  };
}
