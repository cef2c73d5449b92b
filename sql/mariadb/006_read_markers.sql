-- draft/read-marker: what each account has read, per target.
CREATE TABLE read_markers (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target_key  VARCHAR(140) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  time_ms     BIGINT NOT NULL,
  PRIMARY KEY (account_key, target_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
