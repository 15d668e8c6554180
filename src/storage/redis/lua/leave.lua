-- leave.lua: an account leaves a session's waiting room (disconnect, purchase, crash cleanup).
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
-- ARGV[1] user id, ARGV[2] holder token ('' = whoever holds it), ARGV[3] now (ms),
-- ARGV[4] page limit, ARGV[5] 'prefix' to match any holder starting with ARGV[2] (the visits
-- of one crashed instance), anything else for an exact match, ARGV[6] idle lifetime (ms) of
-- the room's keys (a promotion may re-create the page key, which must expire too), ARGV[7]
-- people the page may hold before nobody more is admitted (the limit, which an operator may
-- have lowered below the page's size, or 0 while admissions are paused), ARGV[8] admissions
-- remembered in KEYS[5]
--
-- Returns {'none'} when nothing was removed (not inside, or held by another connection): then
-- nobody is promoted, unlike the original. Otherwise
--   {'queue', rank, n, t1..tn, m1, i1..mk, ik}  left from queue index `rank`,
--   {'page', promoted, n, t1..tn, m1, i1..mk, ik}  left the page; `promoted` ('' if none) took
-- the place, where t1..tn are the page's entry times in page order (the estimate's references)
-- and m the queue members told every step whose position improved, each with its new index i
-- (none when nobody was promoted). O(log n) to leave and promote, plus O(log n) per member
-- listed.

local user, holder, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

local function holds()
  if holder == '' then return true end
  local current = redis.call('HGET', KEYS[3], user)
  if not current then return false end
  if ARGV[5] == 'prefix' then return string.sub(current, 1, #holder) == holder end
  return current == holder
end


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

local function answer(kind, head, from)
  local times = redis.call('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
  local out = {kind, head, #times / 2}
  for i = 2, #times, 2 do out[#out + 1] = times[i] end
  if from then
    for _, v in ipairs(told_from(from)) do out[#out + 1] = v end
  end
  return out
end

local rank = redis.call('ZRANK', KEYS[2], user)
if rank then
  if not holds() then return {'none'} end
  redis.call('ZREM', KEYS[2], user)
  redis.call('HDEL', KEYS[3], user)
  redis.call('HDEL', KEYS[4], user)
  return answer('queue', rank, rank)
end

if not redis.call('ZSCORE', KEYS[1], user) or not holds() then return {'none'} end
redis.call('ZREM', KEYS[1], user)
redis.call('HDEL', KEYS[3], user)
local admits = tonumber(redis.call('HGET', KEYS[6], 'admits') or ARGV[7])
if redis.call('ZCARD', KEYS[1]) >= admits then return answer('page', '', nil) end
local head = redis.call('ZPOPMIN', KEYS[2])
if not head[1] then return answer('page', '', nil) end
redis.call('ZADD', KEYS[1], now, head[1])
mark(head[1], now)
local joined = tonumber(redis.call('HGET', KEYS[4], head[1])) or now
redis.call('HDEL', KEYS[4], head[1])
redis.call('LPUSH', KEYS[5], now .. ':' .. math.max(0, now - joined))
redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[8]) - 1)
for _, i in ipairs({1, 4, 5, 8}) do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return answer('page', head[1], 0)
