-- Join an event's queue, or look up the place the buyer already has (a reload keeps it; a
-- place whose admission expired is given up and the buyer goes to the back).
-- ARGV: event_id, buyer, token_ttl_ms, new_epoch (used if the room has none yet),
--       auto_cooldown_ms, create ('1' join | '0' poll only),
--       solved_bits (bits of a bot-check challenge whose solution the caller verified: its
--       signature, buyer, event, expiry and hash; '' = none), challenge_ttl_ms (what is left
--       of that challenge's life)
-- KEYS[6]: the challenge's "used" marker (EventKeys.challenge_used)
-- Returns {'OFF'} (no room: nothing to wait for), {'NONE'} (poll, not in the queue),
-- {'CHALLENGE', bits} (a new place while the room is on needs a solved challenge),
-- {'EASY', bits} (the solved challenge asks fewer bits than the event does now),
-- {'USED'} (that challenge already bought a place) or the place's answer (see place()).
-- A challenge is spent only when it buys a place, in the same step: a buyer who already has
-- one keeps it without solving again (a reload).
local buyer, ttl_ms, cooldown = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5])
local create = ARGV[6] == '1'
local solved_bits, challenge_ttl = tonumber(ARGV[7]), math.max(1, tonumber(ARGV[8]) or 1)
local c = cfg()
if c.mode == 'off' then return { 'OFF' } end
local now = now_ms()
if c.epoch == '' then
  redis.call('HSETNX', K_META, 'wrepoch', ARGV[4])
  c.epoch = redis.call('HGET', K_META, 'wrepoch')
end
local serving, seq = advance(c, now, ttl_ms)
local pos = tonumber(redis.call('HGET', K_WQ, buyer))
if pos and create and pos <= serving then
  local at = admitted_at(pos)
  if not at or at + ttl_ms <= now then pos = nil end -- expired: back of the queue
end
if not pos then
  if not create then return { 'NONE' } end
  if c.pow > 0 and room_on(c, now) then
    if not solved_bits then return { 'CHALLENGE', c.pow } end
    if solved_bits < c.pow then return { 'EASY', c.pow } end
    if not redis.call('SET', KEYS[6], buyer, 'NX', 'PX', challenge_ttl) then return { 'USED' } end
  end
  pos = redis.call('HINCRBY', K_WR, 'seq', 1)
  redis.call('HSET', K_WQ, buyer, pos)
  local sec = math.floor(now / 1000)
  if num('awin') ~= sec then redis.call('HSET', K_WR, 'awin', sec, 'acnt', 0) end
  local arrivals = redis.call('HINCRBY', K_WR, 'acnt', 1)
  if c.mode == 'auto' and arrivals > c.thr then
    c.on_until = now + cooldown
    redis.call('HSET', K_META, 'wron_until', c.on_until)
  end
  serving, seq = advance(c, now, ttl_ms)
end
return place(c, buyer, pos, serving, seq, now, ttl_ms)
