-- Organiser's production holds: block takes a seat off sale (ending any hold on it, never
-- an order lock or a sale); unblock returns it. Never refused by the orphan rule.
-- ARGV: event_id, mode ('block'|'unblock'), seat...
-- Returns {'OK', version, changed} or {'NOT_LOADED'} or {'REFUSED', seat|status...}
local event_id, mode = ARGV[1], ARGV[2]
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local refused, states = {}, {}
for i = 3, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  states[seat] = s
  if mode == 'block' and (s.kind == 'S' or (s.kind == 'O' and s.live)) then
    refused[#refused + 1] = seat .. (s.kind == 'S' and '|SOLD' or '|ORDERED')
  end
end
if #refused > 0 then return { 'REFUSED', refused } end
local changes = {}
for i = 3, #ARGV do
  local seat = ARGV[i]
  local s = states[seat]
  if mode == 'block' and s.kind ~= 'B' then
    if s.kind ~= 'A' then drop_claim(seat, s) end
    redis.call('HSET', K_ST, seat, 'B')
    changes[#changes + 1] = { seat, 'B', '' }
  elseif mode == 'unblock' and s.kind == 'B' then
    redis.call('HDEL', K_ST, seat)
    changes[#changes + 1] = { seat, 'A', '' }
  end
end
return { 'OK', publish(event_id, changes), #changes }
