"""SASL SCRAM-SHA-256 (RFC 5802, RFC 7677) over AUTHENTICATE: a client written here from
the RFC (hashlib.pbkdf2_hmac, hmac) runs the whole exchange against the daemon. Keys are
derived at registration, at SET PASSWORD and at the next password login of an account
without them. Every test runs on SQLite and on MariaDB."""

import base64
import hashlib
import hmac
import os

from conftest import (HOST, SERVER_NAME, accounts_section, authenticate, register_account,
                      sasl_plain)

S = ":" + SERVER_NAME
PASSWORD = "correcthorse"
MECHS = "PLAIN,EXTERNAL,SCRAM-SHA-256"


def b64(data):
    return base64.b64encode(data).decode("ascii")


def unb64(text):
    return base64.b64decode(text.encode("ascii"), validate=True)


def start(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": accounts_section(**accounts)})


def sasl_client(srv, nick):
    c = srv.client()
    caps = c.cap_ls()
    assert caps.get("sasl") == MECHS, caps
    c.send("CAP REQ :sasl")
    c.expect("%s CAP * ACK :sasl" % S)
    c.send("NICK " + nick)
    c.send("USER %s 0 * :x" % nick)
    return c


def read_authenticate(c):
    """A server message sent as AUTHENTICATE lines (400-byte chunks), decoded."""
    data = ""
    while True:
        line = c.expect_next(lambda l: l.command == "AUTHENTICATE")
        chunk = line.params[0]
        if chunk != "+":
            data += chunk
        if len(chunk) < 400:
            return unb64(data).decode("utf-8")


def send_message(c, text):
    payload = b64(text.encode("utf-8"))
    chunks = [payload[i:i + 400] for i in range(0, len(payload), 400)]
    for chunk in chunks:
        c.send("AUTHENTICATE " + chunk)
    if not chunks or len(chunks[-1]) == 400:
        c.send("AUTHENTICATE +")


def first_result(c):
    return c.expect_next(lambda l: l.command in ("900", "903", "904", "905", "906", "AUTHENTICATE"))


class Scram:
    """The client side of one exchange."""

    def __init__(self, user, password, gs2="n,,", nonce=None):
        self.user, self.password, self.gs2 = user, password, gs2
        self.cnonce = nonce or b64(os.urandom(18))
        self.bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), self.cnonce)

    def client_first(self):
        return self.gs2 + self.bare

    def client_final(self, server_first, tamper_nonce=False, binding=None):
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        assert attrs["r"].startswith(self.cnonce) and len(attrs["r"]) > len(self.cnonce)
        self.salt, self.iterations = unb64(attrs["s"]), int(attrs["i"])
        nonce = attrs["r"] + ("x" if tamper_nonce else "")
        without = "c=%s,r=%s" % (binding or b64(self.gs2.encode()), nonce)
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode("utf-8"), self.salt, self.iterations)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        auth = ",".join([self.bare, server_first, without]).encode("utf-8")
        sig = hmac.new(stored_key, auth, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        self.expected_v = "v=" + b64(hmac.new(server_key, auth, hashlib.sha256).digest())
        return without + ",p=" + b64(proof)


def scram_login(c, nick, user, password, **kw):
    """Runs the exchange; returns the numeric that ended it ("903", "904"...)."""
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("AUTHENTICATE +")
    s = Scram(user, password)
    send_message(c, s.client_first())
    line = first_result(c)
    if line.command != "AUTHENTICATE":
        return line.command
    chunk = line.params[0]
    assert len(chunk) < 400
    server_first = unb64(chunk).decode()
    send_message(c, s.client_final(server_first, **kw))
    line = first_result(c)
    if line.command != "AUTHENTICATE":
        return line.command
    assert unb64(line.params[0]).decode() == s.expected_v  # the server knows the keys
    c.send("AUTHENTICATE +")
    c.expect_next("%s 900 %s %s!%s@%s %s :You are now logged in as %s"
                  % (S, nick, nick, nick, HOST, user, user))
    return first_result(c).command


def stored_keys(backend, name="alice"):
    return backend.query("SELECT scram FROM accounts WHERE name_key = '%s'" % name)[0][0]


def test_full_exchange(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "alice")
    assert scram_login(c, "alice", "alice", PASSWORD) == "903"
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0].command == "001"
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("%s 907 alice :You have already authenticated using SASL" % S)


