-- sold_ordering.lua: an order of the account is about to be written; its count is unknown
-- (readers ask the database) until sold_ordered.lua.
--
-- KEYS[1] sold  HASH  user -> SOLD seats; 'f:<user>' -> orders in flight; 'loaded' -> 1
-- ARGV[1] user id
-- ARGV[2] ttl (ms)
--
-- Returns the account's orders in flight, this one included.

local n = redis.call('HINCRBY', KEYS[1], 'f:' .. ARGV[1], 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return n
