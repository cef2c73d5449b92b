"""SASL (IRCv3 sasl-3.1/3.2, numerics 900-908): PLAIN and EXTERNAL, chunking, limits,
aborts, the plaintext policy, PASS account:password and failed-login throttling. Every
test runs on SQLite and on MariaDB (the backend fixture)."""

import base64

from conftest import (HOST, SERVER_NAME, accounts_section, authenticate, register_account,
                      sasl_plain, send_sasl_response)

S = ":" + SERVER_NAME
PASSWORD = "correcthorse"


def start(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": accounts_section(**accounts)})


def sasl_client(srv, nick, tls=False, **kwargs):
    """A client that negotiated sasl and sent NICK/USER (registration held by CAP)."""
    c = srv.client(tls=tls, **kwargs)
    caps = c.cap_ls()
    assert caps.get("sasl") == "PLAIN,EXTERNAL,SCRAM-SHA-256", caps
    c.send("CAP REQ :sasl")
    c.expect("%s CAP * ACK :sasl" % S)
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Parley Tester" % nick)
    return c


def cap_end(c):
    """Ends CAP negotiation and consumes the welcome burst; returns it."""
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0].command == "001", lines
    return lines


def logged_in(nick, account, user=None):
    return "%s 900 %s %s!%s@%s %s :You are now logged in as %s" % (
        S, nick, nick, user or nick, HOST, account, account)


def fail_904(nick):
    return "%s 904 %s :SASL authentication failed" % (S, nick)


def test_plain_success_holds_registration_until_cap_end(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "alice")
    c.assert_silent(0.2)  # CAP negotiation holds registration
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE " + sasl_plain("alice", PASSWORD))
    c.expect_next(logged_in("alice", "alice"))
    c.expect_next("%s 903 alice :SASL authentication successful" % S)
    c.assert_silent(0.3)  # still no welcome before CAP END
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0] == "%s 001 alice :Welcome to the ParleyTest IRC Network alice!alice@%s" % (S, HOST)
    assert not [l for l in lines if l.command in ("900", "903")]
    c.send("WHOIS alice")
    c.expect("%s 330 alice alice alice :is logged in as" % S)
    c.read_until(lambda l: l.command == "318")
    # AUTHENTICATE after a successful login: 907, before and after registration.
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("%s 907 alice :You have already authenticated using SASL" % S)


def test_plain_authzid_and_case(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "Alice", PASSWORD)
    # The account name is case-insensitive; 900 gives the canonical name.
    c = sasl_client(srv, "one")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE " + sasl_plain("ALICE", PASSWORD, authzid="ALICE"))
    c.expect_next(logged_in("one", "Alice"))
    c.expect_next("%s 903 one :SASL authentication successful" % S)
    # An authorization identity other than the authentication identity is refused.
    register_account(srv, "bob", PASSWORD)
    d = sasl_client(srv, "two")
    d.send("AUTHENTICATE PLAIN")
    d.expect_next("AUTHENTICATE +")
    d.send("AUTHENTICATE " + sasl_plain("alice", PASSWORD, authzid="bob"))
    d.expect_next(fail_904("two"))


def test_plain_failures(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "carol")
    bad = [
        sasl_plain("alice", "wrongpassword"),  # wrong password
        sasl_plain("nosuchaccount", PASSWORD),  # unknown account
        "!!!!",  # not base64
        "YWJj=",  # bad length
        base64.b64encode(b"alice" + PASSWORD.encode()).decode(),  # no NULs
        base64.b64encode(b"alice\0" + PASSWORD.encode()).decode(),  # one NUL
        base64.b64encode(b"\0\0" + PASSWORD.encode()).decode(),  # empty authcid
        "+",  # empty response
    ]
    for payload in bad:
        c.send("AUTHENTICATE PLAIN")
        c.expect_next("AUTHENTICATE +")
        c.send("AUTHENTICATE " + payload)
        c.expect_next(fail_904("carol"))
    # After all that the exchange works, and registration completes with the account.
    assert authenticate(c, "alice", PASSWORD) == "%s 903 carol :SASL authentication successful" % S
    cap_end(c)
    c.send("WHOIS carol")
    c.expect("%s 330 carol carol alice :is logged in as" % S)


def test_authenticate_without_cap(make_server, backend):
    srv = start(make_server, backend)
    c = srv.connect("nocap")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next(fail_904("nocap"))


def test_abort_and_unknown_mechanism(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "dave")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE *")
    c.expect_next("%s 906 dave :SASL authentication aborted" % S)
    # Aborting part-way through a chunked response discards it.
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE " + "A" * 400)
    c.send("AUTHENTICATE *")
    c.expect_next("%s 906 dave :SASL authentication aborted" % S)
    c.send("AUTHENTICATE SCRAM-SHA-512")
    c.expect_next("%s 908 dave PLAIN,EXTERNAL,SCRAM-SHA-256 :are available SASL mechanisms" % S)
    c.expect_next(fail_904("dave"))
    assert authenticate(c, "alice", PASSWORD) == "%s 903 dave :SASL authentication successful" % S
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("%s 907 dave :You have already authenticated using SASL" % S)
    cap_end(c)
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("%s 907 dave :You have already authenticated using SASL" % S)


