-- places.lua: where each of several accounts stands in one session's waiting room: the
-- `position` pushes of one instance's own queued people, asked in one exchange per session
-- instead of one per person.
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- KEYS[2] queue   ZSET  user -> ticket; FIFO
-- ARGV    user ids
--
-- Returns one integer per user, in ARGV's order: the 0-based queue rank, -1 on the page, -2 not
-- inside. O(k log n) for k users.

local out = {}
for i, user in ipairs(ARGV) do
  local rank = redis.call('ZRANK', KEYS[2], user)
  if rank then
    out[i] = rank
  elseif redis.call('ZSCORE', KEYS[1], user) then
    out[i] = -1
  else
    out[i] = -2
  end
end
return out
