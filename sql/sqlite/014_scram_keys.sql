-- SASL SCRAM-SHA-256 keys of an account: "iterations$salt$StoredKey$ServerKey"
-- (base64). NULL until they are derived, at registration or the next password login.
ALTER TABLE accounts ADD COLUMN scram TEXT;
