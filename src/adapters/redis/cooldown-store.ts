/**
 * Per-user placement cooldowns in Redis: one key per user (`names.cooldownKey(userId)`) holding
 * `2:<placedAt>:<x>:<y>:<color>:<seq>:<requestId>` with a TTL of the cooldown. `<seq>` is empty until
 * the holder's append is acknowledged and `recordOutcome` writes it (compare-and-set, keeping the TTL):
 * from then on a retry of that request is answered from the key and never appended again, however long
 * after the stream's duplicate window it comes (issue 11, item 10). A value in any other format (an
 * older edge's) is held by nobody we know: a refusal, never a retry.
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
import type { CooldownResult, CooldownStore } from '../../ports/cooldown.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import { storeUnavailable } from './connect.ts';


/**
 * KEYS: the cooldown keys; ARGV: per key, the value (seq empty) then the seconds.
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

const HOLDER = `'^2:(%d+):(%d+):(%d+):(%d+):(%d*):(.*)$'`;

/** KEYS[1] cooldown key; ARGV[1] request id. Deletes the key only if that request holds it. */
const RELEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local _, _, _, _, _, r = string.match(v, ${HOLDER})
if r == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: cooldown keys; ARGV: per key, request id then seq. Writes the seq where that request holds the key and none is recorded (1), else 0. */
const RECORD_LUA = `
local out = {}
for i = 1, #KEYS do
  out[i] = 0
  local v = redis.call('GET', KEYS[i])
  if v then
    local p, x, y, c, s, r = string.match(v, ${HOLDER})
    if r == ARGV[2 * i - 1] and s == '' then
      redis.call('SET', KEYS[i], '2:' .. p .. ':' .. x .. ':' .. y .. ':' .. c .. ':' .. ARGV[2 * i] .. ':' .. r, 'KEEPTTL')
      out[i] = 1
    end
  end
end
return out
`;

const HOLDER_JS = /^2:(\d+):(\d+):(\d+):(\d+):(\d*):([\s\S]*)$/;

/** Largest number of keys in one script call: bounds the time Redis spends in one script (~1 ms). */
export const MAX_BATCH = 500;

interface CooldownCommands {
  rplaceCooldownAcquire: Script<1 | [string, number]>;
  rplaceCooldownRecord: Script<number>;
  rplaceCooldownRelease(key: string, requestId: string): Promise<number>;
}

function toResult(reply: 1 | [string, number] | undefined): CooldownResult {
  if (reply === 1) return { acquired: true };
  const [value, pttl] = reply ?? ['', 0];
  const remainingMs = Math.max(0, pttl);
  const m = HOLDER_JS.exec(value);
  // A value not written by this store is held by nobody we know, for its remaining time.
  if (m === null) return { acquired: false, remainingMs, holderRequestId: '', holderPlacedAt: 0, holderPixel: null, holderSeq: null };
  return {
    acquired: false,
    remainingMs,
    holderRequestId: m[6] as string,
    holderPlacedAt: Number(m[1]),
    holderPixel: { x: Number(m[2]), y: Number(m[3]), color: Number(m[4]) },
    holderSeq: m[5] === '' ? null : Number(m[5]),
  };
}

interface Queued<R> {
  readonly key: string;
  readonly a: string | number;
  readonly b: string | number;
  /** Absent for fire-and-forget calls (no promise per call). */
  readonly resolve?: (reply: R) => void;
  readonly reject?: (error: unknown) => void;
}

type Script<R> = (numberOfKeys: number, ...keysAndArgs: (string | number)[]) => Promise<R[]>;

interface Batched<R> {
  /** Queues one key; resolves with its reply. */
  call(key: string, a: string | number, b: string | number): Promise<R>;
  /** Queues one key, nobody waits for the reply; a failed call is reported to `onLost` once per batch. */
  send(key: string, a: string | number, b: string | number): void;
}

/**
 * A per-key script call batched over one event-loop turn: everything queued in the turn goes to Redis as
 * one call (KEYS = the keys, ARGV = two values per key), in slices of at most MAX_BATCH; each caller gets
 * its key's reply. A failed call is a `StoreUnavailable` for every caller in it.
 */
function batchedScript<R>(script: Script<R>, what: string, onLost: (error: StoreUnavailable) => void = () => undefined): Batched<R> {
  let queue: Queued<R>[] = [];
  let scheduled = false;
  const run = (batch: Queued<R>[]): void => {
    const args: (string | number)[] = new Array(batch.length * 3);
    for (let i = 0; i < batch.length; i++) {
      const q = batch[i]!;
      args[i] = q.key;
      args[batch.length + 2 * i] = q.a;
      args[batch.length + 2 * i + 1] = q.b;
    }
    script(batch.length, ...args).then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve?.(replies[i] as R);
      },
      (cause: unknown) => {
        const error = new StoreUnavailable(`Redis could not ${what} for ${batch.length} key(s): ${(cause as Error).message}`, { cause });
        onLost(error);
        for (const q of batch) q.reject?.(error);
      },
    );
  };
  const flush = (): void => {
    scheduled = false;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) run(all.slice(i, i + MAX_BATCH));
  };
  const enqueue = (item: Queued<R>): void => {
    queue.push(item);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  return {
    call: (key, a, b) => new Promise((resolve, reject) => enqueue({ key, a, b, resolve, reject })),
    send: (key, a, b) => enqueue({ key, a, b }),
  };
}

/**
 * `onLostRecord` hears about a batch of outcome records Redis refused (the placements themselves are fine).
 */
export function createRedisCooldownStore(redis: Redis, names: Names, onLostRecord: (error: StoreUnavailable) => void = () => undefined): CooldownStore {
  // defineCommand runs EVALSHA and falls back to EVAL once after a NOSCRIPT (e.g. a restarted Redis).
  redis.defineCommand('rplaceCooldownAcquire', { lua: ACQUIRE_LUA });
  redis.defineCommand('rplaceCooldownRecord', { lua: RECORD_LUA });
  redis.defineCommand('rplaceCooldownRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  const commands = redis as unknown as CooldownCommands;

  const acquire = batchedScript<1 | [string, number]>(commands.rplaceCooldownAcquire.bind(commands), 'take cooldowns');
  // Recorded outcomes are batched like acquisitions (one script call per event-loop turn) and nobody waits
  // for them: a lost record only means a later retry falls back to the retry window (place-pixel.ts).
  const record = batchedScript<number>(commands.rplaceCooldownRecord.bind(commands), 'record placement outcomes', onLostRecord);

  return {
    async tryAcquire(userId, requestId, placedAt, seconds, pixel): Promise<CooldownResult> {
      return toResult(await acquire.call(names.cooldownKey(userId), `2:${placedAt}:${pixel.x}:${pixel.y}:${pixel.color}::${requestId}`, seconds));
    },

    recordOutcome(userId, requestId, seq): void {
      record.send(names.cooldownKey(userId), requestId, seq);
    },

    async release(userId, requestId): Promise<void> {
      await commands.rplaceCooldownRelease(names.cooldownKey(userId), requestId).catch(storeUnavailable('release a cooldown'));
    },

    async remainingMs(userId): Promise<number> {
      return Math.max(0, await redis.pttl(names.cooldownKey(userId)).catch(storeUnavailable('read a cooldown')));
    },
  };
}
