-- arq's job start for a batch of job ids in one step (arq itself: per job WATCH, EXISTS,
-- ZSCORE, then MULTI/PSETEX/EXEC, four round trips): a job still queued and not running
-- elsewhere gets its in-progress key, and its score is returned; any other gets ''.
-- KEYS: queue, then one in-progress key per job. ARGV: in-progress ms, then the job ids.
local started = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('PSETEX', KEYS[i], ARGV[1], '1')
    started[i - 1] = score
  else
    started[i - 1] = ''
  end
end
return started
