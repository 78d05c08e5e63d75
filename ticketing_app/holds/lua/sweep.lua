-- Expire holds and order locks whose time has passed, so every viewer sees the seat free
-- without anyone clicking. Bounded per call to keep the server responsive.
-- ARGV: event_id, max_batch
-- Returns {released, version, token...} (tokens of order locks that lapsed)
local event_id, batch = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', K_EXP, '-inf', now, 'LIMIT', 0, batch)
local changes, tokens, seen = {}, {}, {}
for _, seat in ipairs(due) do
  local s = state_of(seat, now)
  if (s.kind == 'H' or s.kind == 'O') and not s.live then
    drop_claim(seat, s)
    changes[#changes + 1] = { seat, 'A', '' }
    if s.kind == 'O' and not seen[s.token] then
      seen[s.token] = true
      tokens[#tokens + 1] = s.token
    end
  elseif s.kind ~= 'H' and s.kind ~= 'O' then
    redis.call('ZREM', K_EXP, seat)
  else
    redis.call('ZADD', K_EXP, s.exp, seat) -- extended since it was indexed
  end
end
local out = { #changes, publish(event_id, changes) }
for _, t in ipairs(tokens) do out[#out + 1] = t end
return out
