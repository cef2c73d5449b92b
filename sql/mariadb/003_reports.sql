-- User reports (REPORT) for operators to review (REPORTS).
CREATE TABLE reports (
  id               BIGINT AUTO_INCREMENT PRIMARY KEY,
  created          BIGINT NOT NULL,
  reporter_nick    VARCHAR(64) NOT NULL,
  reporter_account VARCHAR(64),
  target           VARCHAR(128) NOT NULL,
  target_nick      VARCHAR(64),
  target_account   VARCHAR(64),
  target_host      VARCHAR(128),
  msgid            VARCHAR(64),
  message          TEXT,
  reason           VARCHAR(400) NOT NULL,
  closed_by        VARCHAR(64)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
