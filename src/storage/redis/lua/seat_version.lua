-- seat_version.lua: counts one more published change of an area's seat map.
--
-- KEYS[1] version  STRING  the area's change counter
-- ARGV[1] ttl (ms): the counter outlives any sale; it is refreshed on every change
--
-- Returns the new version (1 for the first change).

local v = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return v
