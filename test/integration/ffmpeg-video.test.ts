/**
 * The ffmpeg video adapter on the real ffmpeg (no other service): the size rule, a decoded frame equal to the
 * palette colours fed in, and every way a job can end early or badly leaves no ffmpeg running and says why.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeVideo, ffmpegArgs, FfmpegFailed, videoSize } from '../../src/adapters/image/ffmpeg-video.ts';
import { PALETTE_32, paletteRgba } from '../../src/domain/palette.ts';
import { decodeFrame, ffmpegChildren, probeDuration, probeVideo, requireFfmpeg } from '../helpers/video.ts';
import { sleep } from '../../src/app/sleep.ts';

const dir = mkdtempSync(join(tmpdir(), 'rplace-ffmpeg-'));
const rgba = paletteRgba(PALETTE_32);

/** A stand-in "ffmpeg" (a shell script) for failures the real one would not produce on demand. */
function fakeFfmpeg(name: string, script: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${script}\n`);
  chmodSync(path, 0o755);
  return path;
}

async function* frames(
  count: number,
  width: number,
  height: number,
  color = (i: number, p: number) => (i + p) % 32,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield Uint8Array.from({ length: width * height }, (_, p) => color(i, p));
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const part of stream) parts.push(part);
  return Buffer.concat(parts);
}

describe('videoSize', () => {
  it('scales by an integer until the short side reaches 480, never past 1920 on the long side, padded to even', () => {
    expect(videoSize(20, 10)).toEqual({ scale: 48, width: 960, height: 480 });
    expect(videoSize(1, 1)).toEqual({ scale: 480, width: 480, height: 480 });
    expect(videoSize(500, 500)).toEqual({ scale: 1, width: 500, height: 500 });
    expect(videoSize(7, 5)).toEqual({ scale: 96, width: 672, height: 480 });
    expect(videoSize(1000, 3)).toEqual({ scale: 1, width: 1000, height: 4 });
    expect(videoSize(161, 161)).toEqual({ scale: 3, width: 484, height: 484 });
    expect(videoSize(163, 161)).toEqual({ scale: 3, width: 490, height: 484 });
    expect(videoSize(2000, 2000)).toEqual({ scale: 1, width: 2000, height: 2000 });
    expect(videoSize(101, 33)).toEqual({ scale: 15, width: 1516, height: 496 });
  });

  it('asks ffmpeg for nearest-neighbour scaling, even padding and a streamable MP4', () => {
    const args = ffmpegArgs({ format: 'mp4', width: 101, height: 33, fps: 10 }).join(' ');
    expect(args).toContain('-s 101x33 -r 10 -i -');
    expect(args).toContain('scale=1515:495:flags=neighbor,pad=1516:496:0:0:black');
    expect(args).toContain('frag_keyframe+empty_moov+default_base_moof');
  });
});

describe('encodeVideo', () => {
  it('encodes every frame; a decoded pixel centre is the palette colour fed in', async () => {
    const ffmpegPath = requireFfmpeg();
    for (const format of ['mp4', 'webm'] as const) {
      const file = join(dir, `small.${format}`);
      const color = (i: number, p: number) => (i * 3 + p) % 32;
      writeFileSync(
        file,
        await collect(
          encodeVideo(
            { ffmpegPath, palette: PALETTE_32 },
            { format, width: 7, height: 5, fps: 5 },
            frames(10, 7, 5, color),
          ),
        ),
      );
      expect(await probeVideo(file)).toEqual({
        codec: format === 'mp4' ? 'h264' : 'vp9',
        width: 672,
        height: 480,
        frames: 10,
      });
      const last = await decodeFrame(file, 9);
      for (let p = 0; p < 35; p++) {
        const cx = (p % 7) * 96 + 48,
          cy = Math.floor(p / 7) * 96 + 48;
        const got = [...last.subarray((cy * 672 + cx) * 3, (cy * 672 + cx) * 3 + 3)];
        const want = [...rgba.subarray(color(9, p) * 4, color(9, p) * 4 + 3)];
        got.forEach((v, c) =>
          expect(
            Math.abs(v - (want[c] as number)),
            `${format} pixel ${p} channel ${c}: ${got} vs ${want}`,
          ).toBeLessThanOrEqual(16),
        );
      }
    }
  });

  it('WebM and MP4 carry their duration when the frame count is known, though streamed through a pipe', async () => {
    const ffmpegPath = requireFfmpeg();
    for (const format of ['webm', 'mp4'] as const) {
      const known = join(dir, `known.${format}`),
        unknown = join(dir, `unknown.${format}`);
      writeFileSync(
        known,
        await collect(
          encodeVideo(
            { ffmpegPath, palette: PALETTE_32 },
            { format, width: 7, height: 5, fps: 4, frames: 10 },
            frames(10, 7, 5),
          ),
        ),
      );
      writeFileSync(
        unknown,
        await collect(
          encodeVideo({ ffmpegPath, palette: PALETTE_32 }, { format, width: 7, height: 5, fps: 4 }, frames(10, 7, 5)),
        ),
      );
      expect(await probeDuration(known), format).toBeCloseTo(2.5, 2);
      expect((await probeVideo(known)).frames).toBe(10);
      // The measured quirk: a WebM muxed to a pipe without the length has none.
      if (format === 'webm') expect(await probeDuration(unknown)).toBeNull();
    }
  });

  it('an ffmpeg that fails reports its exit code and the end of its stderr', async () => {
    const ffmpegPath = fakeFfmpeg(
      'failing',
      'cat >/dev/null; echo "first line" >&2; echo "Unknown encoder libx264" >&2; exit 3',
    );
    const error = await collect(
      encodeVideo({ ffmpegPath, palette: PALETTE_32 }, { format: 'mp4', width: 4, height: 4, fps: 1 }, frames(3, 4, 4)),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FfmpegFailed);
    expect((error as FfmpegFailed).message).toBe('ffmpeg exited with code 3: first line | Unknown encoder libx264');
    expect((error as FfmpegFailed).exitCode).toBe(3);
  });

  it('kills an ffmpeg that runs over its time bound', async () => {
    const ffmpegPath = fakeFfmpeg('hanging', 'exec sleep 30');
    const started = Date.now();
    const error = await collect(
      encodeVideo(
        { ffmpegPath, palette: PALETTE_32, maxRunMs: 300 },
        { format: 'webm', width: 4, height: 4, fps: 1 },
        frames(1, 4, 4),
      ),
    ).catch((e: unknown) => e);
    expect((error as Error).message).toBe('ffmpeg ran over 300 ms and was killed');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('a frame source that fails kills ffmpeg and its error is the one thrown', async () => {
    const ffmpegPath = requireFfmpeg();
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(16);
      throw new Error('history store went away');
    }
    const before = ffmpegChildren().length;
    await expect(
      collect(
        encodeVideo({ ffmpegPath, palette: PALETTE_32 }, { format: 'mp4', width: 4, height: 4, fps: 1 }, failing()),
      ),
    ).rejects.toThrow('history store went away');
    expect(ffmpegChildren().length).toBe(before);
  });

  it('a consumer that stops early leaves no ffmpeg running and stops reading frames', async () => {
    const ffmpegPath = requireFfmpeg();
    let produced = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      for (;;) {
        produced++;
        yield new Uint8Array(64 * 64).fill(produced % 32);
      }
    }
    const stream = encodeVideo(
      { ffmpegPath, palette: PALETTE_32 },
      { format: 'mp4', width: 64, height: 64, fps: 30 },
      endless(),
    );
    expect((await stream.next()).done).toBe(false); // the empty moov: ffmpeg is running
    expect(ffmpegChildren()).toHaveLength(1);
    await stream.return(undefined);
    expect(ffmpegChildren()).toEqual([]);
    const after = produced;
    await sleep(100);
    expect(produced).toBe(after);
  });
});
