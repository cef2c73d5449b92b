"""Accounts from the client protocol: REGISTER and VERIFY (IRCv3 draft/account-registration)
before and after connection registration, the capability value, email verification
through accounts.verify_command, what others see of a login (account-notify,
account-tag, extended-join, WHOIS 330) and nick enforcement. Every test runs on SQLite
and on MariaDB (the backend fixture)."""

import re

from conftest import (HOST, NICKSERV, SERVER_NAME, accounts_section, authenticate,
                      register_account, wait_for)

S = ":" + SERVER_NAME
NS = ":" + NICKSERV
PASSWORD = "hunter2hunter2"


def start(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": accounts_section(**accounts)})


def logged_in(nick, account, user=None):
    return "%s 900 %s %s!%s@%s %s :You are now logged in as %s" % (
        S, nick, nick, user or nick, HOST, account, account)


def success(name):
    return "%s REGISTER SUCCESS %s :Account successfully registered" % (S, name)


def fail(code, context, text, command="REGISTER"):
    return "%s FAIL %s %s %s :%s" % (S, command, code, context, text)


def whois_account(c, nick):
    """The account WHOIS (330) shows for nick, or None."""
    c.send("WHOIS " + nick)
    lines = c.read_until(lambda l: l.command == "318")
    accounts = [l.params[2] for l in lines if l.command == "330"]
    return accounts[0] if accounts else None


def sasl_login_ok(srv, account, password, nick="checker"):
    """True if a fresh connection can log in to account with SASL PLAIN."""
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Checker" % nick)
    ok = authenticate(c, account, password).command == "903"
    c.close()
    return ok


# --------------------------------------------------------------------------------------
# REGISTER after connection registration


def test_register_after_connect(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice")
    # Commands behind REGISTER wait for its result.
    alice.send_raw("REGISTER * * %s\r\nWHOIS alice\r\n" % PASSWORD)
    alice.expect_next(success("alice"))
    alice.expect_next(logged_in("alice", "alice"))
    whois = alice.read_until(lambda l: l.command == "318")
    assert "%s 330 alice alice alice :is logged in as" % S in whois, whois
    # Once logged in, no second account.
    alice.send("REGISTER other * " + PASSWORD)
    line = alice.expect_next(lambda l: l.command == "FAIL")
    assert line.params[:3] == ["REGISTER", "ALREADY_AUTHENTICATED", line.params[2]], line
    assert line.params[-1] == "You are already logged in", line
    # The account can log in from elsewhere.
    assert sasl_login_ok(srv, "alice", PASSWORD)


def test_register_errors(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    register_account(srv, "x[a]", PASSWORD)
    bob = srv.connect("bob")
    bob.send("REGISTER bob * short")
    bob.expect_next(fail("WEAK_PASSWORD", "bob", "Password too short"))
    bob.send("REGISTER * * short")
    bob.expect_next(fail("WEAK_PASSWORD", "bob", "Password too short"))
    for name in ("9lives", "#chan", "a!b", "*@x", "a" * 31):
        bob.send("REGISTER %s * %s" % (name, PASSWORD))
        bob.expect_next(fail("BAD_ACCOUNT_NAME", name, "That account name is not valid"))
    for email in ("notanemail", "@example.org", "bob@", "a@b@c"):
        bob.send("REGISTER bob %s %s" % (email, PASSWORD))
        bob.expect_next(fail("INVALID_EMAIL", "bob", "A valid email address is required"))
    bob.send("REGISTER bob bob@example.org " + "p" * 601)
    bob.expect_next(fail("UNACCEPTABLE_PASSWORD", "bob", "Password too long"))
    assert whois_account(bob, "bob") is None
    # Taken names, case-insensitively (rfc1459: [] and {} are the same letters).
    for name in ("alice", "ALICE", "Alice", "X{A}", "x[a]"):
        bob.send("REGISTER %s * %s" % (name, PASSWORD))
        bob.expect_next(fail("ACCOUNT_EXISTS", name, "Account already exists"))
    # None of the failures left anything behind: the name is still free.
    bob.send("REGISTER bob bob@example.org " + PASSWORD)
    bob.expect_next(success("bob"))
    bob.expect_next(logged_in("bob", "bob"))


def test_register_custom_account_name(make_server, backend):
    srv = start(make_server, backend)
    dave = srv.connect("dave")
    dave.send("REGISTER DaveAccount * " + PASSWORD)
    dave.expect_next(success("DaveAccount"))
    dave.expect_next(logged_in("dave", "DaveAccount"))
    assert whois_account(dave, "dave") == "DaveAccount"
    assert sasl_login_ok(srv, "daveaccount", PASSWORD)
    # The account's name is reserved too: the nick dave is not.
    eve = srv.connect("eve")
    eve.send("REGISTER dave * " + PASSWORD)
    eve.expect_next(success("dave"))
    eve.expect_next(logged_in("eve", "dave"))
    fred = srv.connect("fred")
    fred.send("REGISTER daveaccount * " + PASSWORD)
    fred.expect_next(fail("ACCOUNT_EXISTS", "daveaccount", "Account already exists"))


# --------------------------------------------------------------------------------------
# REGISTER before connection registration


def test_register_before_connect(make_server, backend):
    srv = start(make_server, backend)
    c = srv.client()
    caps = c.cap_ls()
    assert caps["draft/account-registration"] == "before-connect,custom-account-name"
    c.send("CAP REQ :draft/account-registration")
    c.expect_next("%s CAP * ACK :draft/account-registration" % S)
    c.send("REGISTER * * " + PASSWORD)
    c.expect_next(fail("NEED_NICK", "*", "Send NICK before registering the current nick"))
    c.send("NICK early")
    c.send("USER early 0 * :Parley Tester")
    c.assert_silent(0.2)  # registration waits for CAP END
    c.send("REGISTER * * " + PASSWORD)
    c.expect_next(success("early"))
    c.expect_next(logged_in("early", "early"))
    c.assert_silent(0.2)
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0] == "%s 001 early :Welcome to the ParleyTest IRC Network early!early@%s" % (S, HOST)
    assert whois_account(c, "early") == "early"
    # Before connection registration the same errors apply.
    d = srv.client()
    d.send("CAP LS 302")
    d.send("NICK late")
    d.send("REGISTER late * short")
    d.expect(fail("WEAK_PASSWORD", "late", "Password too short"))
    d.send("REGISTER lateacct * " + PASSWORD)  # custom name before connecting
    d.expect(success("lateacct"))
    d.expect("%s 900 late late!*@%s lateacct :You are now logged in as lateacct" % (S, HOST))
    d.send("USER late 0 * :Parley Tester")
    d.send("CAP END")
    d.read_until(lambda l: l.command in ("376", "422"))
    assert whois_account(d, "late") == "lateacct"
    e = srv.client()
    e.send("CAP LS 302")
    e.send("NICK third")
    e.send("REGISTER early * " + PASSWORD)
    e.expect(fail("ACCOUNT_EXISTS", "early", "Account already exists"))


# --------------------------------------------------------------------------------------
# The capability value and configuration


def test_cap_value_email_required(make_server, backend):
    srv = start(make_server, backend, email_required=True)
    c = srv.client()
    caps = c.cap_ls()
    assert caps["draft/account-registration"] == "before-connect,custom-account-name,email-required"
    c.send("CAP END")
    c.register("frank")
    c.send("REGISTER * * " + PASSWORD)
    c.expect_next(fail("INVALID_EMAIL", "frank", "A valid email address is required"))
    c.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    c.expect_next(NS + " NOTICE frank :An email address is required: REGISTER <password> <email>")
    c.send("REGISTER * frank@example.org " + PASSWORD)
    c.expect_next(success("frank"))
    c.expect_next(logged_in("frank", "frank"))


def test_registration_disabled(make_server, backend):
    srv = start(make_server, backend, registration=False)
    c = srv.client()
    caps = c.cap_ls()
    assert "draft/account-registration" not in caps, caps
    assert caps["sasl"] == "PLAIN,EXTERNAL,SCRAM-SHA-256"
    c.send("CAP END")
    c.register("gina")
    c.send("REGISTER * * " + PASSWORD)
    c.expect_next(fail("DISALLOWED", "*", "Account registration is disabled"))
    c.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    c.expect_next(NS + " NOTICE gina :Registration is disabled on this server.")
    assert whois_account(c, "gina") is None
    # A capability that is not offered cannot be enabled either.
    c.send("CAP REQ :draft/account-registration")
    c.expect_next("%s CAP gina NAK :draft/account-registration" % S)


# --------------------------------------------------------------------------------------
# Email verification


def verify_section(tmp_path, **more):
    mail = tmp_path / "mail.txt"
    return mail, accounts_section(verify_command="/bin/sh -c 'cat > %s'" % mail, **more)


def read_code(mail, account, email):
    text = wait_for(lambda: mail.exists() and mail.read_text(), what="the verification mail")
    assert text.startswith("To: %s\n" % email), text
    m = re.search(r"VERIFY %s (\S+)" % re.escape(account), text)
    assert m, text
    return m.group(1)


def test_email_verification(make_server, backend, tmp_path):
    mail, accounts = verify_section(tmp_path)
    srv = make_server(backend=backend, sections={"accounts": accounts})
    vera = srv.connect("vera")
    vera.send("REGISTER * vera@example.org " + PASSWORD)
    vera.expect_next("%s REGISTER VERIFICATION_REQUIRED vera :Account created, pending verification; "
                     "a code was sent to your email address" % S)
    code = read_code(mail, "vera", "vera@example.org")
    assert "Subject: Your account vera\n" in mail.read_text()
    assert whois_account(vera, "vera") is None  # not logged in yet
    # An unverified account cannot log in.
    assert not sasl_login_ok(srv, "vera", PASSWORD)
    other = srv.connect("other")
    other.send("PRIVMSG NickServ :IDENTIFY vera " + PASSWORD)
    other.expect_next(NS + " NOTICE other :Login failed: This account is not verified yet; "
                      "use VERIFY <account> <code>.")
    # Wrong codes are refused.
    vera.send("VERIFY vera 0000000000000000")
    vera.expect_next(fail("INVALID_CODE", "vera", "Invalid verification code", command="VERIFY"))
    vera.send("VERIFY vera " + code.upper() + "x")
    vera.expect_next(fail("INVALID_CODE", "vera", "Invalid verification code", command="VERIFY"))
    assert whois_account(vera, "vera") is None
    # The right one verifies and logs in.
    vera.send("VERIFY vera " + code)
    vera.expect_next("%s VERIFY SUCCESS vera :Account successfully verified" % S)
    vera.expect_next(logged_in("vera", "vera"))
    assert whois_account(vera, "vera") == "vera"
    assert sasl_login_ok(srv, "vera", PASSWORD)
    # The code is spent.
    other.send("VERIFY vera " + code)
    line = other.expect_next(lambda l: l.command in ("FAIL", "VERIFY"))
    assert line.command == "FAIL", line
    assert whois_account(other, "other") is None


def test_email_verification_through_nickserv(make_server, backend, tmp_path):
    mail, accounts = verify_section(tmp_path)
    srv = make_server(backend=backend, sections={"accounts": accounts})
    walt = srv.connect("walt")
    walt.send("PRIVMSG NickServ :REGISTER %s walt@example.org" % PASSWORD)
    walt.expect_next(NS + " NOTICE walt :Account walt registered; a verification code was sent to your "
                     "email address.")
    walt.expect_next(NS + " NOTICE walt :Send: /msg NickServ VERIFY walt <code>")
    code = read_code(mail, "walt", "walt@example.org")
    walt.send("PRIVMSG NickServ :VERIFY walt nottherightcode")
    walt.expect_next(NS + " NOTICE walt :Verification failed: Invalid verification code.")
    walt.send("PRIVMSG NickServ :VERIFY walt " + code)
    walt.expect_next(NS + " NOTICE walt :Account walt verified.")
    walt.expect_next(logged_in("walt", "walt"))
    assert sasl_login_ok(srv, "walt", PASSWORD)


def test_verify_does_not_log_in_to_a_verified_account(make_server, backend):
    """VERIFY with a wrong code must not log anyone in, even when the account is
    already verified (or was never pending verification)."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    mallory = srv.connect("mallory")
    mallory.send("VERIFY alice 0000")
    line = mallory.expect_next(lambda l: l.command in ("FAIL", "VERIFY", "900"))
    assert line == fail("INVALID_CODE", "alice", "Invalid verification code", command="VERIFY"), line
    mallory.send("PRIVMSG NickServ :VERIFY alice 0000")
    line = mallory.expect_next(lambda l: l.command in ("NOTICE", "900"))
    assert line == NS + " NOTICE mallory :Verification failed: Invalid verification code.", line
    assert whois_account(mallory, "mallory") is None


# --------------------------------------------------------------------------------------
# What other users see


def test_login_seen_by_channel_peer(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    register_account(srv, "bob", PASSWORD)
    peer = srv.connect("peer", caps=["account-notify", "account-tag", "extended-join"])
    plain = srv.connect("plain")  # no capabilities: sees none of it
    for c in (peer, plain):
        c.send("JOIN #room")
        c.read_until(lambda l: l.command == "366")
    peer.read_until(":plain!plain@%s JOIN #room * :Parley Tester" % HOST)
    # Not logged in: extended-join gives "*".
    alice = srv.connect("alice")
    alice.send("JOIN #room")
    alice.read_until(lambda l: l.command == "366")
    peer.expect_next(":alice!alice@%s JOIN #room * :Parley Tester" % HOST)
    plain.expect_next(":alice!alice@%s JOIN #room" % HOST)
    alice.send("PRIVMSG #room :before")
    line = peer.expect_next(lambda l: l.command == "PRIVMSG")
    assert "account" not in line.tags and line.endswith(":alice!alice@%s PRIVMSG #room :before" % HOST), line
    plain.expect_next(":alice!alice@%s PRIVMSG #room :before" % HOST)
    # Logging in: account-notify.
    alice.send("PRIVMSG NickServ :IDENTIFY " + PASSWORD)
    alice.expect(logged_in("alice", "alice"))
    peer.expect_next(":alice!alice@%s ACCOUNT alice" % HOST)
    plain.assert_silent(0.2)
    # account-tag on messages.
    alice.send("PRIVMSG #room :after")
    line = peer.expect_next(lambda l: l.command == "PRIVMSG")
    assert line.tags.get("account") == "alice", line
    assert line.endswith(" :alice!alice@%s PRIVMSG #room :after" % HOST), line
    line = plain.expect_next(lambda l: l.command == "PRIVMSG")
    assert line == ":alice!alice@%s PRIVMSG #room :after" % HOST
    # Logged in with SASL before joining: extended-join carries the account.
    bob = srv.client()
    bob.cap_ls()
    bob.send("CAP REQ :sasl")
    bob.send("NICK bob")
    bob.send("USER bob 0 * :Parley Tester")
    assert authenticate(bob, "bob", PASSWORD).command == "903"
    bob.send("CAP END")
    bob.read_until(lambda l: l.command in ("376", "422"))
    bob.send("JOIN #room")
    bob.read_until(lambda l: l.command == "366")
    peer.expect_next("@account=bob :bob!bob@%s JOIN #room bob :Parley Tester" % HOST)
    plain.expect_next(":bob!bob@%s JOIN #room" % HOST)
    # WHOIS shows the account (330) to anyone.
    assert whois_account(plain, "alice") == "alice"
    assert whois_account(plain, "bob") == "bob"
    assert whois_account(plain, "peer") is None
    plain.send("WHOIS alice")
    plain.expect("%s 330 plain alice alice :is logged in as" % S)


# --------------------------------------------------------------------------------------
# Nick enforcement


def enforce_warning(nick, account):
    return (NS + " NOTICE %s :The nick %s is registered to the account %s. Log in (SASL, or /msg NickServ "
            "IDENTIFY <password>) within 1 seconds or your nick will be changed." % (nick, nick, account))


def test_nick_enforcement(make_server, backend):
    srv = start(make_server, backend, nick_enforce_delay=1)
    register_account(srv, "alice", PASSWORD)
    peer = srv.connect("peer")
    peer.send("JOIN #room")
    peer.read_until(lambda l: l.command == "366")
    # Someone else on the nick: warned, then renamed.
    intruder = srv.connect("alice")
    intruder.expect_next(enforce_warning("alice", "alice"))
    intruder.send("JOIN #room")
    intruder.read_until(lambda l: l.command == "366")
    peer.expect(":alice!alice@%s JOIN #room" % HOST)
    intruder.expect_next(NS + " NOTICE alice :You did not log in to alice in time; changing your nick.",
                         timeout=5)
    line = intruder.expect_next(re.compile(r"^:alice!alice@127\.0\.0\.1 NICK :(Guest\d+)$"))
    guest = line.match.group(1)
    peer.expect_next(":alice!alice@%s NICK :%s" % (HOST, guest))
    intruder.send("PING x")
    intruder.expect_next("%s PONG %s :x" % (S, SERVER_NAME))
    # Changing to the registered nick later: warned; logging in in time keeps the nick.
    owner = srv.connect("zed")
    owner.send("NICK alice")
    owner.expect_next(":zed!zed@%s NICK :alice" % HOST)
    owner.expect_next(enforce_warning("alice", "alice"))
    owner.send("PRIVMSG NickServ :IDENTIFY " + PASSWORD)
    owner.expect_next(logged_in("alice", "alice", user="zed"))
    owner.expect_next(NS + " NOTICE alice :You are now identified for alice.")
    owner.assert_silent(1.5)
    # Logged in before connecting: no warning at all.
    owner.send("QUIT")
    owner.expect_closed()
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.send("NICK alice")
    c.send("USER alice 0 * :Parley Tester")
    assert authenticate(c, "alice", PASSWORD).command == "903"
    c.send("CAP END")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.assert_silent(1.3)
