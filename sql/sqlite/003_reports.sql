-- User reports (REPORT) for operators to review (REPORTS).
CREATE TABLE reports (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  created          INTEGER NOT NULL,
  reporter_nick    TEXT NOT NULL,
  reporter_account TEXT,
  target           TEXT NOT NULL,
  target_nick      TEXT,
  target_account   TEXT,
  target_host      TEXT,
  msgid            TEXT,
  message          TEXT,
  reason           TEXT NOT NULL,
  closed_by        TEXT
);
