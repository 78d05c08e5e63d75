-- The box office claims seats for a named customer (a comp or a reservation), or holds a
-- freed seat for the waitlist's next in line: free seats only, all-or-nothing, in the same
-- atomic step as every buyer's hold, so a seat is never both. Not gated by the on-sale switch,
-- the waiting room or the per-buyer limit (the organiser's act), but counted like any claim.
-- mode 'lock': an order lock O|token|buyer|untilMs|tag (a comp about to be sold, or a
-- reservation that lasts until the admin releases or converts it, at most until untilMs);
-- mode 'hold': a hold H|buyer|untilMs|now|tag (a waitlist offer, handed over on claim).
-- ARGV: event_id, buyer, token, untilMs, tag, mode, seat...
-- Returns {'OK', version} or {'NOT_LOADED'} {'UNKNOWN', seats} {'SOLD', seat|status...}
--   {'CONFLICT', seat|HELD...}
local event_id, buyer, token, untl, tag, mode = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5],
  ARGV[6]
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local unknown, sold, conflict, states = sort_claim(7, now, function(_, s)
  if s.kind == 'O' and s.token == token then return nil end -- already ours (a retry)
  if not is_free(s) then return 'HELD' end
end)
if #unknown > 0 then return { 'UNKNOWN', unknown } end
if #sold > 0 then return { 'SOLD', sold } end
if #conflict > 0 then return { 'CONFLICT', conflict } end
local changes, fresh = {}, 0
for i = 7, #ARGV do
  local seat = ARGV[i]
  local s = states[seat]
  if not (s.kind == 'O' and s.token == token) then
    if s.kind ~= 'A' then drop_claim(seat, s) end -- an expired claim nobody swept yet
    if mode == 'hold' then
      redis.call('HSET', K_ST, seat, 'H|' .. buyer .. '|' .. untl .. '|' .. now .. '|' .. tag)
    else
      redis.call('HSET', K_ST, seat, 'O|' .. token .. '|' .. buyer .. '|' .. untl .. '|' .. tag)
    end
    redis.call('ZADD', K_EXP, untl, seat)
    mine_add(buyer, seat)
    fresh = fresh + 1
    changes[#changes + 1] = { seat, 'H', tag, tonumber(untl) }
  end
end
if fresh > 0 then own_add(buyer, fresh) end
return { 'OK', publish(event_id, changes) }
