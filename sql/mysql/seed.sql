-- MySQL dialect of sql/sqlite/seed.sql (same rows; dates from NOW()/CURDATE() in UTC).
-- Demo data with the original dump's shape and ids (one venue, 9 areas of 9x9 seats, 8 events,
-- 10 sessions, prices 3000/2000/1000 by floor, one status row per session and seat). Dates are
-- relative to the day of seeding: sessions 1-9 lie ahead and are on sale, session 10 is over.
-- Texts are our own. Accounts are added by the program, which hashes their passwords.

INSERT INTO venue (id, city, name, address) VALUES
  (1, 'New Taipei City', 'Zepp New Taipei', 'No. 3, Sec. 4, Xinbei Blvd., Xinzhuang Dist., New Taipei City');

INSERT INTO area (id, venue_id, name) VALUES
  (1, 1, '1樓特一區'), (2, 1, '1樓特二區'), (3, 1, '1樓特三區'),
  (4, 1, '2樓特一區'), (5, 1, '2樓特二區'), (6, 1, '2樓特三區'),
  (7, 1, '3樓特一區'), (8, 1, '3樓特二區'), (9, 1, '3樓特三區');

INSERT INTO event (id, title, singer, description, picture, detail_picture, video_link, on_sale) VALUES
  (1, 'Michael Jackson - Tribute Night', 'Michael Jackson',
   'An evening of the King of Pop''s catalogue, played by a twelve-piece band and a full dance crew.<br/>Doors open one hour before the show.<br/>Standing areas are not available for this session.',
   '1.png', '1-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (2, 'TWICE - World Tour Encore', 'TWICE',
   'The nine-member group returns to New Taipei with a new stage design and songs from every era.<br/>Light sticks are welcome; flash photography is not.',
   '2.png', '2-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (3, 'IU - Golden Hour Concert', 'IU',
   'Two nights of ballads and big band arrangements.<br/>Each night has its own set list.',
   '3.png', '3-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (4, 'Coldplay - Stadium Sounds Live', 'Coldplay',
   'A colourful night of anthems with wristband light shows for every seat.<br/>Please return wristbands at the exits.',
   '4.png', '4-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (5, 'LANY - Late Night Drive Tour', 'LANY',
   'Synth-pop under neon: the band plays its new record in full, then the favourites.',
   '5.png', '5-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (6, 'Alec Benjamin - Stories Acoustic', 'Alec Benjamin',
   'An intimate acoustic set of story songs, with a short Q&A after the encore.',
   '6.png', '6-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (7, 'Ariana Grande - Sweetener Nights', 'Ariana Grande',
   'Big vocals and a bigger stage: a night of hits with a live orchestra.',
   '7.png', '7-1.png', 'about:blank', NOW() - INTERVAL 1 DAY),
  (8, 'Anne-Marie - Friends Tour', 'Anne-Marie',
   'A high-energy pop show. This session has already taken place.',
   '8.png', '8-1.png', 'about:blank', '2021-06-01 04:00:00');

INSERT INTO session (id, event_id, time, venue_id, seat_picture) VALUES
  (1, 1, TIMESTAMP(CURDATE() + INTERVAL 60 DAY, '11:00:00'), 1, '1-seat.png'),
  (2, 2, TIMESTAMP(CURDATE() + INTERVAL 90 DAY, '11:00:00'), 1, '1-seat.png'),
  (3, 3, TIMESTAMP(CURDATE() + INTERVAL 100 DAY, '11:00:00'), 1, '1-seat.png'),
  (4, 3, TIMESTAMP(CURDATE() + INTERVAL 101 DAY, '11:00:00'), 1, '1-seat.png'),
  (5, 4, TIMESTAMP(CURDATE() + INTERVAL 120 DAY, '11:00:00'), 1, '1-seat.png'),
  (6, 4, TIMESTAMP(CURDATE() + INTERVAL 121 DAY, '11:00:00'), 1, '1-seat.png'),
  (7, 5, TIMESTAMP(CURDATE() + INTERVAL 140 DAY, '11:00:00'), 1, '1-seat.png'),
  (8, 6, TIMESTAMP(CURDATE() + INTERVAL 160 DAY, '11:00:00'), 1, '1-seat.png'),
  (9, 7, TIMESTAMP(CURDATE() + INTERVAL 180 DAY, '11:00:00'), 1, '1-seat.png'),
  (10, 8, TIMESTAMP(CURDATE() + INTERVAL -30 DAY, '11:00:00'), 1, '1-seat.png');

-- 729 seats: seat.id = (area-1)*81 + (row-1)*9 + column.
INSERT INTO seat (id, area_id, `row`, `column`)
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 9)
SELECT (a.x - 1) * 81 + (r.x - 1) * 9 + c.x, a.x, r.x, c.x
FROM n a, n r, n c ORDER BY 1;

-- price.id = (session-1)*9 + area; floor 1 costs 3000, floor 2 2000, floor 3 1000.
INSERT INTO price (id, session_id, area_id, price)
SELECT (s.id - 1) * 9 + a.id, s.id, a.id,
       CASE WHEN a.id <= 3 THEN 3000 WHEN a.id <= 6 THEN 2000 ELSE 1000 END
FROM session s, area a ORDER BY 1;

-- seat_status.id = (session-1)*729 + seat_id, every seat empty.
INSERT INTO seat_status (id, user_id, session_id, seat_id, status_id)
SELECT (s.id - 1) * 729 + st.id, NULL, s.id, st.id, 1
FROM session s, seat st ORDER BY 1;
