-- Compensation: give up an order's seats. Only seats still locked by this token are touched,
-- so running it twice, or after the sweeper, changes nothing more.
-- ARGV: event_id, token, mode ('release' | 'rehold'), rehold_exp_ms, seat...
-- Returns {'OK', version, released}
local event_id, token, mode, rehold_exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local m = meta()
if not m.loaded then return { 'OK', 0, 0 } end
local now = now_ms()
local changes, n = {}, 0
for i = 5, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  if s.kind == 'O' and s.token == token then
    n = n + 1
    if mode == 'rehold' and tonumber(rehold_exp) > now then
      redis.call('HSET', K_ST, seat,
        'H|' .. s.buyer .. '|' .. rehold_exp .. '|' .. now .. '|' .. s.tag)
      redis.call('ZADD', K_EXP, rehold_exp, seat)
    else
      drop_claim(seat, s)
      changes[#changes + 1] = { seat, 'A', '' }
    end
  end
end
return { 'OK', publish(event_id, changes), n }
