/**
 * The cooldown store's scripts (cooldown-store.ts). One script for every batched operation, so a turn's
 * acquisitions, admissions and the outcome records waiting for a ride travel in ONE call (issue 13).
 */
import { LOADED } from './ban-store.ts';
import { GCRA_BODY, NOW_FN } from './rate-limits.ts';

/** A cooldown value: `2:<placedAt>:<x>:<y>:<color>:<seq>:<requestId>`. */
export const HOLDER = `'^2:(%d+):(%d+):(%d+):(%d+):(%d*):(.*)$'`;

/** KEYS[1] cooldown key; ARGV[1] request id. Deletes the key only if that request holds it. */
export const RELEASE_LUA = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local _, _, _, _, _, r = string.match(v, ${HOLDER})
if r == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS and ARGV are streams of operations, in queue order; each op names itself in ARGV and consumes its keys
 * and values; the reply holds one entry per op:
 * - `a` (acquire; 1 key) value (seq empty), seconds → the TTL it was just given in ms (taken: a number; the
 *   whole cooldown, at least the PTTL Redis would report) or {holder value, PTTL}. That TTL is what
 *   `nextPlacement` is computed from: it starts here, in Redis, after the batching and the round trip, not
 *   when the command read its clock.
 * - `r` (record; 1 key) request id, seq → writes the seq where that request holds the key and none is
 *   recorded (1), else 0 (compare-and-set, keeping the TTL).
 * - `g` (admit; keys session, bans hash, IP bucket, user bucket, address cooldown, user cooldown) has-session,
 *   user id, IP window, IP limit, user window, user limit, take, has-address, address value, address holder,
 *   user value, seconds → {alive, ban mode or '', loaded, IP allowed, IP retry ms, user allowed, user retry ms,
 *   address reply or false, user reply or false}: the placement guard's checks as the separate calls made them
 *   (both buckets always charged), then, with `take` and only if all pass, the cooldowns (see src/ports/admission.ts).
 * Ops run in order, so two operations on one key in one call see each other.
 */
export const BATCH_LUA = `
local function gcra(key, window, limit, now)
${GCRA_BODY}
end
local function acquire(key, value, seconds)
  -- Taken: the whole cooldown. PTTL now would say at most this (the script ran for microseconds since the SET),
  -- so a nextPlacement from it is never early; one call fewer per placement.
  if redis.call('SET', key, value, 'NX', 'EX', seconds) then return tonumber(seconds) * 1000 end
  return {redis.call('GET', key) or '', redis.call('PTTL', key)}
end
${NOW_FN}
-- Redis's clock, read by the first admission of the call and shared by the rest (they run within microseconds).
local now = nil
local out = {}
local k, j, i = 1, 1, 1
while j <= #ARGV do
  local op = ARGV[j]
  if op == 'a' then
    out[i] = acquire(KEYS[k], ARGV[j + 1], ARGV[j + 2])
    k, j = k + 1, j + 3
  elseif op == 'r' then
    out[i] = 0
    local v = redis.call('GET', KEYS[k])
    if v then
      local p, x, y, c, s, r = string.match(v, ${HOLDER})
      if r == ARGV[j + 1] and s == '' then
        redis.call('SET', KEYS[k], '2:' .. p .. ':' .. x .. ':' .. y .. ':' .. c .. ':' .. ARGV[j + 2] .. ':' .. r, 'KEEPTTL')
        out[i] = 1
      end
    end
    k, j = k + 1, j + 3
  else
    local alive = 1
    if ARGV[j + 1] == '1' then alive = redis.call('EXISTS', KEYS[k]) end
    local ban = redis.call('HMGET', KEYS[k + 1], ARGV[j + 2], '${LOADED}')
    local mode = ban[1] or ''
    local loaded = 0
    if ban[2] then loaded = 1 end
    if now == nil then now = nowMs() end
    local ip = gcra(KEYS[k + 2], tonumber(ARGV[j + 3]), tonumber(ARGV[j + 4]), now)
    local user = gcra(KEYS[k + 3], tonumber(ARGV[j + 5]), tonumber(ARGV[j + 6]), now)
    local addr, mine = false, false
    if ARGV[j + 7] == '1' and alive == 1 and loaded == 1 and mode ~= 'ban' and ip[1] == 1 and user[1] == 1 then
      local seconds = ARGV[j + 12]
      local go = true
      if ARGV[j + 8] == '1' and mode ~= 'shadow' then
        addr = acquire(KEYS[k + 4], ARGV[j + 9], seconds)
        if type(addr) == 'table' then
          local _, _, _, _, _, r = string.match(addr[1], ${HOLDER})
          go = r == ARGV[j + 10]
        end
      end
      if go then mine = acquire(KEYS[k + 5], ARGV[j + 11], seconds) end
    end
    out[i] = {alive, mode, loaded, ip[1], ip[2], user[1], user[2], addr, mine}
    k, j = k + 6, j + 13
  end
  i = i + 1
end
return out
`;
