-- leave_early.lua: withdraw an early entry (fair start) before the draw.
--
-- KEYS[1] early  HASH user -> holder token of the connection that joined early
-- ARGV[1] user id, ARGV[2] holder token, or '' for any holder
--
-- Returns 1 when the entry was withdrawn, 0 when there was none (or another connection holds
-- it: a newer connection of the same account must not lose the entry to an older one's drop).

local held = redis.call('HGET', KEYS[1], ARGV[1])
if not held then return 0 end
if ARGV[2] ~= '' and held ~= ARGV[2] then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
return 1
