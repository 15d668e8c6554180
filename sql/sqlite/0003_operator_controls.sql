-- 0003: operator controls (issue 13). Per-session settings hold only what an operator changed
-- (NULL: the deployment's default); accounts an operator blocked from a session; and the audit
-- trail of every admin action (who is the operator token's label, never the token).
-- window_version counts the operator's extensions of a session's purchase windows: every
-- instance that sees it rise tells its own buying-page connections their new deadline.
CREATE TABLE session_settings (
  session_id INTEGER PRIMARY KEY REFERENCES session(id) ON DELETE CASCADE,
  page_limit INTEGER NULL,
  window_seconds INTEGER NULL,
  ticket_limit INTEGER NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  closed INTEGER NOT NULL DEFAULT 0,
  window_version INTEGER NOT NULL DEFAULT 0,
  updated_at INTEGER NOT NULL
);
CREATE TABLE session_block (
  session_id INTEGER NOT NULL REFERENCES session(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES `user`(id) ON DELETE CASCADE,
  blocked_at INTEGER NOT NULL,
  PRIMARY KEY (session_id, user_id)
);
CREATE TABLE admin_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  who TEXT NOT NULL,
  action TEXT NOT NULL,
  session_id INTEGER NULL,
  target TEXT NULL,
  before_json TEXT NULL,
  after_json TEXT NULL
);
