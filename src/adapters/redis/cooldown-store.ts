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
 * Outcome records ride in the same call as the next acquisitions (at most RECORD_RIDE_MS later): with one
 * placement in flight per player they were a Redis write of their own per placement (issue 13).
 * The store is also the `PlacementAdmission` (src/ports/admission.ts): `admit` is one more op in the same batch
 * (the guard's session, ban and rate checks, then the cooldowns), so a placement makes one Redis call in all.
 * (On Redis Cluster the keys of a batch would have to share a slot; we run a single Redis.)
 * Every Redis failure is a `StoreUnavailable`, which the placement command answers as `unavailable`.
 *
 * Opt-in replica acks (`COOLDOWN_REPLICA_ACKS`, issue 17): a batch holding an acquisition is sent as a pipeline
 * of the script and `WAIT <replicas> <timeoutMs>`, written together (one round trip), so an acquirer hears back
 * only once a replica holds its cooldown or the wait timed out: a failover right after an acknowledged
 * placement cannot hand the user a second one. A timed-out WAIT does not refuse the placement (the cooldown is on
 * the primary; refusing would stop every placement while a replica is gone): it is reported to `onUnacked`.
 * WAIT blocks its connection, so give this store a connection of its own when the option is on; at most one
 * acked flush is in flight (later turns queue and go together), so a silent replica costs each acquisition at
 * most two waits, never a queue of them. Off (the default), the call is the same single script as before.
 */
import type { Redis } from 'ioredis';
import type { Names } from '../../domain/names.ts';
import type { CooldownResult, CooldownStore } from '../../ports/cooldown.ts';
import { StoreUnavailable } from '../../ports/errors.ts';
import type { AdmissionRequest, AdmissionResult, PlacementAdmission } from '../../ports/admission.ts';
import type { RateDecision } from '../../ports/auth.ts';
import { bansKey } from './ban-store.ts';
import { storeUnavailable } from './connect.ts';
import { BATCH_LUA, RELEASE_LUA } from './cooldown-lua.ts';
import { rateKey } from './rate-limits.ts';
import { sessionKeyOf } from './session-store.ts';

const HOLDER_JS = /^2:(\d+):(\d+):(\d+):(\d+):(\d*):([\s\S]*)$/;

/** Largest number of keys in one script call: bounds the time Redis spends in one script (~1 ms). */
export const MAX_BATCH = 500;

type AcquireReply = number | [string, number];
/** An admission's reply (cooldown-lua.ts); Redis turns Lua's `false` into null. */
type AdmitReply = [number, string, number, number, number, number, number, AcquireReply | null, AcquireReply | null];
type Reply = AcquireReply | AdmitReply;

interface CooldownCommands {
  rplaceCooldownBatch(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Promise<Reply[]>;
  rplaceCooldownRelease(key: string, requestId: string): Promise<number>;
  rplaceCooldownTtls(numberOfKeys: number, ...keys: string[]): Promise<number[]>;
}

/** PTTL of every key, in order: one call for many users' cooldowns. */
const TTLS_LUA = `local r = {}
for i, k in ipairs(KEYS) do r[i] = redis.call('PTTL', k) end
return r`;

/** The pipeline of one acked batch: the script, then WAIT (ioredis adds defined commands to pipelines too). */
interface AckedPipeline {
  rplaceCooldownBatch(numberOfKeys: number, ...keysAndArgs: (string | number)[]): AckedPipeline;
  wait(replicas: number, timeoutMs: number): AckedPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** Wait for this many replicas to hold each batch of acquisitions, at most `timeoutMs` (Redis `WAIT`). */
export interface ReplicaAcks {
  readonly replicas: number;
  readonly timeoutMs: number;
  /** A batch of `count` acquisitions that fewer replicas than asked acknowledged in time (`acked` did). */
  readonly onUnacked?: (count: number, acked: number) => void;
}

/** The script and WAIT in one pipeline; the script's replies, once WAIT has answered. */
async function batchWithAck(
  pipeline: AckedPipeline,
  acks: ReplicaAcks,
  n: number,
  args: (string | number)[],
): Promise<Reply[]> {
  const results = await pipeline
    .rplaceCooldownBatch(n, ...args)
    .wait(acks.replicas, acks.timeoutMs)
    .exec();
  if (results === null) throw new Error('the pipeline was aborted');
  const [[scriptError, replies], [waitError, acked]] = results as [[Error | null, Reply[]], [Error | null, number]];
  if (scriptError) throw scriptError;
  // The script ran on the primary: a failed or short WAIT is a weaker guarantee, not a failed acquisition.
  const got = waitError ? 0 : Number(acked);
  if (got < acks.replicas) acks.onUnacked?.(n, got);
  return replies;
}

function toResult(reply: AcquireReply | undefined): CooldownResult {
  if (typeof reply === 'number') return { acquired: true, remainingMs: Math.max(0, reply) };
  const [value, pttl] = reply ?? ['', 0];
  const remainingMs = Math.max(0, pttl);
  const m = HOLDER_JS.exec(value);
  // A value not written by this store is held by nobody we know, for its remaining time.
  if (m === null)
    return { acquired: false, remainingMs, holderRequestId: '', holderPlacedAt: 0, holderPixel: null, holderSeq: null };
  return {
    acquired: false,
    remainingMs,
    holderRequestId: m[6] as string,
    holderPlacedAt: Number(m[1]),
    holderPixel: { x: Number(m[2]), y: Number(m[3]), color: Number(m[4]) },
    holderSeq: m[5] === '' ? null : Number(m[5]),
  };
}

interface Queued {
  readonly op: 'a' | 'r' | 'g';
  /** 1 key for `a`/`r`, 6 for `g`. */
  readonly keys: readonly string[];
  /** The op's values after its name (2 for `a`/`r`, 12 for `g`). */
  readonly args: readonly (string | number)[];
  /** Absent for records (fire and forget: no promise per call). */
  readonly resolve?: (reply: Reply) => void;
  readonly reject?: (error: unknown) => void;
}

/**
 * The linger. With one placement in flight per player, a loop turn rarely holds two acquisitions, so each
 * placement paid a Redis call, a JetStream flush and a PubAck wake-up of its own on both sides: at a steady
 * 3,333/s that cost 5× the CPU per placement of the saturated rate (BENCHMARKS.md, "placements"). While
 * acquisitions keep coming (the previous one less than `lingerMs` ago) a batch waits up to `lingerMs` for
 * more, or until it holds LINGER_BATCH; its placements then also reach JetStream in one write and are
 * acknowledged together. A lone acquisition after a pause goes in the next turn, as before: quiet canvases
 * pay no latency for it. Nor does a fast flow (above LINGER_MAX_RATE, a moving mean of the gaps): there loop
 * turns carry several acquisitions anyway, and with 32 closed-loop players at ~7,500/s a 2 ms linger cost 8 %
 * of the rate and more CPU per placement, not less (BENCHMARKS.md, "players", session 12).
 */
export const LINGER_BATCH = 16;
/** Acquisitions a second above which the store does not linger (their turns batch by themselves). */
export const LINGER_MAX_RATE = 5_000;
/** Default linger (ms), as the edge config's PLACEMENT_LINGER_MS: what an acquisition may wait for company (0: never). */
export const DEFAULT_LINGER_MS = 2;

/** Longest a record waits for an acquisition to ride with before it goes alone (ms). */
export const RECORD_RIDE_MS = 20;

/**
 * The batch over one event-loop turn: the acquisitions queued in the turn, and every record queued since the
 * last call, go to Redis as one BATCH_LUA call (in slices of at most MAX_BATCH); each acquirer gets its key's
 * reply. Records do not start a turn's flush of their own: they wait up to RECORD_RIDE_MS for one. A failed
 * call is a `StoreUnavailable` for every acquirer in it and one `onLost` for its records.
 */
function createBatcher(
  commands: CooldownCommands,
  onLost: (error: StoreUnavailable) => void,
  lingerMs: number,
  acked?: { acks: ReplicaAcks; pipeline: () => AckedPipeline },
) {
  let queue: Queued[] = [];
  let immediate = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = (batch: Queued[]): void => {
    const keys: (string | number)[] = [];
    const args: (string | number)[] = [];
    for (const q of batch) {
      keys.push(...q.keys);
      args.push(q.op, ...q.args);
    }
    const n = keys.length;
    keys.push(...args);
    let call: Promise<Reply[]>;
    if (acked !== undefined && batch.some((q) => q.op !== 'r')) {
      inFlight++;
      call = batchWithAck(acked.pipeline(), acked.acks, n, keys).finally(() => {
        // The queue built up while this flush waited goes as the next one (see `flush`).
        if (--inFlight === 0 && queue.length > 0) flush();
      });
    } else {
      call = commands.rplaceCooldownBatch(n, ...keys);
    }
    call.then(
      (replies) => {
        for (let i = 0; i < batch.length; i++) batch[i]!.resolve?.(replies[i]!);
      },
      (cause: unknown) => {
        const error = new StoreUnavailable(
          `Redis could not take or record cooldowns for ${batch.length} key(s): ${(cause as Error).message}`,
          { cause },
        );
        if (batch.some((q) => q.op === 'r')) onLost(error);
        for (const q of batch) q.reject?.(error);
      },
    );
  };
  // Acked flushes in flight. WAIT blocks the connection until a replica answers or the wait ends, so while
  // one flush waits the next turns' acquisitions queue up and go together once it is done: at most one WAIT in
  // flight, however many turns (otherwise, with no replica, every turn would add WAIT_MS to the connection's queue).
  let inFlight = 0;
  // The linger (see LINGER_BATCH): the previous acquisition's time, and the timer of a batch that waits for more.
  let lastSendAt = Number.NEGATIVE_INFINITY;
  let meanGapMs = 1000;
  let lingering: ReturnType<typeof setTimeout> | undefined;
  const flush = (): void => {
    immediate = false;
    lingering = undefined;
    if (inFlight > 0) return;
    const all = queue;
    queue = [];
    for (let i = 0; i < all.length; i += MAX_BATCH) run(all.slice(i, i + MAX_BATCH));
  };
  return {
    send(op: 'a' | 'g', keys: readonly string[], args: readonly (string | number)[]): Promise<Reply> {
      return new Promise((resolve, reject) => {
        queue.push({ op, keys, args, resolve, reject });
        const now = lingerMs > 0 ? performance.now() : 0;
        const gap = now - lastSendAt;
        lastSendAt = now;
        meanGapMs += (Math.min(gap, 1000) - meanGapMs) * 0.05;
        // Flowing, but not so fast that loop turns already carry several (see LINGER_MAX_RATE).
        const flowing = gap < lingerMs && meanGapMs > 1000 / LINGER_MAX_RATE;
        if (lingering !== undefined) {
          // Enough to share one call: waiting longer saves little (the fixed cost is already split this many ways).
          if (queue.length >= LINGER_BATCH) {
            clearTimeout(lingering);
            lingering = undefined;
            flush();
          }
        } else if (!immediate) {
          immediate = true;
          if (flowing) lingering = setTimeout(flush, lingerMs);
          else setImmediate(flush);
        }
      });
    },
    record(key: string, requestId: string, seq: number): void {
      queue.push({ op: 'r', keys: [key], args: [requestId, seq] });
      // One timer at a time, never cleared: with one placement in flight per player, arming and clearing one
      // per record was a timer per placement; left to run out, a timer finds the queue empty (the records
      // rode) or sends what waits, which has waited at most RECORD_RIDE_MS.
      if (!immediate && timer === undefined) {
        timer = setTimeout(() => {
          timer = undefined;
          if (queue.length > 0 && !immediate) flush();
        }, RECORD_RIDE_MS);
        timer.unref?.();
      }
    },
  };
}

export interface CooldownStoreOptions {
  /** Hears about a batch of outcome records Redis refused (the placements themselves are fine). */
  readonly onLostRecord?: (error: StoreUnavailable) => void;
  readonly replicaAcks?: ReplicaAcks | undefined;
  /** How long an acquisition may wait for others to share its call while placements flow (DEFAULT_LINGER_MS). */
  readonly lingerMs?: number;
}

export function createRedisCooldownStore(
  redis: Redis,
  names: Names,
  options: CooldownStoreOptions = {},
): CooldownStore & PlacementAdmission {
  const { onLostRecord = () => undefined, replicaAcks, lingerMs = DEFAULT_LINGER_MS } = options;
  // defineCommand runs EVALSHA and falls back to EVAL once after a NOSCRIPT (e.g. a restarted Redis).
  redis.defineCommand('rplaceCooldownBatch', { lua: BATCH_LUA });
  redis.defineCommand('rplaceCooldownRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  redis.defineCommand('rplaceCooldownTtls', { lua: TTLS_LUA });
  // The batch is already one call per event-loop turn: ioredis's auto-pipelining would wrap each call in a
  // Pipeline of its own (an object, a tick and a promise chain per call) for nothing (issue 13: measured).
  // A new array: ioredis shares its default one between every client of the process.
  const ignored = redis.options.autoPipeliningIgnoredCommands ?? [];
  if (!ignored.includes('rplaceCooldownBatch'))
    redis.options.autoPipeliningIgnoredCommands = [...ignored, 'rplaceCooldownBatch'];
  // defineCommand just added these methods; ioredis's types cannot know them.
  const commands = redis as Redis & CooldownCommands;

  /** One script of PTTLs for every user (0 for none): the edge's cooldown read for a loop turn's upgrades. */
  const remainingMsMany = async (userIds: readonly string[]): Promise<number[]> => {
    if (userIds.length === 0) return [];
    const keys = userIds.map((id) => names.cooldownKey(id));
    const ttls = await commands.rplaceCooldownTtls(keys.length, ...keys).catch(storeUnavailable('read cooldowns'));
    return ttls.map((ms) => Math.max(0, ms));
  };

  // Recorded outcomes ride with the next acquisitions (or go alone after RECORD_RIDE_MS) and nobody waits
  // for them: a lost or late record only means a retry falls back to the retry window (place-pixel.ts).
  const batch = createBatcher(
    commands,
    onLostRecord,
    lingerMs,
    replicaAcks && replicaAcks.replicas > 0
      ? { acks: replicaAcks, pipeline: () => redis.pipeline() as unknown as AckedPipeline }
      : undefined,
  );

  return {
    async tryAcquire(userId, requestId, placedAt, seconds, pixel): Promise<CooldownResult> {
      const value = `2:${placedAt}:${pixel.x}:${pixel.y}:${pixel.color}::${requestId}`;
      return toResult((await batch.send('a', [names.cooldownKey(userId)], [value, seconds])) as AcquireReply);
    },

    async admit(request: AdmissionRequest): Promise<AdmissionResult> {
      const c = request.cooldowns;
      const value = (holder: string) =>
        c === null ? '' : `2:${c.placedAt}:${c.pixel.x}:${c.pixel.y}:${c.pixel.color}::${holder}`;
      const bans = bansKey(names.redisPrefix);
      const address = c?.address ?? null;
      const reply = (await batch.send(
        'g',
        [
          request.sessionKey === null ? bans : sessionKeyOf(names.redisPrefix, request.sessionKey),
          bans,
          rateKey(names.redisPrefix, request.perIp.name),
          rateKey(names.redisPrefix, request.perUser.name),
          names.cooldownKey(address?.subject ?? request.userId),
          names.cooldownKey(request.userId),
        ],
        [
          request.sessionKey === null ? 0 : 1,
          request.userId,
          request.perIp.windowMs,
          request.perIp.limit,
          request.perUser.windowMs,
          request.perUser.limit,
          c === null ? 0 : 1,
          address === null ? 0 : 1,
          address === null ? '' : value(address.holderId),
          address?.holderId ?? '',
          c === null ? '' : value(c.requestId),
          c?.seconds ?? 1,
        ],
      )) as AdmitReply;
      const [alive, mode, loaded, ipOk, ipRetry, userOk, userRetry, addressReply, userReply] = reply;
      const decision = (ok: number, retryAfterMs: number): RateDecision =>
        ok === 1 ? { allowed: true } : { allowed: false, retryAfterMs };
      return {
        alive: alive === 1,
        ban: loaded !== 1 ? 'unknown' : mode === 'ban' || mode === 'shadow' ? mode : null,
        byIp: decision(ipOk, ipRetry),
        byUser: decision(userOk, userRetry),
        address: addressReply === null ? null : toResult(addressReply),
        cooldown: userReply === null ? null : toResult(userReply),
      };
    },

    recordOutcome(userId, requestId, seq): void {
      batch.record(names.cooldownKey(userId), requestId, seq);
    },

    async release(userId, requestId): Promise<void> {
      await commands
        .rplaceCooldownRelease(names.cooldownKey(userId), requestId)
        .catch(storeUnavailable('release a cooldown'));
    },

    async remainingMs(userId): Promise<number> {
      return (await remainingMsMany([userId]))[0] ?? 0;
    },

    remainingMsMany,
  };
}
