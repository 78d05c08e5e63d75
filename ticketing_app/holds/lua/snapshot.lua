-- The whole seat map at one version, for a page load or a live-sync resync.
-- ARGV: (none). Returns {loaded, version, nowMs, seat, state, seat, state, ...}
local loaded = redis.call('HGET', K_META, 'loaded') == '1' and 1 or 0
local v = tonumber(redis.call('GET', K_VER) or '0')
local out = { loaded, v, now_ms() }
local all = redis.call('HGETALL', K_ST)
for i = 1, #all do out[#out + 1] = all[i] end
return out
