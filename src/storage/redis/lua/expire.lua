-- expire.lua: ends every page visit of a session older than the window plus grace, and fills
-- the freed places from the queue in FIFO order.
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- KEYS[2] queue   ZSET  user -> ticket; FIFO
-- KEYS[3] holder  HASH  user -> connection token
-- KEYS[4] joined  HASH  user -> when they joined the queue (ms)
-- KEYS[5] admits  LIST  'at:waited' of the latest admissions, newest first
-- KEYS[6] rules   HASH  'admits' -> people the page may hold, as an operator last set it (read
--                     here so a change is in force on every instance at once; absent: ARGV's)
-- KEYS[7] told    ZSET  user -> queue ticket of those told every step forward (enter.lua)
-- KEYS[8] unannounced HASH user -> when admitted, until `admitted` was sent (askers only)
-- ARGV[1] now (ms), ARGV[2] visit lifetime (ms), ARGV[3] page limit, ARGV[4] idle lifetime (ms)
-- of the room's keys (promotions may re-create the page key, which must expire too), ARGV[5]
-- people the page may hold before nobody more is admitted (the limit, or 0 while an operator
-- paused admissions), ARGV[6] admissions remembered in KEYS[5]
--
-- Returns {e, x1..xe, p, y1..yp, n, t1..tn, m1, i1..mk, ik}: e expired users (oldest first), p
-- promoted users (in queue order), the page's entry times after the change, and the remaining
-- queue's members told every step, each with its index.
-- Returns {0, 0, 0} when nothing expired and {-1} when the room is empty (the caller may forget
-- the session).

local now, lifetime, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])

-- The people queued from index `from` on who are told every step (KEYS[7]), as (user, index)
-- pairs in queue order. Entries no longer queued (admitted, gone) are dropped on the way.
-- O(k log n) for k such people: a line of app clients alone costs nothing here.
local function told_from(from)
  local out = {}
  local first = redis.call('ZRANGE', KEYS[2], from, from, 'WITHSCORES')
  if not first[2] then return out end
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[7], first[2], '+inf')) do
    local rank = redis.call('ZRANK', KEYS[2], member)
    if rank then
      out[#out + 1] = member
      out[#out + 1] = rank
    else
      redis.call('ZREM', KEYS[7], member)
    end
  end
  return out
end

-- An admitted person who asks where they stand (not listed in KEYS[7]) is marked in
-- KEYS[8] until the instance that admitted them has said `admitted`: if it dies in between,
-- whichever instance holds their connection says it instead. A counter's entry is dropped.
local function mark(user, at)
  if redis.call('ZREM', KEYS[7], user) == 0 then redis.call('HSET', KEYS[8], user, at) end
end

local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - lifetime)
if #expired == 0 then
  if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) == 0 then return {-1} end
  return {0, 0, 0}
end

local out = {#expired}
for _, user in ipairs(expired) do
  redis.call('ZREM', KEYS[1], user)
  redis.call('HDEL', KEYS[3], user)
  out[#out + 1] = user
end

local admits = tonumber(redis.call('HGET', KEYS[6], 'admits') or ARGV[5])
local free = admits - redis.call('ZCARD', KEYS[1])
local promoted = {}
if free > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], free)
  for i = 1, #popped, 2 do
    redis.call('ZADD', KEYS[1], now, popped[i])
    mark(popped[i], now)
    promoted[#promoted + 1] = popped[i]
    local joined = tonumber(redis.call('HGET', KEYS[4], popped[i])) or now
    redis.call('HDEL', KEYS[4], popped[i])
    redis.call('LPUSH', KEYS[5], now .. ':' .. math.max(0, now - joined))
  end
end
if #promoted > 0 then
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[6]) - 1)
  for _, i in ipairs({1, 4, 5, 8}) do redis.call('PEXPIRE', KEYS[i], ARGV[4]) end
end
out[#out + 1] = #promoted
for _, user in ipairs(promoted) do out[#out + 1] = user end

local times = redis.call('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
out[#out + 1] = #times / 2
for i = 2, #times, 2 do out[#out + 1] = times[i] end
for _, v in ipairs(told_from(0)) do out[#out + 1] = v end
return out
