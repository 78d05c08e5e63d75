-- Build an event's Redis state from the database (first use, or after Redis lost its data).
-- Runs only when the event is not loaded yet, unless mode is 'layout', which refreshes the
-- seat positions and settings and leaves holds alone.
-- ARGV: event_id, mode ('init'|'layout'|'repair'), json {meta, seats: [[id, rowkey, col]],
--       sold: [[id, token, buyer]], blocked: [id], locks: [[id, token, buyer, deadline, tag]],
--       rows: {tier: [[rowkey, centre2, JSON [[seat...], [col...]]], ...]} (best-available
--       index)}
local mode = ARGV[2]
local loaded = redis.call('HGET', K_META, 'loaded') == '1'
if mode == 'init' and loaded then return { 'ALREADY' } end
local data = cjson.decode(ARGV[3])
if mode == 'repair' then
  -- After a failover's rebuild (holds/shards.py): the database's sales and open orders' locks
  -- made while the rebuild read it (a settlement sells in Redis, then commits) are put back,
  -- nothing else is touched. Sold seats become sold to their order; a lock returns only to a
  -- seat nobody claims now.
  if not loaded then return { 'NOT_LOADED' } end
  local now = now_ms()
  local changes = {}
  for _, s in ipairs(data.sold) do
    local seat, want = tostring(s[1]), 'S|' .. s[2] .. '|' .. s[3]
    local raw = redis.call('HGET', K_ST, seat)
    if raw ~= want then
      local st = state_from(raw or nil, now)
      if st.kind == 'H' or st.kind == 'O' then drop_claim(seat, st)
      elseif st.kind == 'S' then own_add(st.buyer, -1) end
      redis.call('HSET', K_ST, seat, want)
      redis.call('ZREM', K_EXP, seat)
      own_add(s[3], 1)
      changes[#changes + 1] = { seat, 'S', '' }
    end
  end
  for _, l in ipairs(data.locks) do
    local seat = tostring(l[1])
    local st = state_of(seat, now)
    if is_free(st) and tonumber(l[4]) > now then
      if st.kind ~= 'A' then drop_claim(seat, st) end
      redis.call('HSET', K_ST, seat, 'O|' .. l[2] .. '|' .. l[3] .. '|' .. l[4] .. '|' .. l[5])
      redis.call('ZADD', K_EXP, l[4], seat)
      own_add(l[3], 1)
      mine_add(l[3], seat)
      changes[#changes + 1] = { seat, 'H', l[5], tonumber(l[4]) }
    end
  end
  return { 'OK', publish(ARGV[1], changes), #changes }
end
if mode == 'init' then
  redis.call('DEL', K_ST, K_EXP, K_OWN, K_MINE)
end
redis.call('DEL', K_LOC, K_POS)
for _, s in ipairs(data.seats) do
  local id, rk, col = tostring(s[1]), s[2], tostring(s[3])
  redis.call('HSET', K_LOC, id, rk .. '|' .. col)
  redis.call('HSET', K_POS, rk .. '|' .. col, id)
end
for k, v in pairs(data.meta) do redis.call('HSET', K_META, k, tostring(v)) end
redis.call('DEL', K_TR)
if type(data.rows) == 'table' then
  for tier, rows in pairs(data.rows) do
    local heads = {}
    for i, r in ipairs(rows) do
      heads[i] = { r[1], r[2] }
      redis.call('HSET', K_TR, 't:' .. tier .. ':' .. i, r[3])
    end
    redis.call('HSET', K_TR, 't:' .. tier, cjson.encode(heads))
  end
end
if mode == 'init' then
  local changes = {}
  for _, s in ipairs(data.sold) do
    redis.call('HSET', K_ST, tostring(s[1]), 'S|' .. s[2] .. '|' .. s[3])
    redis.call('HINCRBY', K_OWN, s[3], 1)
  end
  for _, id in ipairs(data.blocked) do redis.call('HSET', K_ST, tostring(id), 'B') end
  for _, l in ipairs(data.locks) do
    local id = tostring(l[1])
    redis.call('HSET', K_ST, id, 'O|' .. l[2] .. '|' .. l[3] .. '|' .. l[4] .. '|' .. l[5])
    redis.call('ZADD', K_EXP, l[4], id)
    redis.call('HINCRBY', K_OWN, l[3], 1)
    mine_add(l[3], id)
  end
  redis.call('HSET', K_META, 'loaded', '1')
  -- A new version tells every open page to take the rebuilt map. A Redis that lost its data
  -- lost the version too: restarting at 1 would look older than what every open page and web
  -- process has seen, so versions are floored by the clock (10 per millisecond since the
  -- epoch; cjson prints 14 significant digits, which this stays within) and never go back.
  local floor = now_ms() * 10
  local v = tonumber(redis.call('GET', K_VER) or '0')
  if v < floor then
    redis.call('SET', K_VER, floor)
  end
  v = redis.call('INCR', K_VER)
  log_version(v, 'r', '1') -- a stream client resuming from before this gets a fresh INIT
  announce(cjson.encode({ e = tonumber(ARGV[1]), v = v, reset = true }))
else
  -- Settings changed (sales switch, limits): copies of the seat map re-read them at once.
  announce(cjson.encode({ e = tonumber(ARGV[1]), meta = true }))
end
return { 'OK' }
