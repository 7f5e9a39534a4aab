/** Helpers for timelapse video tests: ffprobe/ffmpeg decoding, and the ffmpeg processes a test process owns. */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { findFfmpeg } from '../../src/adapters/image/ffmpeg-video.ts';

const run = promisify(execFile);

/** ffmpeg is a test requirement, not an optional extra: without it the video tests fail, saying what to install. */
export function requireFfmpeg(): string {
  const path = findFfmpeg();
  if (!path)
    throw new Error('ffmpeg is not installed: apt-get install -y --no-install-recommends ffmpeg (.ci/run installs it)');
  return path;
}

export interface Probe {
  codec: string;
  width: number;
  height: number;
  /** Frames counted by decoding the whole stream, not the container's claim. */
  frames: number;
}

export async function probeVideo(file: string): Promise<Probe> {
  const { stdout } = await run('ffprobe', [
    '-v',
    'error',
    '-count_frames',
    '-select_streams',
    'v:0',
    '-show_entries',
    'stream=codec_name,width,height,nb_read_frames',
    '-of',
    'json',
    file,
  ]);
  const stream = (JSON.parse(stdout) as { streams: Record<string, string | number>[] }).streams[0];
  if (!stream) throw new Error(`${file} has no video stream`);
  return {
    codec: String(stream.codec_name),
    width: Number(stream.width),
    height: Number(stream.height),
    frames: Number(stream.nb_read_frames),
  };
}

/** The container's duration in seconds (`ffprobe` format=duration), or null when it has none (`N/A`). */
export async function probeDuration(file: string): Promise<number | null> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  const value = stdout.trim();
  return value === 'N/A' || value === '' ? null : Number(value);
}

/** Frame `n` (from 0) decoded to rgb24, `width × height × 3` bytes. */
export async function decodeFrame(file: string, n: number): Promise<Buffer> {
  const { stdout } = await run(
    'ffmpeg',
    [
      '-v',
      'error',
      '-i',
      file,
      '-vf',
      `select=eq(n\\,${n})`,
      '-frames:v',
      '1',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-',
    ],
    { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** Process ids of the ffmpeg children of this process (read from /proc: no `ps` parsing). */
export function ffmpegChildren(parent = process.pid): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so split after its closing parenthesis.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === parent && comm === 'ffmpeg') out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}
