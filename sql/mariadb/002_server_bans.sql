-- K-lines (user@host masks) and D-lines (IP or CIDR), kept across restarts.
CREATE TABLE server_bans (
  kind    CHAR(1) CHARACTER SET ascii NOT NULL,
  mask    VARCHAR(128) CHARACTER SET ascii COLLATE ascii_general_ci NOT NULL,
  reason  VARCHAR(390) NOT NULL,
  setter  VARCHAR(64) NOT NULL,
  created BIGINT NOT NULL,
  expires BIGINT NOT NULL,
  PRIMARY KEY (kind, mask)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