def test_too_long(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "erin")
    # One chunk longer than 400 bytes.
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE " + "QUFB" * 100 + "QQ==")
    c.expect_next("%s 905 erin :SASL message too long" % S)
    # 400-byte chunks adding up past the limit (8 KiB): 904 (the exchange failed; 905 is
    # for one line over 400 bytes, and irctest's testPlainInfiniteMessages wants 904) at
    # the chunk that passes it.
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    for _ in range(20):  # 8000 bytes: still within the limit, nothing said
        c.send("AUTHENTICATE " + "QUFB" * 100)
    c.assert_silent(0.3)
    c.send("AUTHENTICATE " + "QUFB" * 100)
    c.expect_next(fail_904("erin"))
    c.assert_silent(0.2)
    # The exchange was reset: a normal one works.
    assert authenticate(c, "alice", PASSWORD) == "%s 903 erin :SASL authentication successful" % S


def test_chunking(make_server, backend):
    srv = start(make_server, backend)
    # A 22-character account name as authzid and authcid and a 254-byte password make a
    # 300-byte message: exactly 400 bytes of base64, so a final "AUTHENTICATE +".
    name1, pw1 = "chunkychunkychunkyabcd", "p" * 254
    name2, pw2 = "chunkychunkychunkyabce", "q" * 256
    register_account(srv, name1, pw1)
    register_account(srv, name2, pw2)
    payload = sasl_plain(name1, pw1, authzid=name1)
    assert len(payload) == 400
    c = sasl_client(srv, "frank")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE " + payload)
    c.assert_silent(0.3)  # a full chunk means more may follow
    c.send("AUTHENTICATE +")
    c.expect_next(logged_in("frank", name1))
    c.expect_next("%s 903 frank :SASL authentication successful" % S)
    # 404 bytes: a full chunk then a 4-byte one.
    payload = sasl_plain(name2, pw2, authzid=name2)
    assert len(payload) == 404
    d = sasl_client(srv, "grace")
    d.send("AUTHENTICATE PLAIN")
    d.expect_next("AUTHENTICATE +")
    send_sasl_response(d, payload)
    d.expect_next(logged_in("grace", name2))
    d.expect_next("%s 903 grace :SASL authentication successful" % S)


def test_plaintext_policy_never(make_server, backend):
    srv = start(make_server, backend, sasl_plaintext="never")
    register_account(srv, "alice", PASSWORD)
    # Plaintext: PLAIN is refused outright; PASS account:password does not log in.
    c = sasl_client(srv, "plain")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next(fail_904("plain"))
    p = srv.client()
    lines = p.register("passplain", password="alice:" + PASSWORD)
    assert not [l for l in lines if l.command == "900"], lines
    # TLS: both work.
    t = sasl_client(srv, "secure", tls=True)
    assert authenticate(t, "alice", PASSWORD) == "%s 903 secure :SASL authentication successful" % S
    u = srv.client(tls=True)
    lines = u.register("passtls", password="alice:" + PASSWORD)
    assert logged_in("passtls", "alice") in lines, lines


def test_plaintext_policy_loopback_allows_local_plaintext(make_server, backend):
    srv = start(make_server, backend)  # sasl_plaintext defaults to loopback
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "local")
    assert authenticate(c, "alice", PASSWORD) == "%s 903 local :SASL authentication successful" % S


