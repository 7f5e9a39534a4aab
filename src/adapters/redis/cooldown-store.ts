/**
 * Per-user placement cooldowns in Redis: one key per user (`names.cooldownKey(userId)`) holding
 * `<placedAt>:<requestId>` with a TTL of the cooldown.
 *
 * `tryAcquire` is one Lua script, so "take it or learn who holds it and for how long" is atomic: a
 * rejected attempt gets the holder's request id (a retry of the same request is recognised by the
 * caller) and its remaining PTTL in the same round trip. `release` is compare-and-delete, so a late
 * refund never frees a cooldown that a later placement took.
 */
import type { Redis } from 'ioredis';
import type { Names } from '../../config/names.ts';
import type { CooldownResult, CooldownStore } from '../../app/ports.ts';

/** KEYS[1] cooldown key; ARGV[1] value `<placedAt>:<requestId>`, ARGV[2] seconds. */
const ACQUIRE_LUA = `
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1])}
`;

/** KEYS[1] cooldown key; ARGV[1] request id. Deletes the key only if that request holds it. */
const RELEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local sep = string.find(v, ':', 1, true)
if sep and string.sub(v, sep + 1) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface CooldownCommands {
  rplaceCooldownAcquire(key: string, value: string, seconds: number): Promise<1 | [string | null, number]>;
  rplaceCooldownRelease(key: string, requestId: string): Promise<number>;
}

export function createRedisCooldownStore(redis: Redis, names: Names): CooldownStore {
  // defineCommand runs EVALSHA and falls back to EVAL once after a NOSCRIPT (e.g. a restarted Redis).
  redis.defineCommand('rplaceCooldownAcquire', { numberOfKeys: 1, lua: ACQUIRE_LUA });
  redis.defineCommand('rplaceCooldownRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  const commands = redis as unknown as CooldownCommands;

  return {
    async tryAcquire(userId, requestId, placedAt, seconds): Promise<CooldownResult> {
      const reply = await commands.rplaceCooldownAcquire(names.cooldownKey(userId), `${placedAt}:${requestId}`, seconds);
      if (reply === 1) return { acquired: true };
      const [value, pttl] = reply;
      // The key vanished between SET and GET cannot happen inside one script; a value written by
      // something else than this store is treated as held by nobody we know, for its remaining time.
      const sep = value === null ? -1 : value.indexOf(':');
      const holderPlacedAt = sep > 0 ? Number(value!.slice(0, sep)) : 0;
      const holderRequestId = sep > 0 ? value!.slice(sep + 1) : '';
      return { acquired: false, remainingMs: Math.max(0, pttl), holderRequestId, holderPlacedAt };
    },

    async release(userId, requestId): Promise<void> {
      await commands.rplaceCooldownRelease(names.cooldownKey(userId), requestId);
    },

    async remainingMs(userId): Promise<number> {
      return Math.max(0, await redis.pttl(names.cooldownKey(userId)));
    },
  };
}
