-- sold_load.lua: copies a database reading of a session's sold counts into the tally, and
-- (on the reading's last part) marks the session loaded: an account without a count has none.
--
-- KEYS[1] sold  HASH  user -> SOLD seats; 'f:<user>' -> orders in flight; 'loaded' -> 1
-- ARGV[1] ttl (ms): the hash outlives its last write by this much
-- ARGV[2] '1' on the reading's last part (marks the session loaded), '0' before
-- ARGV[3..] user, count pairs
--
-- Counts only grow, and the reading may be older than an order written since: a count is
-- raised, never lowered. Returns how many counts were raised.

local raised = 0
for i = 3, #ARGV, 2 do
  local have = tonumber(redis.call('HGET', KEYS[1], ARGV[i]) or '-1')
  if tonumber(ARGV[i + 1]) > have then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
    raised = raised + 1
  end
end
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], 'loaded', '1')
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return raised
