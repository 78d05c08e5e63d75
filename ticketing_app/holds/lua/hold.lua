-- Hold seats all-or-nothing for one buyer. Sold and blocked seats are refused here, inside
-- the same atomic step as the availability check (the original checked them outside).
-- ARGV: event_id, buyer, tag, hold_seconds ('' = event default, 'web' = the web app's),
--       admission epoch ('' = no valid waiting-room token), buyer's and address's attempts
--       per minute (0 = no limit; KEYS[13], KEYS[14] count them), seat...
-- Returns {'OK', expMs, version, newly_held, hold_seconds} or an error tuple:
--   {'NOT_LOADED'} {'RATE', scope, limit, retry_s} {'SALES_CLOSED'} {'ADMISSION'}
--   {'UNKNOWN', seats} {'SOLD', seat|status...} {'CONFLICT', seat|status...}
--   {'LIMIT', owned, limit} {'ORPHAN', seat}
local event_id, buyer, tag = ARGV[1], ARGV[2], ARGV[3]
local m, now, refusal = open_claim()
if refusal then return refusal end
local secs = clamp_secs(ARGV[4], m)
local cap = total_cap_ms(ARGV[4], m)
local exp = now + secs * 1000
local changes = {}
reap_own(buyer, now, changes)

local fresh, refresh = {}, {}
local unknown, sold, conflict, states = sort_claim(8, now, function(seat, s)
  if is_free(s) then
    fresh[#fresh + 1] = seat
  elseif s.kind == 'H' and s.buyer == buyer then
    refresh[#refresh + 1] = seat
  elseif s.kind == 'O' and s.buyer == buyer then
    return 'ORDERED'
  else
    return 'HELD'
  end
end)
-- A refusal still publishes what reaping freed (those seats are free either way).
local function refuse(answer)
  publish(event_id, changes)
  return answer
end
if #unknown > 0 then return refuse({ 'UNKNOWN', unknown }) end
if #sold > 0 then return refuse({ 'SOLD', sold }) end
if #conflict > 0 then return refuse({ 'CONFLICT', conflict }) end

local owned = tonumber(redis.call('HGET', K_OWN, buyer) or '0')
if owned + #fresh > m.limit then return refuse({ 'LIMIT', owned, m.limit }) end

if m.orphan and #fresh > 0 then
  local after = {}
  for _, seat in ipairs(fresh) do after[seat] = true end
  local bad = new_orphan(fresh, after, now)
  if bad then return refuse({ 'ORPHAN', bad }) end
end

for _, seat in ipairs(fresh) do
  local s = states[seat]
  if s.kind ~= 'A' then drop_claim(seat, s) end -- an expired claim nobody swept yet
  redis.call('HSET', K_ST, seat, 'H|' .. buyer .. '|' .. exp .. '|' .. now .. '|' .. tag)
  redis.call('ZADD', K_EXP, exp, seat)
  mine_add(buyer, seat)
  changes[#changes + 1] = { seat, 'H', tag, exp }
end
if #fresh > 0 then
  own_add(buyer, #fresh)
  if K_HPM then
    redis.call('HINCRBY', K_HPM, tostring(math.floor(now / 60000)), #fresh)
    redis.call('PEXPIRE', K_HPM, 7200000)
  end
end
for _, seat in ipairs(refresh) do
  -- Holding a seat you already hold renews it, within the hold's total lifetime.
  local s = states[seat]
  local e = math.min(exp, s.start + cap)
  if e < s.exp then e = s.exp end
  redis.call('HSET', K_ST, seat, 'H|' .. buyer .. '|' .. e .. '|' .. s.start .. '|' .. s.tag)
  redis.call('ZADD', K_EXP, e, seat)
  if e < exp then exp = e end
end
local v = publish(event_id, changes)
return { 'OK', exp, v, #fresh, secs }
