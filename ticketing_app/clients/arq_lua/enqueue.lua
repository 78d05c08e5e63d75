-- arq's enqueue in one step (arq itself: WATCH, EXISTS, then MULTI/PSETEX/ZADD/EXEC, three
-- round trips): a job id that is queued, running or has a result is not added again.
-- KEYS: job key, result key, queue. ARGV: expiry ms, serialized job, job id, score.
-- Returns 1 when enqueued, 0 when the id was already there.
if redis.call('EXISTS', KEYS[1], KEYS[2]) > 0 then
  return 0
end
redis.call('PSETEX', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
