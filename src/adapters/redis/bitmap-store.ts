/**
 * The live canvas in Redis: `names.canvasKey` holds width×height bytes (palette indices, byte
 * `y*width+x`, the layout of `src/domain/canvas.ts`), `names.canvasSeqKey` the stream sequence those
 * bytes reflect and `names.canvasSizeKey` the size in force there (`<width>x<height>`; absent: the initial size
 * of the config, as every store written before resizes existed). They change together only: one Lua script per
 * applied batch or resize, one MULTI per rebuild.
 *
 * A batch travels as one binary argument, 9 bytes per pixel (u32 LE sequence delta from a base, u16 LE x,
 * u16 LE y, u8 colour); the script computes the byte offset with the stored width and writes with BITFIELD
 * `SET u8 #offset`, a few hundred pixels per call: few Lua→Redis calls, and never near Lua's unpack limit
 * (`BITFIELD_CHUNK`).
 *
 * A resize (`resize`) grows the string inside one script, row by row (src/domain/resize.ts `growCanvas`, the
 * same mapping in Lua): the canvas, its sequence and its size move together.
 *
 * Out-of-range pixels follow the typed-array semantics of `replay`: the offset is `y*width+x`, and an
 * offset past the end is ignored, so the live bitmap and a rebuild agree byte for byte even on events the
 * placement command would never have accepted.
 */
import type { Redis } from 'ioredis';
import { SequenceConflict } from '../../ports/errors.ts';
import type { BitmapWriter, SequencedPixel } from '../../ports/bitmap.ts';
import type { Names } from '../../domain/names.ts';
import type { CanvasSpec } from '../../domain/canvas.ts';
import type { CanvasSize, Resize } from '../../domain/resize.ts';

const PIXEL_BYTES = 9;
/** Pixels per BITFIELD call inside the script: 4 arguments each, far below Lua's unpack limit (~8000). */
const BITFIELD_CHUNK = 500;
/** Pixels per script call: bounds the time Redis spends in one script (~a few ms) and the argument size. */
const SCRIPT_PIXELS = 10_000;

/** The stored size (KEYS[3], `WxH`) or the initial one (ARGV[2], ARGV[3]): sets `width`, `height`, `size`. */
const SIZE_LUA = `
local width, height = tonumber(ARGV[2]), tonumber(ARGV[3])
local stored = redis.call('GET', KEYS[3])
if stored then
  local w, h = string.match(stored, '^(%d+)x(%d+)$')
  width, height = tonumber(w), tonumber(h)
end
local size = width * height
`;

/**
 * KEYS[1] canvas, KEYS[2] seq, KEYS[3] size. ARGV[1] expected seq ('' = none known), ARGV[2], ARGV[3] initial
 * width and height, ARGV[4] base seq, ARGV[5] packed pixels. Returns {1, storedSeq}, or on conflict
 * {0, foundSeq} where -1 means "no usable projection" (no sequence, or a canvas of the wrong size).
 */
const APPLY_LUA = `${SIZE_LUA}
local cur = redis.call('GET', KEYS[2])
if cur then
  cur = tonumber(cur)
  if redis.call('STRLEN', KEYS[1]) ~= size then return {0, -1} end
  if ARGV[1] ~= '' and cur < tonumber(ARGV[1]) then return {0, cur} end
else
  if ARGV[1] ~= '' then return {0, -1} end
  redis.call('DEL', KEYS[1])
  redis.call('SETRANGE', KEYS[1], size - 1, '\\0')
  redis.call('SET', KEYS[2], 0)
  cur = 0
end
local data = ARGV[5]
local base = tonumber(ARGV[4])
local args = {}
local k = 0
local last = cur
for p = 1, #data, ${PIXEL_BYTES} do
  local s1, s2, s3, s4, x1, x2, y1, y2, c = string.byte(data, p, p + 8)
  local seq = base + s1 + s2 * 256 + s3 * 65536 + s4 * 16777216
  if seq > cur then
    local off = (y1 + y2 * 256) * width + x1 + x2 * 256
    if off < size then
      args[k + 1] = 'SET'; args[k + 2] = 'u8'; args[k + 3] = '#' .. off; args[k + 4] = c
      k = k + 4
      if k >= ${BITFIELD_CHUNK * 4} then
        redis.call('BITFIELD', KEYS[1], unpack(args, 1, k))
        k = 0
      end
    end
    last = seq
  end
end
if k > 0 then redis.call('BITFIELD', KEYS[1], unpack(args, 1, k)) end
if last > cur then redis.call('SET', KEYS[2], string.format('%d', last)) end
return {1, last}
`;

