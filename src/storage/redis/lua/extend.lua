-- extend.lua: moves every page visitor's entry time, and so their purchase deadline, later
-- (an operator gave everyone on the buying page more time).
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- ARGV[1] milliseconds to add
--
-- Returns {u1, t1, u2, t2, ...}: each page visitor with their new entry time. O(n log n).

local page = redis.call('ZRANGE', KEYS[1], 0, -1)
local out = {}
for _, user in ipairs(page) do
  local since = redis.call('ZINCRBY', KEYS[1], ARGV[1], user)
  out[#out + 1] = user
  out[#out + 1] = since
end
return out
