-- ChanServ: registered channels, their access lists, automatic kicks and saved lists.
CREATE TABLE channels (
  name_key     TEXT PRIMARY KEY,
  name         TEXT NOT NULL,
  founder      TEXT NOT NULL,          -- account name
  description  TEXT NOT NULL DEFAULT '',
  registered   INTEGER NOT NULL,
  topic        TEXT,
  topic_setter TEXT,
  topic_time   INTEGER NOT NULL DEFAULT 0,
  mlock        TEXT NOT NULL DEFAULT '',
  topiclock    INTEGER NOT NULL DEFAULT 0,
  keeptopic    INTEGER NOT NULL DEFAULT 1,
  restricted   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE channel_access (
  chan_key    TEXT NOT NULL,
  account_key TEXT NOT NULL,
  account     TEXT NOT NULL,
  level       TEXT NOT NULL,            -- op, voice, member
  PRIMARY KEY (chan_key, account_key)
);
CREATE TABLE channel_akick (
  chan_key TEXT NOT NULL,
  mask     TEXT NOT NULL,
  reason   TEXT NOT NULL,
  setter   TEXT NOT NULL,
  created  INTEGER NOT NULL,
  PRIMARY KEY (chan_key, mask)
);
CREATE TABLE channel_lists (
  chan_key TEXT NOT NULL,
  kind     TEXT NOT NULL,               -- b, e or I
  mask     TEXT NOT NULL,
  setter   TEXT NOT NULL,
  created  INTEGER NOT NULL,
  PRIMARY KEY (chan_key, kind, mask)
);