def test_external(make_server, backend, client_cert):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    # Register the certificate through NickServ from a TLS connection using it.
    owner = srv.client(tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    owner.register("alice")
    owner.send("PRIVMSG NickServ :IDENTIFY %s" % PASSWORD)
    owner.expect(":NickServ!NickServ@services. NOTICE alice :You are now identified for alice.")
    owner.send("PRIVMSG NickServ :CERT ADD")
    owner.expect(":NickServ!NickServ@services. NOTICE alice :Certificate fingerprint added.")
    # EXTERNAL with that certificate logs in, with no password.
    c = sasl_client(srv, "certy", tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    c.send("AUTHENTICATE EXTERNAL")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE +")
    c.expect_next(logged_in("certy", "alice"))
    c.expect_next("%s 903 certy :SASL authentication successful" % S)
    cap_end(c)
    # Without a client certificate (TLS or not), EXTERNAL fails.
    for tls in (True, False):
        d = sasl_client(srv, "nocert", tls=tls)
        d.send("AUTHENTICATE EXTERNAL")
        d.expect_next(fail_904("nocert"))
        d.close()


def test_external_unknown_certificate(make_server, backend, client_cert):
    srv = start(make_server, backend)
    c = sasl_client(srv, "stranger", tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    c.send("AUTHENTICATE EXTERNAL")
    c.expect_next("AUTHENTICATE +")
    c.send("AUTHENTICATE +")
    c.expect_next(fail_904("stranger"))


def test_pass_login(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    c = srv.client()
    lines = c.register("alice", password="alice:" + PASSWORD)
    assert lines[0] == logged_in("alice", "alice"), lines
    assert lines[1].command == "001", lines
    c.send("WHOIS alice")
    c.expect("%s 330 alice alice alice :is logged in as" % S)
    # A wrong password: a notice, then a normal registration without an account.
    d = srv.client()
    lines = d.register("mallory", password="alice:nopenope")
    assert "%s NOTICE mallory :Login with PASS failed" % S in lines, lines
    assert not [l for l in lines if l.command == "900"], lines
    d.send("WHOIS mallory")
    whois = d.read_until(lambda l: l.command == "318")
    assert not [l for l in whois if l.command == "330"], whois


def test_failed_login_throttle(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=2)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "trier")
    for _ in range(2):
        assert authenticate(c, "alice", "wrongpassword") == fail_904("trier")
    # Within the minute even the right password is refused: on this connection, on a
    # new one, through NickServ and through PASS.
    assert authenticate(c, "alice", PASSWORD) == fail_904("trier")
    assert not [l for l in c.pending if l.command == "900"]
    d = sasl_client(srv, "again")
    assert authenticate(d, "alice", PASSWORD) == fail_904("again")
    e = srv.connect("viaserv")
    e.send("PRIVMSG NickServ :IDENTIFY alice %s" % PASSWORD)
    e.expect(":NickServ!NickServ@services. NOTICE viaserv :Login failed: Too many failed attempts; "
             "try again in a minute.")
    f = srv.client()
    lines = f.register("viapass", password="alice:" + PASSWORD)
    assert not [l for l in lines if l.command == "900"], lines


def test_cap_end_during_login_waits_for_it(make_server, backend):
    """CAP END sent right behind the response: the login completes, then registration."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    c = sasl_client(srv, "quick")
    c.send("AUTHENTICATE PLAIN")
    c.expect_next("AUTHENTICATE +")
    c.send_raw("AUTHENTICATE %s\r\nCAP END\r\nWHOIS quick\r\n" % sasl_plain("alice", PASSWORD))
    c.expect_next(logged_in("quick", "alice"))
    c.expect_next("%s 903 quick :SASL authentication successful" % S)
    c.expect_next(lambda l: l.command == "001")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.expect("%s 330 quick quick alice :is logged in as" % S)


def test_disconnect_during_login(make_server, backend):
    """A client gone before its login completes: the result is dropped, nothing breaks."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    for _ in range(5):
        c = sasl_client(srv, "gone")
        c.send("AUTHENTICATE PLAIN")
        c.expect_next("AUTHENTICATE +")
        c.send_raw("AUTHENTICATE %s\r\nQUIT\r\n" % sasl_plain("alice", PASSWORD))
        c.close()
    d = sasl_client(srv, "after")
    assert authenticate(d, "alice", PASSWORD) == "%s 903 after :SASL authentication successful" % S


def test_600_byte_passwords(make_server, backend):
    """Passwords of up to 600 bytes: registered through NickServ or IRCv3 REGISTER (a line
    to a service or REGISTER may have a body past 512 bytes, up to 1024; nothing else may)
    and used with SASL PLAIN in two 400-byte chunks and a third, as irctest's
    testPlainLarge800 does."""
    srv = start(make_server, backend, min_password_length=1)
    pw = "x" * 592
    c = srv.connect("foo")
    c.send("PRIVMSG NickServ :REGISTER %s foo@example.org" % pw)
    c.expect(":NickServ!NickServ@services. NOTICE foo :Account foo registered. You are now logged in.")
    c.expect_next(logged_in("foo", "foo"))
    c.send("PRIVMSG NickServ :SET PASSWORD %s" % ("y" * 601))
    c.expect_next(":NickServ!NickServ@services. NOTICE foo :Passwords must be 1 to 600 characters long.")
    # A channel message that long is still refused.
    c.send("PRIVMSG #room :%s" % ("z" * 600))
    c.expect_next("%s 417 foo :Input line was too long" % S)
    r = srv.connect("reg")
    r.send("REGISTER other * %s" % ("w" * 600))
    r.expect("%s REGISTER SUCCESS other :Account successfully registered" % S)
    r.expect_next("%s 900 reg reg!reg@%s other :You are now logged in as other" % (S, HOST))
    r2 = srv.connect("reg2")
    r2.send("REGISTER other2 * %s" % ("w" * 601))
    r2.expect("%s FAIL REGISTER UNACCEPTABLE_PASSWORD other2 :Password too long" % S)
    r2.assert_silent(0.1)
    payload = sasl_plain("foo", pw, authzid="foo")
    assert len(payload) == 800
    d = sasl_client(srv, "dora")
    d.send("AUTHENTICATE PLAIN")
    d.expect_next("AUTHENTICATE +")
    d.send("AUTHENTICATE " + payload[:400])
    d.send("AUTHENTICATE " + payload[400:])
    d.assert_silent(0.2)
    d.send("AUTHENTICATE +")
    d.expect_next(logged_in("dora", "foo"))
    d.expect_next("%s 903 dora :SASL authentication successful" % S)
    e = sasl_client(srv, "erin")
    assert authenticate(e, "other", "w" * 600) == "%s 903 erin :SASL authentication successful" % S
