-- enter.lua: an account arrives at a session's waiting room (`check limit`).
--
-- KEYS[1] page    ZSET  user -> entry time (ms); order of entry is the original's page list
-- KEYS[2] queue   ZSET  user -> ticket from KEYS[4]; FIFO
-- KEYS[3] holder  HASH  user -> connection token holding the place
-- KEYS[4] seq     STRING ticket counter for the queue
-- KEYS[5] joined  HASH  user -> when they joined the queue (ms), for the operator's wait figures
-- KEYS[6] admits  LIST  'at:waited' of the latest admissions onto the page, newest first
-- KEYS[7] rules   HASH  'admits' -> people the page may hold, as an operator last set it (read
--                     here so a change is in force on every instance at once; absent: ARGV's)
-- KEYS[8] told    ZSET  user -> queue ticket of those told every step forward (the legacy
--                     protocol): the only people the departure scripts list
-- ARGV[1] user id, ARGV[2] holder token, ARGV[3] now (ms), ARGV[4] page limit (the estimates'),
-- ARGV[5] idle lifetime (ms): every key of the room expires this long after its last arrival,
-- ARGV[6] people the page may hold before arrivals queue: the limit, or 0 while an operator
-- paused admissions, ARGV[7] admissions remembered in KEYS[6], ARGV[8] 'told' when the entrant
-- is told every step forward (anything else: they ask where they stand)
--
-- Returns {'page'} when on the buying page (new or already there), or
-- {'queue', rank, base} when queued: rank is the 0-based queue index and base the entry time of
-- page[rank % limit] (the wait estimate's reference), or -1 when there is no such page place.
-- Arriving twice keeps the one place and makes the new connection its holder. O(log n).

local user, holder, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local admits = tonumber(redis.call('HGET', KEYS[7], 'admits') or ARGV[6])

-- A room nobody arrives at for a whole idle lifetime is forgotten by Redis itself.
local function touch()
  for _, i in ipairs({1, 2, 3, 4, 5, 6, 8}) do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
end

-- Lists the queued entrant among those told each step, or not, as this arrival says.
local function tell(ticket)
  if ARGV[8] == 'told' then
    redis.call('ZADD', KEYS[8], ticket, user)
  else
    redis.call('ZREM', KEYS[8], user)
  end
end

local function base_for(rank)
  local at = redis.call('ZRANGE', KEYS[1], rank % limit, rank % limit, 'WITHSCORES')
  if at[2] then return at[2] end
  return -1
end

if redis.call('ZSCORE', KEYS[1], user) then
  redis.call('HSET', KEYS[3], user, holder)
  touch()
  return {'page'}
end

local rank = redis.call('ZRANK', KEYS[2], user)
if rank then
  redis.call('HSET', KEYS[3], user, holder)
  tell(redis.call('ZSCORE', KEYS[2], user))
  touch()
  return {'queue', rank, base_for(rank)}
end

if redis.call('ZCARD', KEYS[1]) < admits then
  redis.call('ZADD', KEYS[1], now, user)
  redis.call('HSET', KEYS[3], user, holder)
  redis.call('LPUSH', KEYS[6], now .. ':0')
  redis.call('LTRIM', KEYS[6], 0, tonumber(ARGV[7]) - 1)
  touch()
  return {'page'}
end

local ticket = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], ticket, user)
redis.call('HSET', KEYS[3], user, holder)
redis.call('HSET', KEYS[5], user, now)
tell(ticket)
touch()
rank = redis.call('ZCARD', KEYS[2]) - 1
return {'queue', rank, base_for(rank)}
