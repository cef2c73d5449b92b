#!/usr/bin/env python3
"""Fills a Parley SQLite store (already migrated) with N accounts L0..L<N-1> for the
login-storm benchmark (tests/bench/login-bench.sh): one scrypt hash and one set of
SCRAM-SHA-256 keys, computed here once with the daemon's default costs and shared by all
accounts (each login still runs its own scrypt: the cost is per check, not per hash).

    login-prefill.py DB N PASSWORD [SCRYPT_N] [SCRAM_ITERATIONS]
"""
import base64
import hashlib
import hmac
import os
import sqlite3
import sys
import time


def b64(data):
    return base64.b64encode(data).decode("ascii")


def main():
    db, n, password = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
    scrypt_n = int(sys.argv[4]) if len(sys.argv) > 4 else 16384
    iterations = int(sys.argv[5]) if len(sys.argv) > 5 else 4096
    salt = os.urandom(16)
    key = hashlib.scrypt(password, salt=salt, n=scrypt_n, r=8, p=1, maxmem=256 * 1024 * 1024, dklen=32)
    hashed = "$scrypt$%d$8$1$%s$%s" % (scrypt_n, b64(salt), b64(key))
    ssalt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password, ssalt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    scram = "%d$%s$%s$%s" % (iterations, b64(ssalt), b64(hashlib.sha256(client_key).digest()), b64(server_key))
    con = sqlite3.connect(db)
    now = int(time.time())
    con.executemany("INSERT INTO accounts (name_key, name, email, password, created, verified, scram) "
                    "VALUES (?, ?, NULL, ?, ?, 1, ?)",
                    (("l%d" % i, "L%d" % i, hashed, now, scram) for i in range(n)))
    con.executemany("INSERT INTO account_nicks (nick_key, nick, account_key) VALUES (?, ?, ?)",
                    (("l%d" % i, "L%d" % i, "l%d" % i) for i in range(n)))
    con.commit()
    con.close()


if __name__ == "__main__":
    main()
