-- Always-on (NickServ SET ALWAYS-ON): the accounts that chose, overriding the server's
-- accounts.always_on (an account without a row follows it).
CREATE TABLE always_on (
  account_key TEXT NOT NULL PRIMARY KEY,
  enabled     INTEGER NOT NULL
);
-- The presence of an always-on user, rewritten (behind the change, by the storage
-- thread) when it joins, parts, is kicked, changes nick or leaves, and recreated at start:
-- the nick it holds and how it looked. Deleted when it is really gone (KILL, K-line,
-- LOGOUT, DROP, ALWAYS-ON OFF).
CREATE TABLE always_on_users (
  account_key TEXT NOT NULL PRIMARY KEY,
  nick        TEXT NOT NULL,
  username    TEXT NOT NULL,
  host        TEXT NOT NULL,
  ip          TEXT NOT NULL,
  realname    TEXT NOT NULL,
  away        TEXT,
  umodes      INTEGER NOT NULL DEFAULT 0
);
-- Its channels, with its status there (MEMBER_* bits) and the channel's history floor:
-- the ghost kept the channel's lifetime going, so a channel recreated at start keeps its
-- history readable from the same seq.
CREATE TABLE always_on_channels (
  account_key TEXT NOT NULL,
  channel_key TEXT NOT NULL,
  channel     TEXT NOT NULL,
  status      INTEGER NOT NULL DEFAULT 0,
  history_floor INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_key, channel_key)
);
