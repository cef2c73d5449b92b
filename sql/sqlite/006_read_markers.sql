-- draft/read-marker: what each account has read, per target.
CREATE TABLE read_markers (
  account_key TEXT NOT NULL,
  target_key  TEXT NOT NULL,
  time_ms     INTEGER NOT NULL,
  PRIMARY KEY (account_key, target_key)
);
