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

/** Lua: `nowMs()`, Redis's clock in ms. */
export const NOW_FN = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/** Lua: `now`, read once (the script's ops share it). */
export const NOW_LUA = `${NOW_FN}
local now = nowMs()
`;

/**
 * The GCRA take over `key`, `window` (ms) and `limit` at `now` (ms, `NOW_LUA`) → {1, 0} or {0, retry ms}: the
 * body of a Lua function of those four, shared with the cooldown store's admission (cooldown-lua.ts), so both
 * charge a bucket alike.
 */
export const GCRA_BODY = `
local interval = window / limit
local tat = tonumber(redis.call('GET', key) or '0')
if tat < now then tat = now end
local allow_at = tat + interval - window
if allow_at > now then return {0, math.ceil(allow_at - now)} end
local new_tat = tat + interval
redis.call('SET', key, tostring(new_tat), 'PX', math.max(1, math.ceil(new_tat - now)))
return {1, 0}
`;

const GCRA = `
local function take(key, window, limit, now)
${GCRA_BODY}
end
${NOW_LUA}
return take(KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), now)
`;

/** The key of the bucket `name` (the admission script charges the same keys). */
export const rateKey = (redisPrefix: string, name: string): string => `${redisPrefix}rate:${name}`;

type WithGcra = Redis & { rplaceGcra(key: string, windowMs: number, limit: number): Promise<[number, number]> };

export function createRedisRateLimiter(redis: Redis, redisPrefix: string): RateLimiter {
  const r = redis as WithGcra;
  if (typeof r.rplaceGcra !== 'function') redis.defineCommand('rplaceGcra', { numberOfKeys: 1, lua: GCRA });
  const key = (name: string) => rateKey(redisPrefix, name);
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
