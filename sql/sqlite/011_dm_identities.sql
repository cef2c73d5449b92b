-- Direct-conversation keys become "@a,b": ',' is in no nick or account name, so no two
-- pairs of identities share a key ("@a|b|c" could be a|b with c, or a with b|c). A
-- logged-out user's identity is now its connection ("$..."), never its nick: the old
-- "~nick" conversations are left as they are, unreadable (whoever holds the nick now is
-- not who wrote them). Account-to-account conversations with one unambiguous '|' are
-- renamed to the new form. No pattern here comes from user input.
UPDATE messages SET target_key = '@' || replace(substr(target_key, 2), '|', ',')
 WHERE substr(target_key, 1, 1) = '@'
   AND length(target_key) - length(replace(target_key, '|', '')) = 1
   AND substr(target_key, 2, 1) <> '~' AND instr(target_key, '|~') = 0;
-- The second identity of a conversation key, indexed: CHATHISTORY TARGETS finds the
-- conversations where an identity comes second by equality (those where it comes first
-- are a range of target_key).
ALTER TABLE messages ADD COLUMN dm_peer TEXT GENERATED ALWAYS AS
  (CASE WHEN substr(target_key, 1, 1) = '@' AND instr(target_key, ',') > 0
        THEN substr(target_key, instr(target_key, ',') + 1) END) VIRTUAL;
CREATE INDEX messages_dm_peer ON messages(dm_peer, seq);
