/**
 * Names for the user ids of the pixel history: one batched lookup per page for the ids not cached, and a
 * bounded cache in front (usernames never change once registered, so a hit needs no expiry; an id with no
 * account is remembered for `missTtlMs`, since it may register under that id only if it is a new account).
 */
import { isGuestId, userLabel } from '../../../proto/user-label.ts';
import type { Clock } from '../../ports/clock.ts';
import type { UsernameLookup } from '../../ports/auth.ts';

export interface UsernamesOptions {
  readonly lookup: UsernameLookup;
  readonly clock: Clock;
  /** Entries kept (each a short id and name); the least recently used goes first. */
  readonly maxEntries?: number;
  readonly missTtlMs?: number;
  /** A failed lookup is reported here and the page is served with guests labelled and accounts unnamed. */
  readonly onError?: (error: Error) => void;
}

export class Usernames {
  private readonly cache = new Map<string, { name: string | null; expires: number }>();
  private readonly options: Required<Omit<UsernamesOptions, 'onError'>> & Pick<UsernamesOptions, 'onError'>;

  constructor(options: UsernamesOptions) {
    this.options = { maxEntries: 10_000, missTtlMs: 60_000, ...options };
  }

  /** A display label per id (see `userLabel`); guests never reach the store. */
  async labels(userIds: readonly string[]): Promise<Map<string, string | null>> {
    const now = this.options.clock.now();
    const out = new Map<string, string | null>();
    const missing: string[] = [];
    for (const id of new Set(userIds)) {
      if (isGuestId(id)) {
        out.set(id, userLabel(id, null));
        continue;
      }
      const hit = this.cache.get(id);
      if (hit && hit.expires > now) {
        // Re-inserting moves it to the young end of the Map's order (LRU).
        this.cache.delete(id);
        this.cache.set(id, hit);
        out.set(id, userLabel(id, hit.name));
      } else {
        missing.push(id);
      }
    }
    if (missing.length > 0) {
      let found: ReadonlyMap<string, string>;
      try {
        found = await this.options.lookup(missing);
      } catch (error) {
        this.options.onError?.(error as Error);
        for (const id of missing) out.set(id, null);
        return out;
      }
      for (const id of missing) {
        const name = found.get(id) ?? null;
        this.remember(id, name, name === null ? now + this.options.missTtlMs : Number.POSITIVE_INFINITY);
        out.set(id, userLabel(id, name));
      }
    }
    return out;
  }

  private remember(id: string, name: string | null, expires: number): void {
    this.cache.delete(id);
    this.cache.set(id, { name, expires });
    while (this.cache.size > this.options.maxEntries) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }
}
