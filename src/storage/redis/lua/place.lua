-- place.lua: where an account stands in a session's waiting room (the position query).
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- KEYS[2] queue   ZSET  user -> ticket; FIFO
-- ARGV[1] user id
--
-- Returns {'page'}, {'queue', rank} (0-based) or {'none'}. O(log n).

if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {'page'} end
local rank = redis.call('ZRANK', KEYS[2], ARGV[1])
if rank then return {'queue', rank} end
return {'none'}
