-- Shared helpers, prepended to every script when it is loaded (see holds/scripts.py).
-- Keys of one event share the hash tag {e<id>}, so every script stays on one cluster slot.
--
-- KEYS[1] meta  HASH  loaded, onsale, hmin, hmax, hdef, hmaxtotal, limit, orphan,
--                     wrmode (off|on|auto), wron_until (ms, auto mode), wrepoch (admission
--                     tokens of this epoch are valid; see waiting/lua)
-- KEYS[2] st    HASH  seat -> state (absent = available):
--                       H|buyer|expMs|startMs|tag   held
--                       O|token|buyer|expMs|tag     locked by an order awaiting payment
--                       S|token|buyer               sold to the order with that lock token
--                       B                           blocked by the organiser
-- KEYS[3] exp   ZSET  seat -> expMs of H and O entries (the sweeper's index)
-- KEYS[4] own   HASH  buyer -> seats held, locked or bought (the per-buyer limit)
-- KEYS[5] ver   STRING the event's seat-map version, bumped on every visible change
-- KEYS[6] loc   HASH  seat -> "rowkey|col"
-- KEYS[7] pos   HASH  "rowkey|col" -> seat
-- KEYS[8] mine  HASH  buyer -> comma list of that buyer's H and O seats
-- KEYS[9] ch    pub/sub channel for live sync (a shard channel: SPUBLISH, see announce)
-- KEYS[10] tr   HASH  best-available index (load_event writes it, best_available reads it):
--                       't:<tier>'     JSON [[rowkey, min col + max col of the row], ...] in
--                                      best-first row order ('t:*' = every tier)
--                       't:<tier>:<i>' JSON [["seat", ...], [col, ...]] the tier's seats of row i,
--                                      by column

-- KEYS[11] hpm  HASH  minute (epoch ms // 60000) -> seats newly held in that minute (dashboard)
-- KEYS[12] log  STREAM the recent changes, one entry per version with id '<version>-0':
--                     field c = the published changes (JSON), or r = '1' when the event was
--                     rebuilt (load_event: nothing before it can be replayed across it).
--                     Written in the same step as the version and the PUBLISH, trimmed to
--                     about LOG_MAXLEN entries: what the SSE stream replays to a client that
--                     reconnects with Last-Event-ID (holds/change_log.py)
-- KEYS[13], KEYS[14] (new claims only: hold, best_available) STRING attempts this minute of
--                     the buyer and of the client address (the abuse limits, see open_claim)
-- KEYS[15] pre  HASH  (new claims only) buyer -> access code id: the buyers who redeemed a
--                     presale code (services/access_codes.py), who may claim from meta
--                     `preat` (ms) on while everyone else waits for `pubat` (ms; 0 = no
--                     presale)

local K_META, K_ST, K_EXP, K_OWN, K_VER, K_LOC, K_POS, K_MINE, K_CH, K_TR, K_HPM, K_LOG =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10],
  KEYS[11], KEYS[12]
-- About this many versions stay replayable (XADD MAXLEN ~ trims whole stream nodes: a few
-- more may stay). At one change a second that is a quarter of an hour of reconnects.
local LOG_MAXLEN = 1000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function split(s)
  local out, i = {}, 1
  while true do
    local j = string.find(s, '|', i, true)
    if not j then
      out[#out + 1] = string.sub(s, i)
      return out
    end
    out[#out + 1] = string.sub(s, i, j - 1)
    i = j + 1
  end
end

-- Parse a seat state into a table: kind (A/H/O/S/B), buyer, token, exp, start, tag, live.
local function state_from(raw, now)
  if not raw then return { kind = 'A', live = true } end
  local p = split(raw)
  local k = p[1]
  if k == 'H' then
    local exp = tonumber(p[3])
    return { kind = 'H', buyer = p[2], exp = exp, start = tonumber(p[4]), tag = p[5],
             live = exp > now, raw = raw }
  elseif k == 'O' then
    local exp = tonumber(p[4])
    return { kind = 'O', token = p[2], buyer = p[3], exp = exp, tag = p[5],
             live = exp > now, raw = raw }
  elseif k == 'S' then
    return { kind = 'S', token = p[2], buyer = p[3], live = true, raw = raw }
  end
  return { kind = 'B', live = true, raw = raw }
end

local function state_of(seat, now)
  return state_from(redis.call('HGET', K_ST, seat) or nil, now)
end

-- Free means nobody can claim it: absent, or a hold/lock whose time has passed.
local function is_free(s)
  return s.kind == 'A' or ((s.kind == 'H' or s.kind == 'O') and not s.live)
end

-- Sorts the seats of a new claim (ARGV[first..]) the way every claim refuses them: unknown ids,
-- then sold or blocked seats (seat|SOLD, seat|BLOCKED), then any other by `judge(seat, s)`:
-- nil when this claim may take it as it is, or the status of a conflict ('HELD', 'ORDERED').
-- Returns unknown, sold, conflict, and the state of each known seat.
local function sort_claim(first, now, judge)
  local unknown, sold, conflict, states = {}, {}, {}, {}
  for i = first, #ARGV do
    local seat = ARGV[i]
    if redis.call('HEXISTS', K_LOC, seat) == 0 then
      unknown[#unknown + 1] = seat
    else
      local s = state_of(seat, now)
      states[seat] = s
      if s.kind == 'S' then
        sold[#sold + 1] = seat .. '|SOLD'
      elseif s.kind == 'B' then
        sold[#sold + 1] = seat .. '|BLOCKED'
      else
        local status = judge(seat, s)
        if status then conflict[#conflict + 1] = seat .. '|' .. status end
      end
    end
  end
  return unknown, sold, conflict, states
end

-- is_free straight from the stored string, without building a table (for scans).
local function raw_free(raw, now)
  if not raw then return true end
  local k = string.byte(raw, 1)
  if k == 72 then -- H|buyer|expMs|...
    return tonumber(string.match(raw, '^H|[^|]*|(%d+)')) <= now
  elseif k == 79 then -- O|token|buyer|expMs|...
    return tonumber(string.match(raw, '^O|[^|]*|[^|]*|(%d+)')) <= now
  end
  return false
end

local function mine_add(buyer, seat)
  local cur = redis.call('HGET', K_MINE, buyer)
  if not cur or cur == '' then
    redis.call('HSET', K_MINE, buyer, seat)
    return
  end
  for s in string.gmatch(cur, '[^,]+') do
    if s == seat then return end
  end
  redis.call('HSET', K_MINE, buyer, cur .. ',' .. seat)
end

local function mine_remove(buyer, seat)
  local cur = redis.call('HGET', K_MINE, buyer)
  if not cur then return end
  local keep = {}
  for s in string.gmatch(cur, '[^,]+') do
    if s ~= seat then keep[#keep + 1] = s end
  end
  if #keep == 0 then
    redis.call('HDEL', K_MINE, buyer)
  else
    redis.call('HSET', K_MINE, buyer, table.concat(keep, ','))
  end
end

local function own_add(buyer, n)
  local v = redis.call('HINCRBY', K_OWN, buyer, n)
  if v <= 0 then redis.call('HDEL', K_OWN, buyer) end
end

-- Drop a hold or order lock (expired or released): the seat becomes available.
local function drop_claim(seat, s)
  redis.call('HDEL', K_ST, seat)
  redis.call('ZREM', K_EXP, seat)
  if s.buyer then
    own_add(s.buyer, -1)
    mine_remove(s.buyer, seat)
  end
end

-- Append version v to the change log. The log's ids are versions, which only grow; should
-- the log ever hold a newer id (a version key set back by hand), it is started afresh rather
-- than failing the script half-way: a client resuming from it then gets a fresh INIT.
local function log_version(v, field, value)
  local id = v .. '-0'
  local ok = redis.pcall('XADD', K_LOG, 'MAXLEN', '~', LOG_MAXLEN, id, field, value)
  if type(ok) == 'table' and ok.err then
    redis.call('DEL', K_LOG)
    redis.call('XADD', K_LOG, id, field, value)
  end
end

-- Live sync: sharded pub/sub (SPUBLISH; Redis/Valkey 7 and later), so on a cluster a change
-- travels only within the event's shard, to the web processes subscribed there
-- (clients/pubsub.py); plain PUBLISH where the server has no sharded pub/sub.
local function announce(msg)
  local ok = redis.pcall('SPUBLISH', K_CH, msg)
  if type(ok) == 'table' and ok.err then redis.call('PUBLISH', K_CH, msg) end
end

-- Bump the version, log the change and tell every web process. Changes: list of
-- {seat, code, tag[, until]}. Nothing changed (a refusal): no version, no log, no message.
local function publish(event_id, changes)
  if #changes == 0 then return tonumber(redis.call('GET', K_VER) or '0') end
  local v = redis.call('INCR', K_VER)
  local c = cjson.encode(changes)
  log_version(v, 'c', c)
  announce('{"e":' .. tonumber(event_id) .. ',"v":' .. v .. ',"c":' .. c .. '}')
  return v
end

local function meta()
  local m = redis.call('HMGET', K_META, 'loaded', 'onsale', 'hmin', 'hmax', 'hdef',
    'hmaxtotal', 'limit', 'orphan', 'wrmode', 'wron_until', 'wrepoch', 'whold', 'wmaxtotal',
    'pubat', 'preat')
  return {
    loaded = m[1] == '1', onsale = m[2] == '1',
    hmin = tonumber(m[3]) or 5, hmax = tonumber(m[4]) or 120, hdef = tonumber(m[5]) or 30,
    hmaxtotal = tonumber(m[6]) or 600, limit = tonumber(m[7]) or 10, orphan = m[8] == '1',
    wrmode = m[9] or 'off', wron_until = tonumber(m[10]) or 0, wrepoch = m[11] or '',
    whold = tonumber(m[12]) or 600, wmaxtotal = tonumber(m[13]) or 1800,
    pubat = tonumber(m[14]) or 0, preat = tonumber(m[15]) or 0,
  }
end

-- The waiting room is on: switched on by the organiser, or (automatic mode) by a surge.
local function room_on(m, now)
  return m.wrmode == 'on' or (m.wrmode == 'auto' and now < m.wron_until)
end

-- While the room is on, a new claim needs an admission token of the room's current epoch
-- (the caller verified its signature, buyer, event and expiry and passes its epoch).
local function admitted(m, now, epoch)
  if not room_on(m, now) then return true end
  return epoch ~= nil and epoch ~= '' and epoch == m.wrepoch
end

-- Expire the buyer's own lapsed holds and order locks before counting them against the
-- limit (the sweeper would, a moment later): a lapsed claim is free for everyone, so it
-- must not count for its former holder either. O(the buyer's claims).
local function reap_own(buyer, now, changes)
  local cur = redis.call('HGET', K_MINE, buyer)
  if not cur then return end
  for seat in string.gmatch(cur, '[^,]+') do
    local s = state_of(seat, now)
    if (s.kind == 'H' or s.kind == 'O') and s.buyer == buyer and not s.live then
      drop_claim(seat, s)
      changes[#changes + 1] = { seat, 'A', '' }
    end
  end
end

-- `requested` is seconds (clamped to the event's bounds: the REST API, the original's
-- clamp), '' for the event's default, or 'web': the web app's hold time.
local function clamp_secs(requested, m)
  if requested == 'web' then return m.whold end
  local s = tonumber(requested)
  if not s then return m.hdef end
  if s < m.hmin then return m.hmin end
  if s > m.hmax then return m.hmax end
  return s
end

-- The most a hold may live in all (ms from its start): the web app's cap or the API's.
local function total_cap_ms(requested, m)
  if requested == 'web' then return m.wmaxtotal * 1000 end
  return m.hmaxtotal * 1000
end

-- Orphan rule: a free seat whose left and right neighbours both exist and are taken.
-- `taken` maps seat -> true/false overrides for the state being tested.
local function neighbour(seat, delta)
  local l = redis.call('HGET', K_LOC, seat)
  if not l then return nil end
  local rk, col = string.match(l, '^(.*)|(%-?%d+)$')
  return redis.call('HGET', K_POS, rk .. '|' .. (tonumber(col) + delta))
end

local function taken_in(seat, overrides, now)
  local o = overrides[seat]
  if o ~= nil then return o end
  return not is_free(state_of(seat, now))
end

local function is_orphan(seat, overrides, now)
  if taken_in(seat, overrides, now) then return false end
  local l, r = neighbour(seat, -1), neighbour(seat, 1)
  if not l or not r then return false end
  return taken_in(l, overrides, now) and taken_in(r, overrides, now)
end

-- Returns the first seat that `after` makes a new orphan, or nil. Candidates are the changed
-- seats and their immediate neighbours; an orphan that already existed is not this change's.
local function new_orphan(changed, after, now)
  local seen = {}
  for _, seat in ipairs(changed) do
    for _, cand in ipairs({ seat, neighbour(seat, -1), neighbour(seat, 1) }) do
      if cand and not seen[cand] then
        seen[cand] = true
        if is_orphan(cand, after, now) and not is_orphan(cand, {}, now) then
          return cand
        end
      end
    end
  end
  return nil
end

-- Orphan rule for an order (lock_order.lua): should the order end unpaid and its seats be
-- freed, which of them would be stranded between the buyer's own other claims (holds, or seats
-- in another of their unpaid orders)? Those the buyer chose to leave out of this order, so the
-- order is refused, as releasing that seat would be. A seat stranded between other buyers'
-- seats is not refused: the buyer had no better choice. Returns the seat or nil.
local function stranded_by_own(seats, buyer, now)
  local freed = {}
  for _, seat in ipairs(seats) do freed[seat] = false end
  for _, seat in ipairs(seats) do
    if is_orphan(seat, freed, now) then
      for _, nb in ipairs({ neighbour(seat, -1), neighbour(seat, 1) }) do
        if nb and freed[nb] == nil then
          local s = state_of(nb, now)
          if (s.kind == 'H' or s.kind == 'O') and s.live and s.buyer == buyer then
            return seat
          end
        end
      end
    end
  end
  return nil
end

-- One attempt more against an abuse limit (a fixed one-minute window): true when over it.
local function over_limit(key, limit)
  if not key or not limit or limit <= 0 then return false end
  local n = redis.call('INCR', key)
  if n == 1 then redis.call('PEXPIRE', key, 61000) end
  return n > limit
end

-- The opening of every new claim (hold.lua, best_available.lua), in the order a refusal is
-- decided: the event loaded; this attempt counted against the buyer's and the address's
-- limits (every attempt counts, refused or not, in the event's slot, inside this one round
-- trip); on sale; open to this buyer (the presale: a redeemed access code, KEYS[15]);
-- admitted by the waiting room. ARGV[5] admission epoch, ARGV[6] the buyer's
-- limit per minute, ARGV[7] the address's (0 = none).
-- Returns m, now, nil or nil, nil, refusal.
local function open_claim()
  local m = meta()
  if not m.loaded then return nil, nil, { 'NOT_LOADED' } end
  local now = now_ms()
  local holder_over = over_limit(KEYS[13], tonumber(ARGV[6]))
  local ip_over = over_limit(KEYS[14], tonumber(ARGV[7]))
  if holder_over or ip_over then
    local retry = 60 - math.floor(now / 1000) % 60
    if holder_over then return nil, nil, { 'RATE', 'holder', tonumber(ARGV[6]), retry } end
    return nil, nil, { 'RATE', 'ip', tonumber(ARGV[7]), retry }
  end
  if not m.onsale then return nil, nil, { 'SALES_CLOSED' } end
  if now < m.pubat and (now < m.preat or not KEYS[15]
      or redis.call('HEXISTS', KEYS[15], ARGV[2]) == 0) then
    return nil, nil, { 'PRESALE', m.preat, m.pubat } -- the presale: code holders only
  end
  if not admitted(m, now, ARGV[5]) then return nil, nil, { 'ADMISSION' } end
  return m, now, nil
end
