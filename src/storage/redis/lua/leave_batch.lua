-- leave_batch.lua: several accounts leave one session's waiting room together (every leave an
-- instance received while its previous batch was on the wire).
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
-- ARGV[1] now (ms), ARGV[2] page limit, ARGV[3] idle lifetime (ms) of the room's keys (a
-- promotion may re-create the page key, which must expire too), ARGV[4] people the page may
-- hold before nobody more is admitted (the limit, which an operator may have lowered below the
-- page's size, or 0 while admissions are paused), ARGV[5] admissions remembered in KEYS[5],
-- then pairs from ARGV[6] on: user id, holder token ('' = whoever holds it).
--
-- Every leaver is removed before anyone is promoted, so nobody leaving in the batch is admitted
-- (their sockets are gone: they could neither hear nor use the place). Then one person from
-- the head of the queue per page leaver takes a page place, as a single leave does, while the
-- page holds fewer than it may (leave.lua's rule: a lowered limit or a pause admits nobody).
--
-- Returns {n, o1..on, k, p1..pk, m, t1..tm, start, s1..}: o = each pair's outcome in order
-- ('none' when nothing was removed: not inside, held by another connection, or the same account
-- already left earlier in the batch; 'page'; or the 0-based queue index it left from, counted
-- before any removal), p = the promoted in order, t = the page's entry times in page order (the
-- estimate's references), and s = the members told every step of the queue as it stands now
-- from index `start` on, each followed by its index: everyone listed whose position improved
-- (start = -1 and no s when nobody moved).
-- O(batch * log n) plus O(log n) per member listed.

local now, limit = tonumber(ARGV[1]), tonumber(ARGV[2])

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

local outcomes, gone, leavers, queue_ranks, page_left = {}, {}, {}, {}, 0

for i = 6, #ARGV - 1, 2 do
  local user, holder = ARGV[i], ARGV[i + 1]
  local outcome = 'none'
  if not gone[user] then
    local holds = holder == '' or redis.call('HGET', KEYS[3], user) == holder
    local rank = redis.call('ZRANK', KEYS[2], user)
    if rank then
      if holds then
        outcome = rank
        queue_ranks[#queue_ranks + 1] = rank
        gone[user] = true
        leavers[#leavers + 1] = user
      end
    elseif holds and redis.call('ZSCORE', KEYS[1], user) then
      outcome = 'page'
      page_left = page_left + 1
      gone[user] = true
      leavers[#leavers + 1] = user
    end
  end
  outcomes[#outcomes + 1] = outcome
end

for _, user in ipairs(leavers) do
  redis.call('ZREM', KEYS[2], user)
  redis.call('ZREM', KEYS[1], user)
  redis.call('HDEL', KEYS[3], user)
  redis.call('HDEL', KEYS[4], user)
end

local promoted = {}
local admits = tonumber(redis.call('HGET', KEYS[6], 'admits') or ARGV[4])
local room = math.min(page_left, admits - redis.call('ZCARD', KEYS[1]))
if room > 0 then
  local heads = redis.call('ZPOPMIN', KEYS[2], room)
  for j = 1, #heads, 2 do
    local head = heads[j]
    promoted[#promoted + 1] = head
    redis.call('ZADD', KEYS[1], now, head)
    mark(head, now)
    local joined = tonumber(redis.call('HGET', KEYS[4], head)) or now
    redis.call('HDEL', KEYS[4], head)
    redis.call('LPUSH', KEYS[5], now .. ':' .. math.max(0, now - joined))
  end
  if #promoted > 0 then
    redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[5]) - 1)
    for _, i in ipairs({1, 4, 5, 8}) do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
  end
end

local start = -1
if #promoted > 0 then
  start = 0
else
  for _, rank in ipairs(queue_ranks) do
    if start < 0 or rank < start then start = rank end
  end
end

local out = {#outcomes}
for _, o in ipairs(outcomes) do out[#out + 1] = o end
out[#out + 1] = #promoted
for _, p in ipairs(promoted) do out[#out + 1] = p end
local times = redis.call('ZRANGE', KEYS[1], 0, limit - 1, 'WITHSCORES')
out[#out + 1] = #times / 2
for i = 2, #times, 2 do out[#out + 1] = times[i] end
out[#out + 1] = start
if start >= 0 then
  for _, v in ipairs(told_from(start)) do out[#out + 1] = v end
end
return out
