-- fence.lua: a peer declares an instance dead before reaping its visits.
--
-- KEYS[1] lease   STRING (with a TTL) the instance's lease
-- KEYS[2] fence   STRING the fence; renew.lua refuses to renew a fenced lease
-- ARGV[1] fence lifetime (ms): longer than any lease, so the old id is never renewed again
--
-- Returns 1 when the lease is missing and the instance is now fenced (reap it), 0 when the
-- lease exists again (the instance renewed at the last moment: it is alive, leave it alone).

if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1
