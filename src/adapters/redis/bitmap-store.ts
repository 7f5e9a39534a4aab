/**
 * The live canvas in Redis: `names.canvasKey` holds width×height bytes (palette indices, byte
 * `y*width+x`, the layout of `src/domain/canvas.ts`) and `names.canvasSeqKey` the stream sequence those
 * bytes reflect. Both change together only: one Lua script per applied batch, one MULTI per rebuild.
 *
 * A batch travels as one binary argument, 9 bytes per pixel (u32 LE sequence delta from a base, u32 LE byte
 * offset, u8 colour), and the script writes with BITFIELD `SET u8 #offset`, a few hundred pixels per call:
 * few Lua→Redis calls, and never near Lua's unpack limit (`BITFIELD_CHUNK`).
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

const PIXEL_BYTES = 9;
/** Pixels per BITFIELD call inside the script: 4 arguments each, far below Lua's unpack limit (~8000). */
const BITFIELD_CHUNK = 500;
/** Pixels per script call: bounds the time Redis spends in one script (~a few ms) and the argument size. */
const SCRIPT_PIXELS = 10_000;

/**
 * KEYS[1] canvas, KEYS[2] seq. ARGV[1] expected seq ('' = none known), ARGV[2] canvas size in bytes,
 * ARGV[3] base seq, ARGV[4] packed pixels. Returns {1, storedSeq}, or on conflict {0, foundSeq} where -1 means
 * "no usable projection" (no sequence, or a canvas of the wrong size).
 */
const APPLY_LUA = `
local size = tonumber(ARGV[2])
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
local data = ARGV[4]
local base = tonumber(ARGV[3])
local args = {}
local k = 0
local last = cur
for p = 1, #data, ${PIXEL_BYTES} do
  local s1, s2, s3, s4, o1, o2, o3, o4, c = string.byte(data, p, p + 8)
  local seq = base + s1 + s2 * 256 + s3 * 65536 + s4 * 16777216
  if seq > cur then
    local off = o1 + o2 * 256 + o3 * 65536 + o4 * 16777216
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

interface BitmapCommands {
  rplaceBitmapApply(
    canvasKey: string,
    seqKey: string,
    expected: string,
    size: number,
    base: number,
    packed: Buffer,
  ): Promise<[number, number]>;
}

export function createRedisBitmapStore(
  redis: Redis,
  names: Names,
  spec: Pick<CanvasSpec, 'width' | 'height'>,
): BitmapWriter {
  redis.defineCommand('rplaceBitmapApply', { numberOfKeys: 2, lua: APPLY_LUA });
  // defineCommand just added the method; ioredis's types cannot know it.
  const commands = redis as Redis & BitmapCommands;
  const size = spec.width * spec.height;
  const { canvasKey, canvasSeqKey } = names;

  function pack(pixels: readonly SequencedPixel[], from: number, to: number, base: number): Buffer {
    const out = Buffer.allocUnsafe((to - from) * PIXEL_BYTES);
    let at = 0;
    for (let i = from; i < to; i++) {
      const p = pixels[i] as SequencedPixel;
      out.writeUInt32LE(p.seq - base, at);
      const offset = p.y * spec.width + p.x;
      // Negative or non-integer offsets cannot come from a decoded event (u16 fields); clamp them out of range.
      out.writeUInt32LE(offset >= 0 && offset < size ? offset : size, at + 4);
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
      expected === null ? '' : String(expected),
      size,
      base,
      pack(pixels, from, to, base),
    );
    if (ok !== 1) {
      const found = seq < 0 ? null : seq;
      throw new SequenceConflict(
        found === null
          ? `bitmap ${canvasKey} holds no usable projection (no sequence or wrong size) but sequence ${expected} was expected (Redis was wiped)`
          : `bitmap ${canvasKey} went back to sequence ${found} (expected ${expected ?? 'none'})`,
        expected ?? 0,
        found,
      );
    }
    return seq;
  }

  return {
    async load() {
      const replies = await redis.multi().getBuffer(canvasKey).get(canvasSeqKey).exec();
      const canvas = replies?.[0]?.[1] as Buffer | null | undefined;
      const seq = replies?.[1]?.[1] as string | null | undefined;
      if (replies === null || replies.some(([error]) => error !== null)) throw new Error(`reading ${canvasKey} failed`);
      if (seq === null || seq === undefined || !canvas || canvas.length !== size) return null;
      return { canvas: new Uint8Array(canvas.buffer, canvas.byteOffset, canvas.byteLength), seq: Number(seq) };
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

    async replaceAll(canvas, seq) {
      if (canvas.length !== size) throw new RangeError(`canvas has ${canvas.length} bytes, expected ${size}`);
      await redis
        .multi()
        .set(canvasKey, Buffer.from(canvas.buffer, canvas.byteOffset, canvas.byteLength))
        .set(canvasSeqKey, String(seq))
        .exec();
    },
  };
}
