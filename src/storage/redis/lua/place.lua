-- place.lua: where an account stands in a session's waiting room (the position query), and,
-- when the session's sold-count tally is named, what it holds for the account: the legacy
-- validation's two questions in one exchange (issue 14).
--
-- KEYS[1] page    ZSET  user -> entry time (ms)
-- KEYS[2] queue   ZSET  user -> ticket; FIFO
-- KEYS[3] sold    HASH  (optional) the session's sold-count tally (sold_*.lua)
-- ARGV[1] user id; with KEYS[3], ARGV[2..4] the tally's fields that answer for the user (named
-- by the caller, `redis/sold.rs`, so the tally's layout is spelled in one place)
--
-- Returns {'page'}, {'queue', rank} (0-based) or {'none'}; with KEYS[3], always
-- {kind, rank or -1, v2, v3, v4} where v are the fields' values (nil when absent). O(log n).

local kind, rank = 'none', -1
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  kind = 'page'
else
  local r = redis.call('ZRANK', KEYS[2], ARGV[1])
  if r then kind, rank = 'queue', r end
end
if not KEYS[3] then
  if kind == 'queue' then return {kind, rank} end
  return {kind}
end
local tally = redis.call('HMGET', KEYS[3], ARGV[2], ARGV[3], ARGV[4])
return {kind, rank, tally[1], tally[2], tally[3]}
