-- The first message seq a registered room shows: the start of the lifetime it was
-- registered in. Stored by ChanServ REGISTER in the same transaction as the room, so
-- after any restart the name's earlier lifetimes stay unreadable even if their rows were
-- never deleted. Rooms registered before this column show all their history (0), as
-- they did.
ALTER TABLE channels ADD COLUMN history_floor BIGINT NOT NULL DEFAULT 0;
