-- Edited messages (draft/message-edit) keep their msgid and get the new text.
ALTER TABLE messages ADD COLUMN edited TINYINT NOT NULL DEFAULT 0;
