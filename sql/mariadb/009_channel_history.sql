-- Per-channel history settings set with ChanServ SET REPLAY / SET RETENTION (-1: server default).
ALTER TABLE channels ADD COLUMN replay_lines INT NOT NULL DEFAULT -1, ADD COLUMN retention_days INT NOT NULL DEFAULT -1;
