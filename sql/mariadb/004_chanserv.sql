-- ChanServ: registered channels, their access lists, automatic kicks and saved lists.
CREATE TABLE channels (
  name_key     VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  name         VARCHAR(64) NOT NULL,
  founder      VARCHAR(64) NOT NULL,
  description  VARCHAR(390) NOT NULL DEFAULT '',
  registered   BIGINT NOT NULL,
  topic        VARCHAR(512),
  topic_setter VARCHAR(200),
  topic_time   BIGINT NOT NULL DEFAULT 0,
  mlock        VARCHAR(64) NOT NULL DEFAULT '',
  topiclock    TINYINT NOT NULL DEFAULT 0,
  keeptopic    TINYINT NOT NULL DEFAULT 1,
  restricted   TINYINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE channel_access (
  chan_key    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  account     VARCHAR(64) NOT NULL,
  level       VARCHAR(16) NOT NULL,
  PRIMARY KEY (chan_key, account_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE channel_akick (
  chan_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  mask     VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  reason   VARCHAR(390) NOT NULL,
  setter   VARCHAR(64) NOT NULL,
  created  BIGINT NOT NULL,
  PRIMARY KEY (chan_key, mask)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE channel_lists (
  chan_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  kind     CHAR(1) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  mask     VARCHAR(200) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  setter   VARCHAR(200) NOT NULL,
  created  BIGINT NOT NULL,
  PRIMARY KEY (chan_key, kind, mask)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
