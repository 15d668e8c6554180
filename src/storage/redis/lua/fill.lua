-- fill.lua: admits from a session's queue while its page is under the number it may hold (an
-- operator raised the limit or resumed admissions), in FIFO order.
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- KEYS[2] queue   ZSET  user -> ticket; FIFO
-- KEYS[3] joined  HASH  user -> when they joined the queue (ms)
-- KEYS[4] admits  LIST  'at:waited' of the latest admissions, newest first
-- KEYS[5] rules   HASH  'admits' -> people the page may hold, as an operator last set it (read
--                     here so a change is in force on every instance at once; absent: ARGV's)
-- KEYS[6] told    ZSET  user -> queue ticket of those told every step forward (enter.lua)
-- KEYS[7] unannounced HASH user -> when admitted, until `admitted` was sent (askers only)
-- ARGV[1] now (ms), ARGV[2] people the page may hold (0 while paused), ARGV[3] page limit (the
-- estimates'), ARGV[4] idle lifetime (ms) of the room's keys, ARGV[5] admissions remembered
--
-- Returns {p, y1..yp, n, t1..tn, m1, i1..mk, ik}: p admitted users (in queue order), the page's
-- entry times after the change (the estimates' references), and the remaining queue's members
-- told every step, each with its index.
-- O(p log n) plus O(log n) per member listed.

local now, limit = tonumber(ARGV[1]), tonumber(ARGV[3])

-- The people queued from index `from` on who are told every step (KEYS[6]), as (user, index)
-- pairs in queue order. Entries no longer queued (admitted, gone) are dropped on the way.
-- O(k log n) for k such people: a line of app clients alone costs nothing here.
local function told_from(from)
  local out = {}
  local first = redis.call('ZRANGE', KEYS[2], from, from, 'WITHSCORES')
  if not first[2] then return out end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[6], first[2], '+inf')) do
    local rank = redis.call('ZRANK', KEYS[2], member)
    if rank then
      out[#out + 1] = member
      out[#out + 1] = rank
    else
      redis.call('ZREM', KEYS[6], member)
    end
  end
  return out
end

-- An admitted person who asks where they stand (not listed in KEYS[6]) is marked in
-- KEYS[7] until the instance that admitted them has said `admitted`: if it dies in between,
-- whichever instance holds their connection says it instead. A counter's entry is dropped.
local function mark(user, at)
  if redis.call('ZREM', KEYS[6], user) == 0 then redis.call('HSET', KEYS[7], user, at) end
end

local admits = tonumber(redis.call('HGET', KEYS[5], 'admits') or ARGV[2])

local free = admits - redis.call('ZCARD', KEYS[1])
if free <= 0 or redis.call('ZCARD', KEYS[2]) == 0 then return {0, 0} end

local out = {}
local popped = redis.call('ZPOPMIN', KEYS[2], free)
out[1] = #popped / 2
for i = 1, #popped, 2 do
  redis.call('ZADD', KEYS[1], now, popped[i])
  mark(popped[i], now)
  local joined = tonumber(redis.call('HGET', KEYS[3], popped[i])) or now
  redis.call('HDEL', KEYS[3], popped[i])
  redis.call('LPUSH', KEYS[4], now .. ':' .. math.max(0, now - joined))
  out[#out + 1] = popped[i]
end
redis.call('LTRIM', KEYS[4], 0, tonumber(ARGV[5]) - 1)
for _, i in ipairs({1, 3, 4, 7}) do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end

local times = redis.call('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
out[#out + 1] = #times / 2
for i = 2, #times, 2 do out[#out + 1] = times[i] end
for _, v in ipairs(told_from(0)) do out[#out + 1] = v end
return out
