-- Refund or cancellation: sold seats of one order return to sale, or stay blocked.
-- Only seats sold to this token are touched (idempotent).
-- ARGV: event_id, token, block ('1'|'0'), seat...
-- Returns {'OK', version, count}
local event_id, token, block = ARGV[1], ARGV[2], ARGV[3] == '1'
local m = meta()
if not m.loaded then return { 'OK', 0, 0 } end
local now = now_ms()
local changes = {}
for i = 4, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  if s.kind == 'S' and s.token == token then
    own_add(s.buyer, -1)
    if block then
      redis.call('HSET', K_ST, seat, 'B')
      changes[#changes + 1] = { seat, 'B', '' }
    else
      redis.call('HDEL', K_ST, seat)
      changes[#changes + 1] = { seat, 'A', '' }
    end
  end
end
return { 'OK', publish(event_id, changes), #changes }
