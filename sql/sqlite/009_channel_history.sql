-- Per-channel history settings set with ChanServ SET REPLAY / SET RETENTION (-1: server default).
ALTER TABLE channels ADD COLUMN replay_lines INTEGER NOT NULL DEFAULT -1;
ALTER TABLE channels ADD COLUMN retention_days INTEGER NOT NULL DEFAULT -1;
