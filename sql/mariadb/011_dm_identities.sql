-- Direct-conversation keys become "@a,b": ',' is in no nick or account name, so no two
-- pairs of identities share a key ("@a|b|c" could be a|b with c, or a with b|c). A
-- logged-out user's identity is now its connection ("$..."), never its nick: the old
-- "~nick" conversations are left as they are, unreadable (whoever holds the nick now is
-- not who wrote them). Account-to-account conversations with one unambiguous '|' are
-- renamed to the new form. No pattern here comes from user input.
UPDATE messages SET target_key = CONCAT('@', REPLACE(SUBSTRING(target_key, 2), '|', ','))
 WHERE LEFT(target_key, 1) = '@'
   AND CHAR_LENGTH(target_key) - CHAR_LENGTH(REPLACE(target_key, '|', '')) = 1
   AND SUBSTRING(target_key, 2, 1) <> '~' AND LOCATE('|~', target_key) = 0;
-- The second identity of a conversation key, indexed: CHATHISTORY TARGETS finds the
-- conversations where an identity comes second by equality (those where it comes first
-- are a range of target_key).
ALTER TABLE messages ADD COLUMN dm_peer VARCHAR(140) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin AS
  (CASE WHEN LEFT(target_key, 1) = '@' AND LOCATE(',', target_key) > 0
        THEN SUBSTRING(target_key, LOCATE(',', target_key) + 1) END) VIRTUAL,
  ADD KEY messages_dm_peer (dm_peer, seq);
