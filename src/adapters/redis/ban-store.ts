/**
 * Bans in Redis: `<prefix>ban:<userId>` → `ban` | `shadow`. Read on every placement (pipelined with the
 * rate buckets), written by `rplace mod ban/unban`. No expiry: a ban lasts until lifted. Redis must
 * persist (AOF or RDB) for bans to survive a restart, like the cooldowns.
 */
import type { Redis } from 'ioredis';
import type { BanMode, BanStore } from '../../app/auth/ports.ts';
import { storeUnavailable } from './connect.ts';

export function createRedisBanStore(redis: Redis, redisPrefix: string): BanStore {
  const key = (userId: string) => `${redisPrefix}ban:${userId}`;
  return {
    async get(userId) {
      const value = await redis.get(key(userId)).catch(storeUnavailable('read a ban'));
      return value === 'ban' || value === 'shadow' ? (value satisfies BanMode) : null;
    },
    async set(userId, mode) {
      await redis.set(key(userId), mode).catch(storeUnavailable('store a ban'));
    },
    async clear(userId) {
      return (await redis.del(key(userId)).catch(storeUnavailable('lift a ban'))) > 0;
    },
  };
}
