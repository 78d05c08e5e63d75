-- Shared helpers of the waiting-room scripts, prepended to each when it is loaded.
-- All keys carry the event's hash tag {e<id>}, like the hold scripts' keys.
--
-- KEYS[1] meta  HASH  the event's settings (holds/lua/_lib.lua), here: wrmode (off|on|auto),
--                     wrrate (admissions per second), wrthr (arrivals per second that switch
--                     the automatic room on), wrcap (live admissions at most; 0 = no cap),
--                     wrpow (the bot check's bits; 0 = off),
--                     wron_until (ms; the automatic room is on until then), wrepoch
-- KEYS[2] wr    HASH  seq (last position given), serving (highest admitted position),
--                     last_ms (last advance), carry (fraction of an admission not yet made),
--                     trimmed (positions <= trimmed were admitted more than a token TTL ago),
--                     awin/acnt (the current second and its arrivals, automatic mode)
-- KEYS[3] wq    HASH  buyer -> position (a reload keeps the place)
-- KEYS[4] wi    HASH  position -> "buyer|tokenExpMs|issuedMs": the one token of that place
-- KEYS[5] wa    ZSET  admission checkpoints: score = serving after an advance,
--                     member = "serving:ms"; position p was admitted at the first one >= p

local K_META, K_WR, K_WQ, K_WI, K_WA = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function cfg()
  local m = redis.call('HMGET', K_META, 'wrmode', 'wron_until', 'wrrate', 'wrthr', 'wrcap',
    'wrepoch', 'wrpow')
  return {
    mode = m[1] or 'off', on_until = tonumber(m[2]) or 0, rate = tonumber(m[3]) or 0,
    thr = tonumber(m[4]) or 0, cap = tonumber(m[5]) or 0, epoch = m[6] or '',
    pow = tonumber(m[7]) or 0,
  }
end

local function room_on(c, now)
  return c.mode == 'on' or (c.mode == 'auto' and now < c.on_until)
end

local function num(field)
  return tonumber(redis.call('HGET', K_WR, field)) or 0
end

local function checkpoint(serving, now)
  redis.call('ZADD', K_WA, serving, serving .. ':' .. now)
end

-- Forget checkpoints older than a token's lifetime: their positions' admissions expired.
local function trim(now, ttl_ms)
  for _ = 1, 1000 do
    local first = redis.call('ZRANGE', K_WA, 0, 0)
    if #first == 0 then return end
    local serving, at = string.match(first[1], '^(%d+):(%d+)$')
    if tonumber(at) + ttl_ms > now then return end
    redis.call('ZREMRANGEBYRANK', K_WA, 0, 0)
    redis.call('HSET', K_WR, 'trimmed', serving)
  end
end

-- Move the serving counter. Room off: everyone who arrived is admitted at once. Room on: at
-- most rate x (time since the last advance, at most one second) plus a carried fraction
-- below one, so between any two advances admissions never exceed rate x elapsed + 1, however
-- many processes call this; with a capacity, only while live admissions stay below it.
local function advance(c, now, ttl_ms)
  trim(now, ttl_ms)
  local seq, serving = num('seq'), num('serving')
  local last = tonumber(redis.call('HGET', K_WR, 'last_ms')) or now
  local carry = num('carry')
  if not room_on(c, now) then
    if serving < seq then
      serving = seq
      checkpoint(serving, now)
    end
    carry = 0
  else
    local elapsed = now - last
    if elapsed < 0 then elapsed = 0 end
    if elapsed > 1000 then elapsed = 1000 end
    local budget = c.rate * elapsed / 1000 + carry
    local n = math.floor(budget)
    if c.cap > 0 then
      local free = c.cap - (serving - num('trimmed'))
      if free < 0 then free = 0 end
      if n > free then n = free end
    end
    if n > seq - serving then n = seq - serving end
    if n > 0 then
      serving = serving + n
      checkpoint(serving, now)
    end
    carry = budget - n
    if carry >= 1 then carry = budget - math.floor(budget) end -- no banking while held back
  end
  redis.call('HSET', K_WR, 'serving', serving, 'last_ms', now, 'carry', tostring(carry))
  return serving, seq
end

-- When was position p admitted? nil if it was so long ago that its checkpoint is gone.
local function admitted_at(p)
  if p <= num('trimmed') then return nil end
  local first = redis.call('ZRANGEBYSCORE', K_WA, p, '+inf', 'LIMIT', 0, 1)
  if #first == 0 then return nil end
  local _, at = string.match(first[1], '^(%d+):(%d+)$')
  return tonumber(at)
end

-- The place's answer: {'WAITING', pos, serving, seq, rate, on} or
-- {'ADMITTED', pos, serving, seq, tokenExpMs, admittedMs, epoch} or {'EXPIRED', pos}.
-- The token of a place is issued once: its expiry is fixed by the admission time, and the
-- first issue is recorded with the buyer; every later answer repeats that same token.
local function place(c, buyer, pos, serving, seq, now, ttl_ms)
  if pos > serving then
    return { 'WAITING', pos, serving, seq, tostring(c.rate), room_on(c, now) and 1 or 0 }
  end
  local at = admitted_at(pos)
  if not at or at + ttl_ms <= now then return { 'EXPIRED', pos } end
  local exp = at + ttl_ms
  if redis.call('HSETNX', K_WI, pos, buyer .. '|' .. exp .. '|' .. now) == 0 then
    local rec = redis.call('HGET', K_WI, pos)
    local owner, rexp = string.match(rec, '^(.*)|(%d+)|%d+$')
    if owner ~= buyer then return { 'EXPIRED', pos } end -- never: places are per buyer
    exp = tonumber(rexp)
  end
  return { 'ADMITTED', pos, serving, seq, exp, at, c.epoch }
end
