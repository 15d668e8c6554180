-- 0001: the original TicketClub schema (dump.sql) for MySQL 8 / MariaDB 10.11, utf8mb4, InnoDB,
-- plus the guards the original lacked: one status row per (session, seat), unique seat
-- positions and prices, and indexes for the per-account ticket count and order history.
-- Plain MySQL syntax only (no MariaDB-only SQL), so both servers take it.

CREATE TABLE venue (
  id INT NOT NULL AUTO_INCREMENT,
  city VARCHAR(30) NOT NULL,
  name VARCHAR(30) NOT NULL,
  address VARCHAR(150) NOT NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE area (
  id INT NOT NULL AUTO_INCREMENT,
  venue_id INT NOT NULL,
  name VARCHAR(30) NOT NULL,
  PRIMARY KEY (id),
  CONSTRAINT area_venue FOREIGN KEY (venue_id) REFERENCES venue (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE event (
  id INT NOT NULL AUTO_INCREMENT,
  title VARCHAR(60) NOT NULL,
  singer VARCHAR(60) NOT NULL,
  description VARCHAR(3000) NOT NULL,
  picture VARCHAR(30) NOT NULL,
  detail_picture VARCHAR(30) NOT NULL,
  video_link VARCHAR(200) NOT NULL,
  on_sale DATETIME NULL,
  PRIMARY KEY (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE session (
  id INT NOT NULL AUTO_INCREMENT,
  event_id INT NOT NULL,
  time DATETIME NOT NULL,
  venue_id INT NOT NULL,
  seat_picture VARCHAR(30) NOT NULL,
  PRIMARY KEY (id),
  KEY session_event (event_id, time),
  CONSTRAINT session_event_fk FOREIGN KEY (event_id) REFERENCES event (id) ON DELETE CASCADE,
  CONSTRAINT session_venue_fk FOREIGN KEY (venue_id) REFERENCES venue (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE price (
  id INT NOT NULL AUTO_INCREMENT,
  session_id INT NOT NULL,
  area_id INT NOT NULL,
  price INT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY price_session_area (session_id, area_id),
  CONSTRAINT price_session_fk FOREIGN KEY (session_id) REFERENCES session (id) ON DELETE CASCADE,
  CONSTRAINT price_area_fk FOREIGN KEY (area_id) REFERENCES area (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE seat (
  id INT NOT NULL AUTO_INCREMENT,
  area_id INT NOT NULL,
  `row` INT NOT NULL,
  `column` INT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY seat_position (area_id, `row`, `column`),
  CONSTRAINT seat_area_fk FOREIGN KEY (area_id) REFERENCES area (id) ON DELETE CASCADE
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE `user` (
  id INT NOT NULL AUTO_INCREMENT,
  name VARCHAR(60) NOT NULL,
  email VARCHAR(255) NOT NULL,
  password CHAR(60) NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY email_UNIQUE (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE seat_status (
  id INT NOT NULL AUTO_INCREMENT,
  user_id INT NULL,
  session_id INT NOT NULL,
  seat_id INT NOT NULL,
  status_id INT NOT NULL,
  PRIMARY KEY (id),
  UNIQUE KEY seat_status_session_seat (session_id, seat_id),
  KEY seat_status_owner (user_id, session_id),
  CONSTRAINT seat_status_user_fk FOREIGN KEY (user_id) REFERENCES `user` (id),
  CONSTRAINT seat_status_session_fk FOREIGN KEY (session_id) REFERENCES session (id) ON DELETE CASCADE,
  CONSTRAINT seat_status_seat_fk FOREIGN KEY (seat_id) REFERENCES seat (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE `order` (
  id INT NOT NULL AUTO_INCREMENT,
  user_id INT NOT NULL,
  session_id INT NOT NULL,
  payment_status_id CHAR(1) NOT NULL,
  total INT NOT NULL,
  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  PRIMARY KEY (id),
  KEY order_user (user_id),
  CONSTRAINT order_user_fk FOREIGN KEY (user_id) REFERENCES `user` (id),
  CONSTRAINT order_session_fk FOREIGN KEY (session_id) REFERENCES session (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE order_detail (
  id INT NOT NULL AUTO_INCREMENT,
  order_id INT NOT NULL,
  seat_id INT NOT NULL,
  price INT NOT NULL,
  PRIMARY KEY (id),
  KEY order_detail_order (order_id),
  CONSTRAINT order_detail_order_fk FOREIGN KEY (order_id) REFERENCES `order` (id) ON DELETE CASCADE,
  CONSTRAINT order_detail_seat_fk FOREIGN KEY (seat_id) REFERENCES seat (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;
