-- Extend the buyer's live holds, capped by the hold's total lifetime.
-- ARGV: event_id, buyer, seconds ('web' = the web app's: its hold time is added to what is
--       left, up to its own total cap; otherwise the hold runs `seconds` from now), seat...
-- Returns {'OK', expMs} or {'NOT_LOADED'} {'EXPIRED', seats} {'FORBIDDEN', seats}
--   {'IN_ORDER', seat|ORDERED|SOLD...} (a seat in an order: its deadline is the order's)
local buyer = ARGV[2]
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local secs = clamp_secs(ARGV[3], m)
local cap = total_cap_ms(ARGV[3], m)
local web = ARGV[3] == 'web'
local expired, forbidden, in_order, states = {}, {}, {}, {}
for i = 4, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  states[seat] = s
  if (s.kind == 'O' and s.live) or s.kind == 'S' then
    in_order[#in_order + 1] = seat .. (s.kind == 'S' and '|SOLD' or '|ORDERED')
  elseif not (s.kind == 'H' and s.live) then
    expired[#expired + 1] = seat
  elseif s.buyer ~= buyer then
    forbidden[#forbidden + 1] = seat
  end
end
if #forbidden > 0 then return { 'FORBIDDEN', forbidden } end
if #in_order > 0 then return { 'IN_ORDER', in_order } end
if #expired > 0 then return { 'EXPIRED', expired } end
local result = nil
for i = 4, #ARGV do
  local seat = ARGV[i]
  local s = states[seat]
  local from = now
  if web and s.exp > now then from = s.exp end
  local e = math.min(from + secs * 1000, s.start + cap)
  if e < s.exp then e = s.exp end
  redis.call('HSET', K_ST, seat, 'H|' .. buyer .. '|' .. e .. '|' .. s.start .. '|' .. s.tag)
  redis.call('ZADD', K_EXP, e, seat)
  if not result or e < result then result = e end
end
return { 'OK', result or 0 }
