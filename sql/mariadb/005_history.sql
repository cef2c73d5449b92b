-- Message history. seq is the message id as a number (milliseconds << 12 | counter):
-- unique, and ordered like the server's time, so every CHATHISTORY selector becomes a
-- range scan on (target_key, seq).
CREATE TABLE messages (
  seq        BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  msgid      VARCHAR(24) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target_key VARCHAR(140) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  target     VARCHAR(64) NOT NULL,
  sender     VARCHAR(200) NOT NULL,
  account    VARCHAR(64),
  command    VARCHAR(8) CHARACTER SET ascii NOT NULL,
  tags       TEXT,
  text       TEXT,
  time       BIGINT NOT NULL,
  redacted   TINYINT NOT NULL DEFAULT 0,
  UNIQUE KEY messages_msgid (msgid),
  KEY messages_target (target_key, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
