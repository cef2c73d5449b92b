-- Accounts, their registered nicks and client certificate fingerprints.
-- name_key / nick_key are the names folded with the rfc1459 casemapping.
CREATE TABLE accounts (
  name_key    TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  email       TEXT,
  password    TEXT NOT NULL,
  created     INTEGER NOT NULL,
  verified    INTEGER NOT NULL DEFAULT 1,
  verify_code TEXT
);
CREATE TABLE account_nicks (
  nick_key    TEXT PRIMARY KEY,
  nick        TEXT NOT NULL,
  account_key TEXT NOT NULL REFERENCES accounts(name_key) ON DELETE CASCADE
);
CREATE INDEX account_nicks_account ON account_nicks(account_key);
CREATE TABLE account_certs (
  fingerprint TEXT PRIMARY KEY,
  account_key TEXT NOT NULL REFERENCES accounts(name_key) ON DELETE CASCADE
);
CREATE INDEX account_certs_account ON account_certs(account_key);
