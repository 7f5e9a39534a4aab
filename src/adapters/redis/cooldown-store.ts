/**
 * Per-user placement cooldowns in Redis: one key per user (`names.cooldownKey(userId)`) holding
 * `<placedAt>:<requestId>` with a TTL of the cooldown.
 *
 * `tryAcquire` is `SET key value NX EX seconds` in a Lua script, so "take it, or learn who holds it and
 * for how long" is atomic: a rejected attempt gets the holder's request id (the caller recognises a retry
 * of the same request) and its remaining PTTL in the same round trip. `release` is compare-and-delete, so
 * a late refund never frees a cooldown that a later placement took.
 *
 * The acquisitions that arrive in one turn of the event loop go to Redis as ONE script call over all
 * their keys (at most `MAX_BATCH`): per key, the script does exactly what a single call would, in order,
 * so two attempts for the same user in one batch still see each other. Measured on this machine, one
 * command per acquisition costs more client CPU than the whole JetStream append (see BENCHMARKS.md).
 * (On Redis Cluster the keys of a batch would have to share a slot; we run a single Redis.)
 * Every Redis failure is a `StoreUnavailable`, which the placement command answers as `unavailable`.
 */
import type { Redis } from 'ioredis';
import type { Names } from '../../config/names.ts';
import type { CooldownResult, CooldownStore } from '../../app/ports.ts';
import { StoreUnavailable } from '../../app/errors.ts';
import { storeUnavailable } from './connect.ts';


/**
 * KEYS: the cooldown keys; ARGV: per key, the value `<placedAt>:<requestId>` then the seconds.
 * Returns per key 1 (taken) or {holder value, PTTL}.
 */
const ACQUIRE_LUA = `
local out = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], ARGV[2 * i - 1], 'NX', 'EX', ARGV[2 * i]) then
    out[i] = 1
  else
    out[i] = {redis.call('GET', KEYS[i]) or '', redis.call('PTTL', KEYS[i])}
  end
end
return out
`;

/** KEYS[1] cooldown key; ARGV[1] request id. Deletes the key only if that request holds it. */
const RELEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local sep = string.find(v, ':', 1, true)
if sep and string.sub(v, sep + 1) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Largest number of keys in one script call: bounds the time Redis spends in one script (~1 ms). */
export const MAX_BATCH = 500;

type AcquireReply = (1 | [string, number])[];

interface CooldownCommands {
  rplaceCooldownAcquire(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<AcquireReply>;
  rplaceCooldownRelease(key: string, requestId: string): Promise<number>;
}

interface Waiting {
  readonly key: string;
  readonly value: string;
  readonly seconds: number;
  readonly resolve: (result: CooldownResult) => void;
  readonly reject: (error: unknown) => void;
}

function toResult(reply: 1 | [string, number] | undefined): CooldownResult {
  if (reply === 1) return { acquired: true };
  const [value, pttl] = reply ?? ['', 0];
  // A value not written by this store (no separator) is held by nobody we know, for its remaining time.
  const sep = value.indexOf(':');
  return {
    acquired: false,
    remainingMs: Math.max(0, pttl),
    holderRequestId: sep > 0 ? value.slice(sep + 1) : '',
    holderPlacedAt: sep > 0 ? Number(value.slice(0, sep)) : 0,
  };
}

export function createRedisCooldownStore(redis: Redis, names: Names): CooldownStore {
  // defineCommand runs EVALSHA and falls back to EVAL once after a NOSCRIPT (e.g. a restarted Redis).
  redis.defineCommand('rplaceCooldownAcquire', { lua: ACQUIRE_LUA });
  redis.defineCommand('rplaceCooldownRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  const commands = redis as unknown as CooldownCommands;

  let queue: Waiting[] = [];
  let scheduled = false;

  const send = (batch: Waiting[]): void => {
    const args: (string | number)[] = new Array(batch.length * 3);
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i]!;
      args[i] = w.key;
      args[batch.length + 2 * i] = w.value;
      args[batch.length + 2 * i + 1] = w.seconds;
    }
    commands.rplaceCooldownAcquire(batch.length, ...args).then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve(toResult(replies[i]));
      },
      (cause: unknown) => {
        const error = new StoreUnavailable(`Redis could not take ${batch.length} cooldown(s): ${(cause as Error).message}`, { cause });
        for (const w of batch) w.reject(error);
      },
    );
  };

  const flush = (): void => {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) send(all.slice(i, i + MAX_BATCH));
  };

  return {
    tryAcquire(userId, requestId, placedAt, seconds): Promise<CooldownResult> {
      return new Promise((resolve, reject) => {
        queue.push({ key: names.cooldownKey(userId), value: `${placedAt}:${requestId}`, seconds, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },

    async release(userId, requestId): Promise<void> {
      await commands.rplaceCooldownRelease(names.cooldownKey(userId), requestId).catch(storeUnavailable('release a cooldown'));
    },

    async remainingMs(userId): Promise<number> {
      return Math.max(0, await redis.pttl(names.cooldownKey(userId)).catch(storeUnavailable('read a cooldown')));
    },
  };
}
