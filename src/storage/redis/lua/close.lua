-- close.lua: empties a session's queue (an operator ended the sale); page visitors keep their
-- places and windows.
--
-- KEYS[1] queue   ZSET  user -> ticket; FIFO
-- KEYS[2] holder  HASH  user -> connection token
-- KEYS[3] joined  HASH  user -> when they joined the queue (ms)
--
-- Returns the users who were queued, in queue order. O(n).

local queued = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, user in ipairs(queued) do redis.call('HDEL', KEYS[2], user) end
redis.call('DEL', KEYS[1], KEYS[3])
return queued
