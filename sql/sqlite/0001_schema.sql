-- 0001: the original TicketClub schema (dump.sql) in SQLite's dialect, plus the guards the
-- original lacked: one status row per (session, seat), unique seat positions and prices, and an
-- index for the per-account ticket count. Reserved words are backtick-quoted, which SQLite
-- accepts too, so queries shared with MySQL read the same.

CREATE TABLE venue (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  city TEXT NOT NULL,
  name TEXT NOT NULL,
  address TEXT NOT NULL
);

CREATE TABLE area (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  venue_id INTEGER NOT NULL REFERENCES venue(id) ON DELETE CASCADE,
  name TEXT NOT NULL
);

CREATE TABLE event (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  title TEXT NOT NULL,
  singer TEXT NOT NULL,
  description TEXT NOT NULL,
  picture TEXT NOT NULL,
  detail_picture TEXT NOT NULL,
  video_link TEXT NOT NULL,
  on_sale TEXT NULL
);

CREATE TABLE session (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id INTEGER NOT NULL REFERENCES event(id) ON DELETE CASCADE,
  time TEXT NOT NULL,
  venue_id INTEGER NOT NULL REFERENCES venue(id),
  seat_picture TEXT NOT NULL
);

CREATE TABLE price (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER NOT NULL REFERENCES session(id) ON DELETE CASCADE,
  area_id INTEGER NOT NULL REFERENCES area(id),
  price INTEGER NOT NULL,
  UNIQUE (session_id, area_id)
);

CREATE TABLE seat (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  area_id INTEGER NOT NULL REFERENCES area(id) ON DELETE CASCADE,
  `row` INTEGER NOT NULL,
  `column` INTEGER NOT NULL,
  UNIQUE (area_id, `row`, `column`)
);

CREATE TABLE `user` (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  email TEXT NOT NULL UNIQUE,
  password TEXT NOT NULL
);

CREATE TABLE seat_status (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NULL REFERENCES `user`(id),
  session_id INTEGER NOT NULL REFERENCES session(id) ON DELETE CASCADE,
  seat_id INTEGER NOT NULL REFERENCES seat(id),
  status_id INTEGER NOT NULL,
  UNIQUE (session_id, seat_id)
);
CREATE INDEX seat_status_owner ON seat_status (user_id, session_id);

CREATE TABLE `order` (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES `user`(id),
  session_id INTEGER NOT NULL REFERENCES session(id),
  payment_status_id TEXT NOT NULL,
  total INTEGER NOT NULL,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX order_user ON `order` (user_id);

CREATE TABLE order_detail (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  order_id INTEGER NOT NULL REFERENCES `order`(id) ON DELETE CASCADE,
  seat_id INTEGER NOT NULL REFERENCES seat(id),
  price INTEGER NOT NULL
);
CREATE INDEX order_detail_order ON order_detail (order_id);