def test_wrong_password_and_unknown_account(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "alice")
    assert scram_login(c, "alice", "alice", "wrong-password") == "904"
    assert scram_login(c, "alice", "nobody", PASSWORD) == "904"
    # A wrong nonce or channel-binding echo fails even with the right password.
    assert scram_login(c, "alice", "alice", PASSWORD, tamper_nonce=True) == "904"
    assert scram_login(c, "alice", "alice", PASSWORD, binding=b64(b"y,,")) == "904"
    # The connection can still log in afterwards.
    assert scram_login(c, "alice", "alice", PASSWORD) == "903"


def test_failed_proofs_are_throttled(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=2)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "alice")
    assert scram_login(c, "alice", "alice", "wrong-password") == "904"
    assert scram_login(c, "alice", "alice", "wrong-password") == "904"
    # Slots used up: even the right password is refused, before any challenge.
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("AUTHENTICATE +")
    send_message(c, Scram("alice", PASSWORD).client_first())
    c.expect_next("%s 904 alice :SASL authentication failed" % S)


def test_channel_binding_malformed_and_abort(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "alice")
    for first in ["p=tls-unique,,n=alice,r=abc", "x,,n=alice,r=abc", "n,,r=abc", "n,,n=alice",
                  "n,a=bob,n=alice,r=abc", "n,,n=al=ice,r=abc", ""]:
        c.send("AUTHENTICATE SCRAM-SHA-256")
        c.expect_next("AUTHENTICATE +")
        send_message(c, first)
        c.expect_next("%s 904 alice :SASL authentication failed" % S)
    # A malformed final message.
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("AUTHENTICATE +")
    send_message(c, Scram("alice", PASSWORD).client_first())
    read_authenticate(c)
    send_message(c, "c=biws,r=nope")
    c.expect_next("%s 904 alice :SASL authentication failed" % S)
    # Abort in the middle: 906, and nothing logged in.
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("AUTHENTICATE +")
    send_message(c, Scram("alice", PASSWORD).client_first())
    read_authenticate(c)
    c.send("AUTHENTICATE *")
    c.expect_next("%s 906 alice :SASL authentication aborted" % S)
    # An authzid equal to the user is accepted.
    c.send("AUTHENTICATE SCRAM-SHA-256")
    c.expect_next("AUTHENTICATE +")
    s = Scram("alice", PASSWORD, gs2="n,a=alice,")
    send_message(c, s.client_first())
    send_message(c, s.client_final(read_authenticate(c)))
    assert read_authenticate(c) == s.expected_v
    c.send("AUTHENTICATE +")
    c.expect_next(lambda l: l.command == "900")
    c.expect_next("%s 903 alice :SASL authentication successful" % S)


def test_account_without_keys_gets_them_at_the_next_password_login(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    assert stored_keys(backend)
    # As an account registered before SCRAM support: no keys.
    backend.query("UPDATE accounts SET scram = NULL WHERE name_key = 'alice'")
    c = sasl_client(srv, "alice")
    assert scram_login(c, "alice", "alice", PASSWORD) == "904"
    # The client falls back to PLAIN; its success derives the keys.
    assert authenticate(c, "alice", PASSWORD) == "%s 903 alice :SASL authentication successful" % S
    c.close()
    keys = stored_keys(backend)
    assert keys
    d = sasl_client(srv, "dora")
    assert scram_login(d, "dora", "alice", PASSWORD) == "903"


def test_stored_keys_hide_the_password_and_change_with_it(make_server, backend):
    srv = start(make_server, backend, scram_iterations=5000)
    register_account(srv, "alice", PASSWORD)
    keys = stored_keys(backend)
    iterations, salt, stored_key, server_key = keys.split("$")
    assert iterations == "5000"
    assert len(unb64(salt)) == 16 and len(unb64(stored_key)) == 32 and len(unb64(server_key)) == 32
    assert PASSWORD not in keys and b64(PASSWORD.encode()) not in keys
    c = sasl_client(srv, "alice")
    assert scram_login(c, "alice", "alice", PASSWORD) == "903"
    c.send("CAP END")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.send("PRIVMSG NickServ :SET PASSWORD newpassword1")
    c.expect(lambda l: l.command == "NOTICE" and l.params[-1] == "Password changed.")
    new_keys = stored_keys(backend)
    assert new_keys != keys and new_keys.split("$")[1] != salt
    d = sasl_client(srv, "dora")
    assert scram_login(d, "dora", "alice", PASSWORD) == "904"
    assert scram_login(d, "dora", "alice", "newpassword1") == "903"


def test_iteration_count_below_minimum_is_refused(tmp_path, tls_files):
    from conftest import check_config, write_config
    path = tmp_path / "p.conf"
    write_config(path, tls_files, sections={"accounts": {"scram_iterations": 1000}})
    r = check_config(path)
    assert r.returncode != 0 and "scram_iterations" in r.stdout + r.stderr
