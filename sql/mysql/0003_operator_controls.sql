-- 0003: operator controls (issue 13). Per-session settings hold only what an operator changed
-- (NULL: the deployment's default); accounts an operator blocked from a session; and the audit
-- trail of every admin action (who is the operator token's label, never the token).
-- window_version counts the operator's extensions of a session's purchase windows: every
-- instance that sees it rise tells its own buying-page connections their new deadline.
CREATE TABLE session_settings (
  session_id INT NOT NULL PRIMARY KEY,
  page_limit INT NULL,
  window_seconds BIGINT NULL,
  ticket_limit INT NULL,
  paused TINYINT NOT NULL DEFAULT 0,
  closed TINYINT NOT NULL DEFAULT 0,
  window_version INT NOT NULL DEFAULT 0,
  updated_at BIGINT NOT NULL,
  CONSTRAINT session_settings_session FOREIGN KEY (session_id) REFERENCES session(id) ON DELETE CASCADE
);
CREATE TABLE session_block (
  session_id INT NOT NULL,
  user_id BIGINT NOT NULL,
  blocked_at BIGINT NOT NULL,
  PRIMARY KEY (session_id, user_id),
  CONSTRAINT session_block_session FOREIGN KEY (session_id) REFERENCES session(id) ON DELETE CASCADE
);
CREATE TABLE admin_audit (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  at BIGINT NOT NULL,
  who VARCHAR(100) NOT NULL,
  action VARCHAR(40) NOT NULL,
  session_id BIGINT NULL,
  target VARCHAR(100) NULL,
  before_json TEXT NULL,
  after_json TEXT NULL
);
