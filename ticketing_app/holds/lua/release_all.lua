-- The organiser ends every buyer's hold on an event at once. Order locks (O: a payment is
-- running) and sales are left alone. O(seats in a state), an admin action, not the hot path.
-- ARGV: event_id
-- Returns {'OK', version, released} or {'NOT_LOADED'}
local event_id = ARGV[1]
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local all = redis.call('HGETALL', K_ST)
local changes = {}
for i = 1, #all, 2 do
  local seat, raw = all[i], all[i + 1]
  if string.sub(raw, 1, 2) == 'H|' then
    drop_claim(seat, state_of(seat, now))
    changes[#changes + 1] = { seat, 'A', '' }
  end
end
return { 'OK', publish(event_id, changes), #changes }