/**
 * KEYS as APPLY_LUA. ARGV[1] expected seq, ARGV[2], ARGV[3] initial size, ARGV[4] the resize's seq, ARGV[5..8]
 * new width, new height, originX, originY. Returns {1, storedSeq} (the resize's, or the stored one when it
 * already reflects it), or on conflict {0, foundSeq} as APPLY_LUA.
 */
const RESIZE_LUA = `${SIZE_LUA}
local cur = redis.call('GET', KEYS[2])
if not cur then return {0, -1} end
cur = tonumber(cur)
if redis.call('STRLEN', KEYS[1]) ~= size then return {0, -1} end
if cur < tonumber(ARGV[1]) then return {0, cur} end
local seq = tonumber(ARGV[4])
if cur >= seq then return {1, cur} end
local nw, nh, ox, oy = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local old = redis.call('GET', KEYS[1])
local blank = string.rep('\0', nw)
local left, right = string.rep('\0', ox), string.rep('\0', nw - ox - width)
local rows = {}
for row = 0, nh - 1 do
  local r = row - oy
  if r >= 0 and r < height then
    rows[row + 1] = left .. string.sub(old, r * width + 1, (r + 1) * width) .. right
  else
    rows[row + 1] = blank
  end
end
redis.call('SET', KEYS[1], table.concat(rows))
redis.call('SET', KEYS[2], string.format('%d', seq))
redis.call('SET', KEYS[3], nw .. 'x' .. nh)
return {1, seq}
`;

interface BitmapCommands {
  rplaceBitmapApply(
    canvasKey: string,
    seqKey: string,
    sizeKey: string,
    expected: string,
    width: number,
    height: number,
    base: number,
    packed: Buffer,
  ): Promise<[number, number]>;
  rplaceBitmapResize(
    canvasKey: string,
    seqKey: string,
    sizeKey: string,
    expected: number,
    width: number,
    height: number,
    seq: number,
    newWidth: number,
    newHeight: number,
    originX: number,
    originY: number,
  ): Promise<[number, number]>;
}

