-- Hand live holds from one holder to another (a waitlist offer, held under the offer's own
-- holder id, becomes the buyer's who opened its link): only seats `from` still holds, all or
-- nothing. The hold keeps its expiry and total lifetime.
-- ARGV: event_id, from, to, tag, seat...
-- Returns {'OK', version} or {'NOT_LOADED'} or {'GONE', seats}
local event_id, from, to, tag = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local gone, states = {}, {}
for i = 5, #ARGV do
  local s = state_of(ARGV[i], now)
  states[ARGV[i]] = s
  if not (s.kind == 'H' and s.live and (s.buyer == from or s.buyer == to)) then
    gone[#gone + 1] = ARGV[i]
  end
end
if #gone > 0 then return { 'GONE', gone } end
local changes, moved = {}, 0
for i = 5, #ARGV do
  local seat = ARGV[i]
  local s = states[seat]
  if s.buyer == from then
    redis.call('HSET', K_ST, seat, 'H|' .. to .. '|' .. s.exp .. '|' .. s.start .. '|' .. tag)
    mine_remove(from, seat)
    mine_add(to, seat)
    moved = moved + 1
    changes[#changes + 1] = { seat, 'H', tag, s.exp }
  end
end
if moved > 0 then
  own_add(from, -moved)
  own_add(to, moved)
end
return { 'OK', publish(event_id, changes) }
