-- K-lines (user@host masks) and D-lines (IP or CIDR), kept across restarts.
CREATE TABLE server_bans (
  kind    TEXT NOT NULL,           -- 'k' or 'd'
  mask    TEXT NOT NULL,
  reason  TEXT NOT NULL,
  setter  TEXT NOT NULL,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL,        -- 0 = never
  PRIMARY KEY (kind, mask)
);
