-- sold_ordered.lua: an order marked by sold_ordering.lua ended; the account's count becomes
-- the one the order committed (if it sold) and the mark goes.
--
-- KEYS[1] sold  HASH  user -> SOLD seats; 'f:<user>' -> orders in flight; 'loaded' -> 1
-- ARGV[1] user id
-- ARGV[2] the account's SOLD seats once the order committed; -1 when it sold nothing
-- ARGV[3] ttl (ms)
--
-- Two orders of one account may end in either order: a count is raised, never lowered. A mark
-- lost with the hash (evicted meanwhile) is not taken below zero. Returns the count kept (-1
-- when there is none).

local sold = tonumber(ARGV[2])
local have = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '-1')
if sold > have then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  have = sold
end
local mark = 'f:' .. ARGV[1]
if tonumber(redis.call('HGET', KEYS[1], mark) or '0') > 1 then
  redis.call('HINCRBY', KEYS[1], mark, -1)
else
  redis.call('HDEL', KEYS[1], mark)
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return have
