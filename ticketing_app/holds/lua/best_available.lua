-- Best available: find `quantity` adjacent free seats in one row of one tier and hold them for
-- the buyer, in this one atomic step (nobody can take them between the choice and the hold).
--
-- Scoring (docs/onsale.md): rows are tried in the order load_event stored them (row 1, nearest
-- the stage, first); within a row the block whose centre is nearest the row's centre wins,
-- ties to the left. The first row with an acceptable block decides. A block is acceptable when
-- its seats are consecutive columns (no aisle or gap inside), all free, and (orphan rule on)
-- holding it leaves no single free seat between taken seats.
-- Cost: O(seats of the tier) at worst, O(1) Redis calls per candidate block.
--
-- Tier 'wc' (services/catalog.py): the index of wheelchair spaces ('W') and companion seats
-- ('C'), which no other tier contains; a block qualifies there only with exactly one 'W'
-- ("a wheelchair space and quantity - 1 companions").
--
-- ARGV: event_id, buyer, tag, hold_seconds ('' = default), admission epoch, buyer's and
--       address's attempts per minute (as hold.lua), tier ('*' = any), quantity
-- Returns {'OK', expMs, version, seat...} or an error tuple:
--   {'NOT_LOADED'} {'RATE', scope, limit, retry_s} {'SALES_CLOSED'} {'ADMISSION'} {'NO_TIER'}
--   {'LIMIT', owned, limit} {'NONE', largest_block_free, free_seats_in_tier}
local event_id, buyer, tag, tier = ARGV[1], ARGV[2], ARGV[3], ARGV[8]
local qty = tonumber(ARGV[9])
local m, now, refusal = open_claim()
if refusal then return refusal end
local secs = clamp_secs(ARGV[4], m)
local exp = now + secs * 1000
local changes = {}
reap_own(buyer, now, changes)

local function refuse(answer)
  publish(event_id, changes)
  return answer
end

local heads_raw = redis.call('HGET', K_TR, 't:' .. tier)
if not heads_raw then return refuse({ 'NO_TIER' }) end
local owned = tonumber(redis.call('HGET', K_OWN, buyer) or '0')
if owned + qty > m.limit then return refuse({ 'LIMIT', owned, m.limit }) end

-- Would holding seats first..last (one row, consecutive) leave a new orphan? Only the seat just
-- outside each end can become one: it is free and its other neighbour is taken.
local function leaves_orphan(first, last)
  for _, side in ipairs({ { first, -1 }, { last, 1 } }) do
    local outer = neighbour(side[1], side[2])
    if outer and is_free(state_of(outer, now)) then
      local far = neighbour(outer, side[2])
      if far and not is_free(state_of(far, now)) then return true end
    end
  end
  return false
end

local largest, free_total = 0, 0
local heads = cjson.decode(heads_raw)
for i, head in ipairs(heads) do
  local centre2 = tonumber(head[2])
  local row = cjson.decode(redis.call('HGET', K_TR, 't:' .. tier .. ':' .. i) or '[[],[]]')
  local ids, cols, kinds = row[1], row[2], row[3] or {}
  local wc = tier == 'wc'
  if #ids > 0 then
    local raw = redis.call('HMGET', K_ST, unpack(ids))
    local candidates, run = {}, 0
    for j = 1, #ids do
      if raw_free(raw[j], now) then
        free_total = free_total + 1
        if run > 0 and cols[j] == cols[j - 1] + 1 then run = run + 1 else run = 1 end
      else
        run = 0
      end
      if run > largest then largest = run end
      local fits = run >= qty
      if fits and wc then
        local spaces = 0
        for k = j - qty + 1, j do
          if kinds[k] == 'W' then spaces = spaces + 1 end
        end
        fits = spaces == 1
      end
      if fits then
        local first = j - qty + 1
        candidates[#candidates + 1] = {
          math.abs(cols[first] + cols[j] - centre2), cols[first], first, j,
        }
      end
    end
    table.sort(candidates, function(a, b)
      if a[1] ~= b[1] then return a[1] < b[1] end
      return a[2] < b[2]
    end)
    for _, cand in ipairs(candidates) do
      local first, last = cand[3], cand[4]
      if not (m.orphan and leaves_orphan(ids[first], ids[last])) then
        local out = { 'OK', exp, 0 }
        for j = first, last do
          local seat = ids[j]
          local s = state_from(raw[j], now)
          if s.kind ~= 'A' then drop_claim(seat, s) end -- a lapsed claim nobody swept yet
          redis.call('HSET', K_ST, seat, 'H|' .. buyer .. '|' .. exp .. '|' .. now .. '|' .. tag)
          redis.call('ZADD', K_EXP, exp, seat)
          mine_add(buyer, seat)
          changes[#changes + 1] = { seat, 'H', tag, exp }
          out[#out + 1] = seat
        end
        own_add(buyer, qty)
        out[3] = publish(event_id, changes)
        return out
      end
    end
  end
end
return refuse({ 'NONE', largest, free_total })
