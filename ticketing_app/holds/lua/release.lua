-- Release holds. A buyer may release only their own live holds; `force` (the organiser, or the
-- saga) releases any hold and is never refused by the orphan rule.
-- ARGV: event_id, buyer, force ('1'|'0'), seat...
-- Returns {'OK', version, released} or {'NOT_LOADED'} {'EXPIRED', seats} {'FORBIDDEN', seats}
--   {'IN_ORDER', seat|ORDERED|SOLD...} (a seat in an order, unpaid or paid: not a hold any
--   more) {'CONFLICT', seat|BLOCKED...} {'ORPHAN', seat}
local event_id, buyer, force = ARGV[1], ARGV[2], ARGV[3] == '1'
local m = meta()
if not m.loaded then return { 'NOT_LOADED' } end
local now = now_ms()
local expired, forbidden, in_order, conflict, go, states = {}, {}, {}, {}, {}, {}
for i = 4, #ARGV do
  local seat = ARGV[i]
  local s = state_of(seat, now)
  states[seat] = s
  if s.kind == 'H' and s.live and (force or s.buyer == buyer) then
    go[#go + 1] = seat
  elseif is_free(s) then
    expired[#expired + 1] = seat
  elseif s.kind == 'H' then
    forbidden[#forbidden + 1] = seat
  elseif s.kind == 'O' then
    in_order[#in_order + 1] = seat .. '|ORDERED'
  elseif s.kind == 'S' then
    in_order[#in_order + 1] = seat .. '|SOLD'
  else
    conflict[#conflict + 1] = seat .. '|BLOCKED'
  end
end
if #forbidden > 0 then return { 'FORBIDDEN', forbidden } end
if #in_order > 0 then return { 'IN_ORDER', in_order } end
if #conflict > 0 then return { 'CONFLICT', conflict } end
if #expired > 0 and not force then return { 'EXPIRED', expired } end

if m.orphan and not force and #go > 0 then
  local after = {}
  for _, seat in ipairs(go) do after[seat] = false end
  local bad = new_orphan(go, after, now)
  if bad then return { 'ORPHAN', bad } end
end

local changes = {}
for _, seat in ipairs(go) do
  drop_claim(seat, states[seat])
  changes[#changes + 1] = { seat, 'A', '' }
end
return { 'OK', publish(event_id, changes), #go }
