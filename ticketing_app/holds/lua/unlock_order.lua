-- Compensation: give up an order's seats. Only seats still locked by this token are touched,
-- so running it twice, or after the sweeper, changes nothing more.
-- Mode 'cancel' is the buyer's own cancel: a release like release.lua, so with the orphan rule
-- on it is refused when it would strand a seat (the saga's and the expiry's 'release' never are).
-- ARGV: event_id, token, mode ('release' | 'rehold' | 'cancel'), rehold_exp_ms, seat...
-- Returns {'OK', version, released} or {'ORPHAN', seat}; 'cancel' also {'NOT_LOADED'} (the
-- rule is judged on the rebuilt state; the saga's modes have nothing to release then).
local event_id, token, mode, rehold_exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local m = meta()
if not m.loaded then
  if mode == 'cancel' then return { 'NOT_LOADED' } end
  return { 'OK', 0, 0 }
end
local now = now_ms()
if mode == 'cancel' and m.orphan then
  local mine, after = {}, {}
  for i = 5, #ARGV do
    local s = state_of(ARGV[i], now)
    if s.kind == 'O' and s.token == token then
      mine[#mine + 1] = ARGV[i]
      after[ARGV[i]] = false
    end
  end
  local bad = new_orphan(mine, after, now)
  if bad then return { 'ORPHAN', bad } end
end
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
