
-- enter.lua: an account arrives at a session's waiting room (`check limit`); run after
-- enter_body.lua (KEYS there).
--
-- ARGV[1] user id, ARGV[2] holder token, ARGV[3] now (ms), ARGV[4] page limit (the estimates'),
-- ARGV[5] idle lifetime (ms): every key of the room expires this long after its last arrival,
-- ARGV[6] people the page may hold before arrivals queue: the limit, or 0 while an operator
-- paused admissions, ARGV[7] admissions remembered in KEYS[6], ARGV[8] 'told' when the entrant
-- is told every step forward (anything else: they ask where they stand)
--
-- Returns enter_one's answer. O(log n).

local c = {
  limit = tonumber(ARGV[4]),
  admits = enter_admits(ARGV[6]),
  recent = tonumber(ARGV[7]),
}
local answer = enter_one(c, ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[8])
enter_touch(ARGV[5])
return answer
