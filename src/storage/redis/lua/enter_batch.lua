
-- enter_batch.lua: several accounts arrive at one session's waiting room together (every
-- arrival an instance received while its previous batch for the session was on the wire), in
-- the order given, each exactly as enter.lua would place it; run after enter_body.lua (KEYS
-- there).
--
-- ARGV[1] page limit (the estimates'), ARGV[2] idle lifetime (ms) of the room's keys, ARGV[3]
-- people the page may hold before arrivals queue (the limit, or 0 while paused), ARGV[4]
-- admissions remembered in KEYS[6], then quadruples from ARGV[5] on: user id, holder token,
-- now (ms), 'told' or anything else (as enter.lua's ARGV[8]).
--
-- Returns {kind1, rank1, base1, kind2, ...}: per arrival in order, 'page' or 'queue' with
-- enter_one's rank and base (-1 and -1 for 'page'). O(batch * log n).

local c = {
  limit = tonumber(ARGV[1]),
  admits = enter_admits(ARGV[3]),
  recent = tonumber(ARGV[4]),
}
local out = {}
for i = 5, #ARGV - 3, 4 do
  local answer = enter_one(c, ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), ARGV[i + 3])
  out[#out + 1] = answer[1]
  out[#out + 1] = answer[2] or -1
  out[#out + 1] = answer[3] or -1
end
enter_touch(ARGV[2])
return out
