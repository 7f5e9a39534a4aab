/**
 * Interns user ids straight from their UTF-8 bytes (the dataset export's COPY reader, issue 16): each distinct
 * id gets a small index and ONE string, made the first time it is seen. A `Map<string, …>` keyed by a fresh
 * string per row cost ~700 ns a row over 125,000 users (hashing a new string, then chasing the entry, its key
 * string and the value through the heap).
 *
 * This is an open-addressed table whose slots hold the id itself when it is short (≤ 20 bytes: every id this
 * product makes, `u_` and 12 base64url characters), so a lookup reads one cache line; longer ids are compared
 * against a byte arena. `internRows` hashes a run of rows first and reads their slots in a loop nothing depends
 * on before probing them, so the CPU has those cache misses in flight together: on this VM a random miss costs
 * ~200 ns, more than the rest of a row (BENCHMARKS.md, export).
 *
 * Bounded: at most `capacity` ids and `arenaBytes` of long-id bytes per generation; `startBatch` begins a new
 * generation (every index forgotten) when a batch of that many more rows could overflow either, so an index
 * stays valid for the whole batch it is handed out in. Consumers that cache per index key their cache by
 * `generation`. Pure.
 */

/** The largest user id the reader accepts, in bytes. */
export const MAX_USER_ID_BYTES = 1024;

const utf8 = new TextDecoder();
const EMPTY = -1;
/** int32s per slot: hash, index (EMPTY: free), byte length, then 5 words of the id (or, if longer, its arena start). */
const SLOT = 8;
const INLINE_BYTES = 20;
const FIRST_SLOTS = 1 << 12;
/** Rows hashed and touched ahead of probing them. */
const AHEAD = 16;

/** The 4 bytes of `bytes` from `k` (little-endian), zero past `end`. */
function wordAt(bytes: Uint8Array, k: number, end: number): number {
  if (k + 4 <= end)
    return (
      (bytes[k] as number) |
      ((bytes[k + 1] as number) << 8) |
      ((bytes[k + 2] as number) << 16) |
      ((bytes[k + 3] as number) << 24)
    );
  let w = 0;
  for (let j = 0; k + j < end; j++) w |= (bytes[k + j] as number) << (8 * j);
  return w;
}

