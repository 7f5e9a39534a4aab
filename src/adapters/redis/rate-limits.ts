/**
 * Token buckets in Redis via GCRA (the generic cell rate algorithm), one Lua script, one key per bucket:
 * the key holds the bucket's "theoretical arrival time" (TAT) in ms. A take is allowed when
 * TAT - now ≤ window - interval, where interval = window / limit; it then advances TAT by one interval.
 * So at most `limit` takes in any burst, refilling one token per interval, atomically across every
 * process, with O(1) memory per bucket (no per-attempt log) and an expiry equal to the time to refill.
 * The clock is Redis's own (`TIME`), so edges with skewed clocks share one notion of now.
 */
import type { Redis } from 'ioredis';
import type { RateDecision, RateLimiter } from '../../ports/auth.ts';
import { storeUnavailable } from './connect.ts';

const GCRA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local interval = window / limit
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - window
if allow_at > now then return {0, math.ceil(allow_at - now)} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return {1, 0}
`;

type WithGcra = Redis & { rplaceGcra(key: string, windowMs: number, limit: number): Promise<[number, number]> };

export function createRedisRateLimiter(redis: Redis, redisPrefix: string): RateLimiter {
  const r = redis as WithGcra;
  if (typeof r.rplaceGcra !== 'function') redis.defineCommand('rplaceGcra', { numberOfKeys: 1, lua: GCRA });
  const key = (name: string) => `${redisPrefix}rate:${name}`;
  return {
    async take(name, limit, windowMs): Promise<RateDecision> {
      const [allowed, retryAfterMs] = await r
        .rplaceGcra(key(name), windowMs, limit)
        .catch(storeUnavailable('take a rate token'));
      return allowed === 1 ? { allowed: true } : { allowed: false, retryAfterMs };
    },
    async reset(name) {
      await redis.del(key(name)).catch(storeUnavailable('reset a rate bucket'));
    },
  };
}
