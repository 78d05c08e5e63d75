-- Turn the buyer's live holds into an order lock that lasts until the payment deadline,
-- whatever the hold's TTL. Idempotent for the same token (a retried order request).
-- With the orphan rule on, an order that would strand one of its seats between the buyer's
-- own other claims, were it left unpaid, is refused (stranded_by_own in _lib.lua).
-- ARGV: event_id, buyer, token, deadlineMs, seat...
-- Returns {'OK'} or {'NOT_LOADED'} {'EXPIRED', seats} {'SOLD', seat|status...}
--   {'FORBIDDEN', seats} {'CONFLICT', seat|HELD...} {'ORPHAN', seat}
-- CONFLICT: someone else's live hold or order lock (this buyer never held the seat);
-- EXPIRED: the seat is free, so this buyer's hold on it, if any, is gone.
local buyer, token, deadline = ARGV[2], ARGV[3], tonumber(ARGV[4])
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local expired, sold, forbidden, conflict, states = {}, {}, {}, {}, {}
for i = 5, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  states[seat] = s
  if s.kind == 'O' and s.token == token then
    -- already locked by this very order
  elseif s.kind == 'H' and s.live and s.buyer == buyer then
    -- ours to lock
  elseif s.kind == 'S' or s.kind == 'B' then
    sold[#sold + 1] = seat .. (s.kind == 'S' and '|SOLD' or '|BLOCKED')
  elseif s.kind == 'O' and s.live and s.buyer == buyer then
    forbidden[#forbidden + 1] = seat -- in another order of this buyer
  elseif s.live and (s.kind == 'H' or s.kind == 'O') then
    conflict[#conflict + 1] = seat .. '|HELD' -- someone else's hold or order
  else
    expired[#expired + 1] = seat -- free: our hold, if we had one, is gone
  end
end
if #sold > 0 then return { 'SOLD', sold } end
if #forbidden > 0 then return { 'FORBIDDEN', forbidden } end
if #conflict > 0 then return { 'CONFLICT', conflict } end
if #expired > 0 then return { 'EXPIRED', expired } end
if m.orphan then
  local seats, fresh = {}, false
  for i = 5, #ARGV do
    seats[#seats + 1] = ARGV[i]
    fresh = fresh or states[ARGV[i]].kind == 'H'
  end
  if fresh then -- a retry of an order already locked is not judged again
    local bad = stranded_by_own(seats, buyer, now)
    if bad then return { 'ORPHAN', bad } end
  end
end
local changes = {}
for i = 5, #ARGV do
  local seat = ARGV[i]
  local s = states[seat]
  if s.kind == 'H' then
    redis.call('HSET', K_ST, seat, 'O|' .. token .. '|' .. buyer .. '|' .. deadline .. '|' .. s.tag)
    redis.call('ZADD', K_EXP, deadline, seat)
    -- Still shown held by the same buyer, but until the deadline: a copy of the seat map that
    -- refuses holds from memory must not go on trusting the hold's (maybe later) expiry.
    changes[#changes + 1] = { seat, 'H', s.tag, deadline }
  end
end
publish(ARGV[1], changes)
return { 'OK' }
