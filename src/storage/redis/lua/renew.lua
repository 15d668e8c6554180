-- renew.lua: an instance renews its lease, unless a peer fenced it.
--
-- KEYS[1] lease   STRING (with a TTL) the instance's lease; its value is the renewal time
-- KEYS[2] fence   STRING set by fence.lua when a peer declared this instance dead
-- ARGV[1] now (ms), ARGV[2] lease lifetime (ms)
--
-- Returns 1 when renewed, 0 when fenced: the peers are ending (or ended) this instance's
-- visits, and it must take a new id instead of renewing this one.

if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
