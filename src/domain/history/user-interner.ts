/**
 * Interns user ids straight from their UTF-8 bytes (the dataset export's COPY reader, issue 16): each distinct
 * id gets a small index and ONE string, made the first time it is seen. A `Map<string, …>` keyed by a fresh
 * string per row cost ~700 ns a row over 125,000 users (hashing a new string, then chasing the entry, its key
 * string and the value through the heap); this flat table costs two cache lines a row (the slot with its
 * hash, then the id's bytes) and grows with the ids it holds, so a smaller population stays in cache.
 *
 * Bounded: at most `capacity` ids and `arenaBytes` of id bytes per generation; `startBatch` begins a new
 * generation (every index forgotten) when a batch of that many more rows could overflow either, so an index
 * stays valid for the whole batch it is handed out in. Consumers that cache per index key their cache by
 * `generation`. Pure.
 */

/** The largest user id the reader accepts, in bytes. */
export const MAX_USER_ID_BYTES = 1024;

const utf8 = new TextDecoder();
const EMPTY = -1;

export class UserInterner {
  /** Bumped whenever the indexes are forgotten. */
  generation = 0;
  /** Ids interned in this generation; indexes are 0..size-1. */
  size = 0;
  /** The id of each index. */
  readonly ids: string[] = [];
  /** Pairs (hash, index); index EMPTY for a free slot. Kept at most half full. */
  private slots: Int32Array;
  private mask: number;
  /** Pairs (start in the arena, byte length) per index. */
  private readonly places: Int32Array;
  private readonly arena: Uint8Array;
  private used = 0;
  private readonly capacity: number;

  constructor(capacity = 1 << 20, arenaBytes = 32 << 20) {
    this.capacity = capacity;
    this.slots = UserInterner.table(1 << 12);
    this.mask = (1 << 12) - 1;
    this.places = new Int32Array(capacity * 2);
    this.arena = new Uint8Array(arenaBytes);
  }

  private static table(slots: number): Int32Array {
    const t = new Int32Array(slots * 2);
    for (let s = 1; s < t.length; s += 2) t[s] = EMPTY;
    return t;
  }

  /** Call before filling a batch of up to `rows` ids: forgets every index if they might not fit. */
  startBatch(rows: number): void {
    if (rows > this.capacity || rows * MAX_USER_ID_BYTES > this.arena.length)
      throw new RangeError(`a batch of ${rows} rows does not fit a UserInterner`);
    if (this.size + rows <= this.capacity && this.used + rows * MAX_USER_ID_BYTES <= this.arena.length) return;
    this.slots = UserInterner.table(1 << 12);
    this.mask = (1 << 12) - 1;
    this.ids.length = 0;
    this.size = 0;
    this.used = 0;
    this.generation++;
  }

  /** The index of the id in `bytes[start, end)` (UTF-8, at most MAX_USER_ID_BYTES), interning it if new. */
  intern(bytes: Uint8Array, start: number, end: number): number {
    let h = 0x811c9dc5;
    for (let k = start; k < end; k++) h = Math.imul(h ^ (bytes[k] as number), 0x01000193);
    // FNV's multiply only carries upward: ids that differ in their last byte share low bits and would pile
    // into neighbouring slots. Murmur3's finaliser mixes the high bits down.
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    const length = end - start;
    const { slots, places, arena, mask } = this;
    let slot = h & mask;
    for (;;) {
      const index = slots[2 * slot + 1] as number;
      if (index === EMPTY) break;
      if (slots[2 * slot] === h && places[2 * index + 1] === length) {
        const at = places[2 * index] as number;
        let k = 0;
        while (k < length && arena[at + k] === bytes[start + k]) k++;
        if (k === length) return index;
      }
      slot = (slot + 1) & mask;
    }
    if (this.size === this.capacity || this.used + length > arena.length)
      throw new Error('UserInterner overflow: startBatch was not called before the batch');
    const index = this.size++;
    slots[2 * slot] = h;
    slots[2 * slot + 1] = index;
    places[2 * index] = this.used;
    places[2 * index + 1] = length;
    arena.set(bytes.subarray(start, end), this.used);
    this.used += length;
    this.ids.push(utf8.decode(bytes.subarray(start, end)));
    if (this.size * 2 > mask + 1) this.grow();
    return index;
  }

  /** Doubles the slot table, re-placing every (hash, index). */
  private grow(): void {
    const old = this.slots;
    const size = (this.mask + 1) * 2;
    const slots = UserInterner.table(size);
    const mask = size - 1;
    for (let s = 0; s < old.length; s += 2) {
      const index = old[s + 1] as number;
      if (index === EMPTY) continue;
      const h = old[s] as number;
      let slot = h & mask;
      while (slots[2 * slot + 1] !== EMPTY) slot = (slot + 1) & mask;
      slots[2 * slot] = h;
      slots[2 * slot + 1] = index;
    }
    this.slots = slots;
    this.mask = mask;
  }
}