/** MurmurHash3 (x86, 32-bit) of `bytes[start, end)`, read as zero-padded little-endian words. */
function hashOf(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x9747b28c;
  for (let k = start; k < end; k += 4) {
    let w = Math.imul(wordAt(bytes, k, end), 0xcc9e2d51);
    w = Math.imul((w << 15) | (w >>> 17), 0x1b873593);
    h ^= w;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= end - start;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

export class UserInterner {
  /** Bumped whenever the indexes are forgotten. */
  generation = 0;
  /** Ids interned in this generation; indexes are 0..size-1. */
  size = 0;
  /** The id of each index. */
  readonly ids: string[] = [];
  private slots: Int32Array;
  private mask: number;
  private readonly arena: Uint8Array;
  private used = 0;
  private readonly capacity: number;
  private readonly hashes = new Int32Array(AHEAD);
  private sink = 0;

  constructor(capacity = 1 << 19, arenaBytes = 16 << 20) {
    this.capacity = capacity;
    this.slots = UserInterner.table(FIRST_SLOTS);
    this.mask = FIRST_SLOTS - 1;
    this.arena = new Uint8Array(arenaBytes);
  }

  private static table(slots: number): Int32Array {
    const t = new Int32Array(slots * SLOT);
    for (let s = 1; s < t.length; s += SLOT) t[s] = EMPTY;
    return t;
  }

  /** Call before filling a batch of up to `rows` ids: forgets every index if they might not fit. */
  startBatch(rows: number): void {
    if (rows > this.capacity || rows * MAX_USER_ID_BYTES > this.arena.length)
      throw new RangeError(`a batch of ${rows} rows does not fit a UserInterner`);
    if (this.size + rows <= this.capacity && this.used + rows * MAX_USER_ID_BYTES <= this.arena.length) return;
    this.slots = UserInterner.table(FIRST_SLOTS);
    this.mask = FIRST_SLOTS - 1;
    this.ids.length = 0;
    this.size = 0;
    this.used = 0;
    this.generation++;
  }

  /** The index of the id in `bytes[start, end)` (UTF-8, at most MAX_USER_ID_BYTES), interning it if new. */
  intern(bytes: Uint8Array, start: number, end: number): number {
    return this.probe(bytes, start, end, hashOf(bytes, start, end));
  }

  /** `intern` for rows [from, to): row i's id is `bytes[starts[i], ends[i])`; its index goes to `out[i]`. */
  internRows(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    from: number,
    to: number,
    out: Uint32Array,
  ): void {
    const hashes = this.hashes;
    for (let i0 = from; i0 < to; i0 += AHEAD) {
      const n = Math.min(AHEAD, to - i0);
      const { slots, mask } = this;
      let sink = this.sink;
      for (let j = 0; j < n; j++) {
        const h = hashOf(bytes, starts[i0 + j] as number, ends[i0 + j] as number);
        hashes[j] = h;
        sink ^= slots[(h & mask) * SLOT] as number;
      }
      this.sink = sink;
      for (let j = 0; j < n; j++)
        out[i0 + j] = this.probe(bytes, starts[i0 + j] as number, ends[i0 + j] as number, hashes[j] as number);
    }
  }

  private probe(bytes: Uint8Array, start: number, end: number, h: number): number {
    const length = end - start;
    const { slots, mask } = this;
    let slot = h & mask;
    for (;;) {
      const at = slot * SLOT;
      const index = slots[at + 1] as number;
      if (index === EMPTY) break;
      if (slots[at] === h && slots[at + 2] === length && this.holds(at, bytes, start, end)) return index;
      slot = (slot + 1) & mask;
    }
    return this.add(slot * SLOT, bytes, start, end, h);
  }

  /** Whether the slot at `at` holds the id `bytes[start, end)` (its hash and length already match). */
  private holds(at: number, bytes: Uint8Array, start: number, end: number): boolean {
    const slots = this.slots;
    if (end - start <= INLINE_BYTES) {
      for (let k = start, w = at + 3; k < end; k += 4, w++) if (wordAt(bytes, k, end) !== slots[w]) return false;
      return true;
    }
    const arena = this.arena;
    const from = (slots[at + 3] as number) - start;
    for (let k = start; k < end; k++) if (arena[from + k] !== bytes[k]) return false;
    return true;
  }

  private add(at: number, bytes: Uint8Array, start: number, end: number, h: number): number {
    const length = end - start;
    const long = length > INLINE_BYTES;
    if (this.size === this.capacity || (long && this.used + length > this.arena.length))
      throw new Error('UserInterner overflow: startBatch was not called before the batch');
    const index = this.size++;
    const slots = this.slots;
    slots[at] = h;
    slots[at + 1] = index;
    slots[at + 2] = length;
    if (long) {
      slots[at + 3] = this.used;
      this.arena.set(bytes.subarray(start, end), this.used);
      this.used += length;
    } else {
      for (let k = start, w = at + 3; k < end; k += 4, w++) slots[w] = wordAt(bytes, k, end);
    }
    this.ids.push(utf8.decode(bytes.subarray(start, end)));
    if (this.size * 2 > this.mask + 1) this.grow();
    return index;
  }

  /** Doubles the slot table, moving every slot whole. */
  private grow(): void {
    const old = this.slots;
    const size = (this.mask + 1) * 2;
    const slots = UserInterner.table(size);
    const mask = size - 1;
    for (let s = 0; s < old.length; s += SLOT) {
      if (old[s + 1] === EMPTY) continue;
      let slot = (old[s] as number) & mask;
      while (slots[slot * SLOT + 1] !== EMPTY) slot = (slot + 1) & mask;
      slots.set(old.subarray(s, s + SLOT), slot * SLOT);
    }
    this.slots = slots;
    this.mask = mask;
  }
}
