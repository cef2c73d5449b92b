-- Message history. seq is the message id as a number (milliseconds << 12 | counter):
-- unique, and ordered like the server's time, so every CHATHISTORY selector becomes a
-- range scan on (target_key, seq).
CREATE TABLE messages (
  seq        INTEGER PRIMARY KEY,
  msgid      TEXT NOT NULL UNIQUE,
  target_key TEXT NOT NULL,            -- folded channel name, or "a|b" for a direct conversation
  target     TEXT NOT NULL,            -- channel name or recipient nick, as sent
  sender     TEXT NOT NULL,            -- nick!user@host
  account    TEXT,
  command    TEXT NOT NULL,            -- PRIVMSG, NOTICE or TAGMSG
  tags       TEXT,                     -- client-only tags, escaped
  text       TEXT,
  time       INTEGER NOT NULL,         -- milliseconds since the epoch
  redacted   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX messages_target ON messages(target_key, seq);
