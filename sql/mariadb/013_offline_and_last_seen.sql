-- Direct messages kept for a registered account while it was offline: each row points at
-- a stored message (messages.seq) that waits for the account's next login. Rows are
-- deleted once delivered (replayed to a plain client, announced to a CHATHISTORY client);
-- the message itself stays in history like any direct message. sender_key is the
-- sender's folded account, for the per-sender share of the recipient's cap.
CREATE TABLE offline_messages (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  seq         BIGINT UNSIGNED NOT NULL,
  sender_key  VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  PRIMARY KEY (account_key, seq)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
-- When a logged-in account last saw a channel (it parted, was kicked or disconnected):
-- the catch-up on its next JOIN starts there (or after its read marker, if later).
CREATE TABLE last_seen (
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  target_key  VARCHAR(140) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  seen_before BIGINT UNSIGNED NOT NULL,  -- the first message seq it did not see
  PRIMARY KEY (account_key, target_key)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
