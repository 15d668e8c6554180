-- 0002: seat holds carry a deadline (ms since the epoch). SELECTED and LOCKED seats whose
-- deadline passed are freed by any instance's sweeper, so a crashed instance or a lost waiting
-- room can never keep a seat off sale for longer than one purchase window.
ALTER TABLE seat_status ADD COLUMN hold_until INTEGER NULL;
CREATE INDEX seat_status_hold ON seat_status (hold_until);
