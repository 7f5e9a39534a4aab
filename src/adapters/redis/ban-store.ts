/**
 * Bans: Postgres is the record (src/adapters/pg/ban-records.ts), Redis the copy every placement reads.
 *
 * Redis holds one hash `<prefix>bans`: userId → `ban` | `shadow`, plus the field `~loaded`, written in the
 * same script as the rebuild. A placement reads its user's field and `~loaded` in one HMGET. Without
 * `~loaded` the hash is not known to be complete (Redis restarted without persistence, was flushed, or
 * never held it): the store rebuilds it from Postgres (once, shared by every concurrent caller) before
 * answering, so a lost Redis never lifts a ban. If Postgres is unreachable then, the answer is
 * `StoreUnavailable` (placements answer `unavailable`): failing closed rather than waving banned users
 * through.
 *
 * Writes go to Postgres first, then to the hash; the rebuild never deletes fields, so a ban written during
 * a rebuild is kept. (An unban racing a rebuild can leave a stale ban in Redis until the next rebuild:
 * the safe direction.) Redis failures are `StoreUnavailable`.
 */
import type { Redis } from 'ioredis';
import type { BanMode, BanStore } from '../../ports/auth.ts';
import type { BanRecords } from '../pg/ban-records.ts';
import { storeUnavailable } from './connect.ts';

/** The field that marks the hash complete (the admission script reads it too: cooldown-lua.ts). */
export const LOADED = '~loaded';

/** The hash of bans under this prefix. */
export const bansKey = (redisPrefix: string): string => `${redisPrefix}bans`;

/** KEYS[1] the hash; ARGV: userId, mode pairs, then the load time. Fills the hash unless it is marked loaded. */
const REBUILD_LUA = `
if redis.call('HEXISTS', KEYS[1], '${LOADED}') == 1 then return 0 end
for i = 1, #ARGV - 1, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], '${LOADED}', ARGV[#ARGV])
return 1
`;

type WithRebuild = Redis & { rplaceBanRebuild(key: string, ...args: string[]): Promise<number> };

const asMode = (value: string | null | undefined): BanMode | null =>
  value === 'ban' || value === 'shadow' ? value : null;

export interface DurableBanStore extends BanStore {
  /** Rebuilds the Redis copy from Postgres if it is not marked complete; true when it rebuilt. */
  ensureLoaded(): Promise<boolean>;
}

export function createDurableBanStore(redis: Redis, redisPrefix: string, records: BanRecords): DurableBanStore {
  const r = redis as WithRebuild;
  if (typeof r.rplaceBanRebuild !== 'function')
    redis.defineCommand('rplaceBanRebuild', { numberOfKeys: 1, lua: REBUILD_LUA });
  const key = bansKey(redisPrefix);
  let rebuilding: Promise<boolean> | undefined;

  const rebuild = async (): Promise<boolean> => {
    const bans = await records.all();
    const args = bans.flatMap((b) => [b.userId, b.mode]);
    return (
      (await r.rplaceBanRebuild(key, ...args, String(Date.now())).catch(storeUnavailable('rebuild the bans'))) === 1
    );
  };
  const ensureLoaded = (): Promise<boolean> => {
    rebuilding ??= rebuild().finally(() => (rebuilding = undefined));
    return rebuilding;
  };

  return {
    ensureLoaded,
    async get(userId) {
      const [mode, loaded] = await redis.hmget(key, userId, LOADED).catch(storeUnavailable('read a ban'));
      if (loaded !== null && loaded !== undefined) return asMode(mode);
      await ensureLoaded();
      return asMode(await redis.hget(key, userId).catch(storeUnavailable('read a ban')));
    },
    async set(userId, mode) {
      await records.put(userId, mode);
      await redis.hset(key, userId, mode).catch(storeUnavailable('store a ban'));
    },
    async clear(userId) {
      const lifted = await records.remove(userId);
      await redis.hdel(key, userId).catch(storeUnavailable('lift a ban'));
      return lifted;
    },
  };
}