export function createRedisBitmapStore(
  redis: Redis,
  names: Names,
  spec: Pick<CanvasSpec, 'width' | 'height'>,
): BitmapWriter {
  redis.defineCommand('rplaceBitmapApply', { numberOfKeys: 3, lua: APPLY_LUA });
  redis.defineCommand('rplaceBitmapResize', { numberOfKeys: 3, lua: RESIZE_LUA });
  // defineCommand just added the method; ioredis's types cannot know it.
  const commands = redis as Redis & BitmapCommands;
  const { canvasKey, canvasSeqKey, canvasSizeKey } = names;

  function pack(pixels: readonly SequencedPixel[], from: number, to: number, base: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * PIXEL_BYTES);
    let at = 0;
    for (let i = from; i < to; i++) {
      const p = pixels[i] as SequencedPixel;
      out.writeUInt32LE(p.seq - base, at);
      // Out-of-range coordinates cannot come from a checked event (u16 fields); 65535 lands past any canvas end.
      out.writeUInt16LE(p.x >= 0 && p.x <= 0xffff ? p.x : 0xffff, at + 4);
      out.writeUInt16LE(p.y >= 0 && p.y <= 0xffff ? p.y : 0xffff, at + 6);
      out[at + 8] = p.color & 0xff;
      at += PIXEL_BYTES;
    }
    return out;
  }

  async function applyChunk(
    pixels: readonly SequencedPixel[],
    from: number,
    to: number,
    expected: number | null,
  ): Promise<number> {
    const base = (pixels[from] as SequencedPixel).seq;
    const [ok, seq] = await commands.rplaceBitmapApply(
      canvasKey,
      canvasSeqKey,
      canvasSizeKey,
      expected === null ? '' : String(expected),
      spec.width,
      spec.height,
      base,
      pack(pixels, from, to, base),
    );
    if (ok !== 1) throw conflict(seq, expected);
    return seq;
  }

  function conflict(seq: number, expected: number | null): SequenceConflict {
    const found = seq < 0 ? null : seq;
    return new SequenceConflict(
      found === null
        ? `bitmap ${canvasKey} holds no usable projection (no sequence or wrong size) but sequence ${expected} was expected (Redis was wiped)`
        : `bitmap ${canvasKey} went back to sequence ${found} (expected ${expected ?? 'none'})`,
      expected ?? 0,
      found,
    );
  }

  return {
    async load() {
      const replies = await redis.multi().getBuffer(canvasKey).get(canvasSeqKey).get(canvasSizeKey).exec();
      const canvas = replies?.[0]?.[1] as Buffer | null | undefined;
      const seq = replies?.[1]?.[1] as string | null | undefined;
      const size = parseSize(replies?.[2]?.[1] as string | null | undefined, spec);
      if (replies === null || replies.some(([error]) => error !== null)) throw new Error(`reading ${canvasKey} failed`);
      if (seq === null || seq === undefined || !canvas || size === null || canvas.length !== size.width * size.height)
        return null;
      return {
        canvas: new Uint8Array(canvas.buffer, canvas.byteOffset, canvas.byteLength),
        seq: Number(seq),
        width: size.width,
        height: size.height,
      };
    },

    async resize(seq, resize, expectedSeq) {
      const [ok, stored] = await commands.rplaceBitmapResize(
        canvasKey,
        canvasSeqKey,
        canvasSizeKey,
        expectedSeq,
        spec.width,
        spec.height,
        seq,
        resize.width,
        resize.height,
        resize.originX,
        resize.originY,
      );
      if (ok !== 1) throw conflict(stored, expectedSeq);
      return stored;
    },

    async seq() {
      const value = await redis.get(canvasSeqKey);
      return value === null ? null : Number(value);
    },

    async apply(pixels, expectedSeq) {
      if (pixels.length === 0) {
        return applyChunk([{ seq: 0, x: 0, y: 0, color: 0 }], 0, 0, expectedSeq);
      }
      let stored = expectedSeq;
      for (let from = 0; from < pixels.length; from += SCRIPT_PIXELS) {
        const to = Math.min(pixels.length, from + SCRIPT_PIXELS);
        // Later chunks of the same batch expect what the previous chunk stored: each is atomic with its sequence.
        stored = await applyChunk(pixels, from, to, from === 0 ? expectedSeq : stored);
      }
      return stored as number;
    },

    async replaceAll(canvas, seq, size = spec) {
      if (canvas.length !== size.width * size.height)
        throw new RangeError(`canvas has ${canvas.length} bytes, expected ${size.width}×${size.height}`);
      await redis
        .multi()
        .set(canvasKey, Buffer.from(canvas.buffer, canvas.byteOffset, canvas.byteLength))
        .set(canvasSeqKey, String(seq))
        .set(canvasSizeKey, `${size.width}x${size.height}`)
        .exec();
    },
  };
}

/** `WxH` as stored; absent: the initial size; unreadable: null (no usable projection). */
function parseSize(value: string | null | undefined, initial: CanvasSize): CanvasSize | null {
  if (value === null || value === undefined) return { width: initial.width, height: initial.height };
  const match = /^(\d+)x(\d+)$/.exec(value);
  return match ? { width: Number(match[1]), height: Number(match[2]) } : null;
}

export type { Resize };
