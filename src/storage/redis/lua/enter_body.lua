-- enter_body.lua: one account's arrival at a session's waiting room, shared by enter.lua (one
-- arrival) and enter_batch.lua (every arrival an instance received while its previous batch for
-- the session was on the wire), which are each this file followed by their own few lines, so
-- the two cannot drift. Defines functions only; the scripts call them.
--
-- KEYS[1] page    ZSET  user -> entry time (ms); order of entry is the original's page list
-- KEYS[2] queue   ZSET  user -> ticket from KEYS[4]; FIFO
-- KEYS[3] holder  HASH  user -> connection token holding the place
-- KEYS[4] seq     STRING ticket counter for the queue
-- KEYS[5] joined  HASH  user -> when they joined the queue (ms), for the operator's wait figures
-- KEYS[6] admits  LIST  'at:waited' of the latest admissions onto the page, newest first
-- KEYS[7] rules   HASH  'admits' -> people the page may hold, as an operator last set it (read
--                     here so a change is in force on every instance at once; absent: the
--                     caller's)
-- KEYS[8] told    ZSET  user -> queue ticket of those told every step forward (the legacy
--                     protocol): the only people the departure scripts list
--
-- The room `c` an arrival is made in: c.limit the page limit (the estimates'), c.admits the
-- people the page may hold before arrivals queue (the limit, or 0 while an operator paused
-- admissions), c.recent the admissions remembered in KEYS[6].

-- The page's people as the caller last set them, unless an operator's count is shared.
local function enter_admits(default)
  return tonumber(redis.call('HGET', KEYS[7], 'admits') or default)
end

-- A room nobody arrives at for a whole idle lifetime is forgotten by Redis itself.
local function enter_touch(ttl)
  for _, i in ipairs({1, 2, 3, 4, 5, 6, 8}) do redis.call('PEXPIRE', KEYS[i], ttl) end
end

-- Lists the queued entrant among those told each step, or not, as `told` says.
local function enter_tell(user, ticket, told)
  if told == 'told' then
    redis.call('ZADD', KEYS[8], ticket, user)
  else
    redis.call('ZREM', KEYS[8], user)
  end
end

-- The entry time of page[rank % limit] (the wait estimate's reference), or -1.
local function enter_base(rank, limit)
  local at = redis.call('ZRANGE', KEYS[1], rank % limit, rank % limit, 'WITHSCORES')
  if at[2] then return at[2] end
  return -1
end

-- `user` arrives at `now` through connection `holder`, told every step when `told` is 'told'.
-- Returns {'page'} when on the buying page (new or already there), or {'queue', rank, base}
-- when queued (rank: 0-based queue index; base: enter_base's). Arriving twice keeps the one
-- place and makes the new connection its holder. The caller touches the keys. O(log n).
local function enter_one(c, user, holder, now, told)
  if redis.call('ZSCORE', KEYS[1], user) then
    redis.call('HSET', KEYS[3], user, holder)
    return {'page'}
  end

  local rank = redis.call('ZRANK', KEYS[2], user)
  if rank then
    redis.call('HSET', KEYS[3], user, holder)
    enter_tell(user, redis.call('ZSCORE', KEYS[2], user), told)
    return {'queue', rank, enter_base(rank, c.limit)}
  end

  if redis.call('ZCARD', KEYS[1]) < c.admits then
    redis.call('ZADD', KEYS[1], now, user)
    redis.call('HSET', KEYS[3], user, holder)
    redis.call('LPUSH', KEYS[6], now .. ':0')
    redis.call('LTRIM', KEYS[6], 0, c.recent - 1)
    return {'page'}
  end

  local ticket = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], ticket, user)
  redis.call('HSET', KEYS[3], user, holder)
  redis.call('HSET', KEYS[5], user, now)
  enter_tell(user, ticket, told)
  rank = redis.call('ZCARD', KEYS[2]) - 1
  return {'queue', rank, enter_base(rank, c.limit)}
end
