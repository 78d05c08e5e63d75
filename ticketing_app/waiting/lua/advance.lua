-- The periodic advance (every web and worker process runs it; it is atomic and paced by
-- the time since the last advance, so several callers never admit more than one would).
-- ARGV: event_id, token_ttl_ms
-- Returns {serving, seq, on (1|0)}, or {-1, -1, 0} when the event has no room
local c = cfg()
local now = now_ms()
if c.mode == 'off' then return { -1, -1, 0 } end
local serving, seq = advance(c, now, tonumber(ARGV[2]))
return { serving, seq, room_on(c, now) and 1 or 0 }
