-- Always-on (NickServ SET ALWAYS-ON): the accounts that chose, overriding the server's
-- accounts.always_on (an account without a row follows it).
CREATE TABLE always_on (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  enabled     TINYINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- The presence of an always-on user, rewritten (behind the change, by the storage
-- thread) when it joins, parts, is kicked, changes nick or leaves, and recreated at start:
-- the nick it holds and how it looked. Deleted when it is really gone (KILL, K-line,
-- LOGOUT, DROP, ALWAYS-ON OFF).
CREATE TABLE always_on_users (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  nick        VARCHAR(64) NOT NULL,
  username    VARCHAR(16) NOT NULL,
  host        VARCHAR(80) NOT NULL,
  ip          VARCHAR(64) NOT NULL,
  realname    VARCHAR(255) NOT NULL,
  away        VARCHAR(400),
  umodes      BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- Its channels, with its status there (MEMBER_* bits) and the channel's history floor:
-- the ghost kept the channel's lifetime going, so a channel recreated at start keeps its
-- history readable from the same seq.
CREATE TABLE always_on_channels (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  channel_key VARCHAR(140) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  channel     VARCHAR(140) NOT NULL,
  status      INT NOT NULL DEFAULT 0,
  history_floor BIGINT UNSIGNED NOT NULL DEFAULT 0,
  PRIMARY KEY (account_key, channel_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
