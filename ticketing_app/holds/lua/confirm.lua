-- Sell an order's seats: held -> sold, fenced by the order's lock token. With allow_free
-- (the late-payment policy) a seat whose lock lapsed may still be sold if nobody else has
-- claimed it since, and only within the buyer's seat limit (a lapsed order's seats stopped
-- counting, so the buyer may have taken others meanwhile). All-or-nothing; repeating it for
-- the same token is a no-op.
-- ARGV: event_id, token, buyer, allow_free ('1'|'0'), seat...
-- Returns {'OK', version} or {'NOT_LOADED'} or {'TAKEN', seat|status...}
--   or {'LIMIT', owned, limit}
local event_id, token, buyer, allow_free = ARGV[1], ARGV[2], ARGV[3], ARGV[4] == '1'
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local changes = {}
if allow_free then reap_own(buyer, now, changes) end
local taken, go, states = {}, {}, {}
for i = 5, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  states[seat] = s
  if s.kind == 'S' and s.token == token then
    -- already sold to this order
  elseif s.kind == 'O' and s.token == token then
    go[#go + 1] = seat
  elseif allow_free and is_free(s) then
    go[#go + 1] = seat
  else
    local st = (s.kind == 'S' and 'SOLD') or (s.kind == 'B' and 'BLOCKED')
      or (is_free(s) and 'RELEASED') or 'HELD'
    taken[#taken + 1] = seat .. '|' .. st
  end
end
if #taken > 0 then
  publish(event_id, changes)
  return { 'TAKEN', taken }
end
local regained = 0
for _, seat in ipairs(go) do
  local s = states[seat]
  if not (s.kind == 'O' and s.token == token) then regained = regained + 1 end
end
local owned = tonumber(redis.call('HGET', K_OWN, buyer) or '0')
if regained > 0 and owned + regained > m.limit then
  publish(event_id, changes)
  return { 'LIMIT', owned, m.limit }
end
for _, seat in ipairs(go) do
  local s = states[seat]
  if not (s.kind == 'O' and s.token == token) then
    if s.kind ~= 'A' then drop_claim(seat, s) end
    own_add(buyer, 1)
  else
    mine_remove(buyer, seat)
  end
  redis.call('HSET', K_ST, seat, 'S|' .. token .. '|' .. buyer)
  redis.call('ZREM', K_EXP, seat)
  changes[#changes + 1] = { seat, 'S', '' }
end
return { 'OK', publish(event_id, changes) }
