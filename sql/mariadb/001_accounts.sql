-- Accounts, their registered nicks and client certificate fingerprints.
-- name_key / nick_key are the names folded with the rfc1459 casemapping.
CREATE TABLE accounts (
  name_key    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  name        VARCHAR(64) NOT NULL,
  email       VARCHAR(255),
  password    VARCHAR(255) NOT NULL,
  created     BIGINT NOT NULL,
  verified    TINYINT NOT NULL DEFAULT 1,
  verify_code VARCHAR(64)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE account_nicks (
  nick_key    VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  nick        VARCHAR(64) NOT NULL,
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  KEY account_nicks_account (account_key),
  FOREIGN KEY (account_key) REFERENCES accounts(name_key) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE account_certs (
  fingerprint VARCHAR(128) CHARACTER SET ascii COLLATE ascii_bin PRIMARY KEY,
  account_key VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  KEY account_certs_account (account_key),
  FOREIGN KEY (account_key) REFERENCES accounts(name_key) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
