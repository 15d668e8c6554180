-- enter.lua: an account arrives at a session's waiting room (`check limit`).
--
-- KEYS[1] page    ZSET  user -> entry time (ms); order of entry is the original's page list
-- KEYS[2] queue   ZSET  user -> ticket from KEYS[4]; FIFO
-- KEYS[3] holder  HASH  user -> connection token holding the place
-- KEYS[4] seq     STRING ticket counter for the queue
-- ARGV[1] user id, ARGV[2] holder token, ARGV[3] now (ms), ARGV[4] page limit,
-- ARGV[5] idle lifetime (ms): every key of the room expires this long after its last arrival
--
-- Returns {'page'} when on the buying page (new or already there), or
-- {'queue', rank, base} when queued: rank is the 0-based queue index and base the entry time of
-- page[rank % limit] (the wait estimate's reference), or -1 when there is no such page place.
-- Arriving twice keeps the one place and makes the new connection its holder. O(log n).

local user, holder, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])

-- A room nobody arrives at for a whole idle lifetime is forgotten by Redis itself.
local function touch()
  for i = 1, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[5]) end
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
  touch()
  return {'queue', rank, base_for(rank)}
end

if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, user)
  redis.call('HSET', KEYS[3], user, holder)
  touch()
  return {'page'}
end

local ticket = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], ticket, user)
redis.call('HSET', KEYS[3], user, holder)
touch()
rank = redis.call('ZCARD', KEYS[2]) - 1
return {'queue', rank, base_for(rank)}
