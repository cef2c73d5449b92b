"""NickServ: REGISTER, IDENTIFY, DROP, GHOST, SET PASSWORD, INFO, CERT ADD/LIST/DEL and
HELP, with the exact NOTICE lines from NickServ!NickServ@services. Every test runs on
SQLite and on MariaDB (the backend fixture)."""

import calendar
import hashlib
import re
import ssl
import time

from conftest import (HOST, NICKSERV, SERVER_NAME, accounts_section, authenticate, wait_for,
                      register_account)

S = ":" + SERVER_NAME
NS = ":" + NICKSERV
PASSWORD = "hunter2hunter2"


def start(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": accounts_section(**accounts)})


def ns(c, text):
    c.send("PRIVMSG NickServ :" + text)


def notice(nick, text):
    return "%s NOTICE %s :%s" % (NS, nick, text)


def logged_in(nick, account, user=None):
    return "%s 900 %s %s!%s@%s %s :You are now logged in as %s" % (
        S, nick, nick, user or nick, HOST, account, account)


def cert_fingerprint(crt):
    """SHA-256 of the certificate's DER form, lowercase hex (the daemon's certfp)."""
    with open(crt) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    return hashlib.sha256(der).hexdigest()


def sasl_result(srv, account, password, **client_kwargs):
    """The numeric ending a SASL PLAIN login from a fresh connection ("903" or "904")."""
    c = srv.client(**client_kwargs)
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.send("NICK probe")
    c.send("USER probe 0 * :Probe")
    mech = "EXTERNAL" if "certfile" in client_kwargs else "PLAIN"
    result = authenticate(c, account, password, mechanism=mech).command
    c.close()
    return result


def test_help(make_server, backend):
    srv = start(make_server, backend)
    c = srv.connect("helpme")
    ns(c, "HELP")
    for text in [
        "NickServ commands:",
        "  REGISTER <password> [email] - register your current nick as an account",
        "  IDENTIFY [account] <password> - log in",
        "  LOGOUT - log out of your account",
        "  DROP <password> - delete your account",
        "  GHOST <nick> - disconnect a session using a nick of your account",
        "  SET PASSWORD <new password> | EMAIL <address> | ALWAYS-ON ON|OFF - account settings",
        "  INFO [account] - show information about an account",
        "  CERT ADD [fp] | DEL <fp> | LIST - client certificates for SASL EXTERNAL",
        "  RESETPASS <account> [<code> <new password>] - a forgotten password",
        "  VERIFY <account> <code> - confirm a registration",
        "  HELP [command] - this list, or help on one command",
    ]:
        c.expect_next(notice("helpme", text))
    # The service name is case-insensitive; unknown commands are answered.
    c.send("PRIVMSG nickserv :FROBNICATE now")
    c.expect_next(notice("helpme", "Unknown command FROBNICATE. Use HELP for a list."))
    c.send("PRIVMSG NICKSERV :help")
    c.expect_next(notice("helpme", "NickServ commands:"))


def test_register(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice")
    ns(alice, "REGISTER")
    alice.expect_next(notice("alice", "Syntax: REGISTER <password> [email]"))
    ns(alice, "REGISTER short")
    alice.expect_next(notice("alice", "Passwords must be 8 to 600 characters long."))
    ns(alice, "REGISTER %s notanemail" % PASSWORD)
    alice.expect_next(notice("alice", "notanemail is not a valid email address."))
    ns(alice, "REGISTER %s alice@example.org" % PASSWORD)
    alice.expect_next(notice("alice", "Account alice registered. You are now logged in."))
    alice.expect_next(logged_in("alice", "alice"))
    ns(alice, "REGISTER " + PASSWORD)
    alice.expect_next(notice("alice", "You are already logged in as alice."))
    alice.send("QUIT")
    alice.expect_closed()
    # The nick is taken as an account name, whatever its case.
    again = srv.connect("ALICE")
    ns(again, "REGISTER " + PASSWORD)
    again.expect_next(notice("ALICE", "Registration failed: That name is already registered."))
    # A nick that is a taken account's name under rfc1459 casemapping.
    register_account(srv, "x[a]", PASSWORD)
    other = srv.connect("X{A}")
    ns(other, "REGISTER " + PASSWORD)
    other.expect_next(notice("X{A}", "Registration failed: That name is already registered."))
    assert sasl_result(srv, "alice", PASSWORD) == "903"


def test_identify(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    bob = srv.connect("bob")
    ns(bob, "IDENTIFY")
    bob.expect_next(notice("bob", "Syntax: IDENTIFY [account] <password>"))
    ns(bob, "IDENTIFY alice wrongpassword")
    bob.expect_next(notice("bob", "Login failed: Invalid password."))
    ns(bob, "IDENTIFY nosuchaccount " + PASSWORD)
    bob.expect_next(notice("bob", "Login failed: No such account."))
    ns(bob, "IDENTIFY " + PASSWORD)  # the current nick, bob, is no account
    bob.expect_next(notice("bob", "Login failed: No such account."))
    ns(bob, "IDENTIFY ALICE " + PASSWORD)
    bob.expect_next(logged_in("bob", "alice"))
    bob.expect_next(notice("bob", "You are now identified for alice."))
    ns(bob, "IDENTIFY alice " + PASSWORD)
    bob.expect_next(notice("bob", "You are already logged in as alice."))
    bob.send("WHOIS bob")
    bob.expect("%s 330 bob bob alice :is logged in as" % S)
    # With the account's nick, the password alone.
    a = srv.connect("alice")
    ns(a, "IDENTIFY " + PASSWORD)
    a.expect_next(logged_in("alice", "alice"))
    a.expect_next(notice("alice", "You are now identified for alice."))


def test_set_password(make_server, backend):
    srv = start(make_server, backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    c = srv.connect("alice")
    ns(c, "SET PASSWORD newpassword1")
    c.expect_next(notice("alice", "You must be logged in."))
    ns(c, "IDENTIFY " + PASSWORD)
    c.expect_next(logged_in("alice", "alice"))
    c.expect_next(notice("alice", "You are now identified for alice."))
    ns(c, "SET")
    c.expect_next(notice("alice", "Syntax: SET PASSWORD <new password> | SET EMAIL <address> | SET ALWAYS-ON ON|OFF"))
    ns(c, "SET EMAIL x@example.org")
    c.expect_next(notice("alice", "Email address changed."))
    ns(c, "SET PASSWORD short")
    c.expect_next(notice("alice", "Passwords must be 8 to 600 characters long."))
    ns(c, "SET PASSWORD newpassword1")
    c.expect_next(notice("alice", "Password changed."))
    d = srv.connect("dora")
    ns(d, "IDENTIFY alice " + PASSWORD)
    d.expect_next(notice("dora", "Login failed: Invalid password."))
    ns(d, "IDENTIFY alice newpassword1")
    d.expect_next(logged_in("dora", "alice"))
    d.expect_next(notice("dora", "You are now identified for alice."))
    assert sasl_result(srv, "alice", "newpassword1") == "903"
    assert sasl_result(srv, "alice", PASSWORD) == "904"


def test_info(make_server, backend):
    srv = start(make_server, backend)
    before = time.time()
    alice = srv.connect("alice")
    ns(alice, "REGISTER %s alice@example.org" % PASSWORD)
    alice.expect_next(notice("alice", "Account alice registered. You are now logged in."))
    alice.expect_next(logged_in("alice", "alice"))
    # Your own account: with the email address.
    ns(alice, "INFO")
    alice.expect_next(notice("alice", "Information on alice:"))
    line = alice.expect_next(re.compile(r"^%s NOTICE alice :Registered: (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC$"
                                        % re.escape(NS)))
    registered = calendar.timegm(time.strptime(line.match.group(1), "%Y-%m-%d %H:%M:%S"))
    assert before - 5 <= registered <= time.time() + 5, line
    alice.expect_next(notice("alice", "Nicks: alice"))
    alice.expect_next(notice("alice", "Email: alice@example.org"))
    alice.expect_next(notice("alice", "Always-on: off (server default)"))  # to her and operators only
    alice.expect_next(notice("alice", "alice is online now."))
    alice.expect_next(notice("alice", "End of info."))
    # Someone else's: no email.
    bob = srv.connect("bob")
    ns(bob, "INFO ALICE")
    bob.expect_next(notice("bob", "Information on alice:"))
    bob.expect_next(re.compile(r"^%s NOTICE bob :Registered: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$" % re.escape(NS)))
    bob.expect_next(notice("bob", "Nicks: alice"))
    bob.expect_next(notice("bob", "alice is online now."))
    bob.expect_next(notice("bob", "End of info."))
    ns(bob, "INFO nosuchaccount")
    bob.expect_next(notice("bob", "No such account."))
    ns(bob, "INFO")
    bob.expect_next(notice("bob", "Syntax: INFO <account>"))
    # Offline: no "online now".
    alice.send("QUIT")
    alice.expect_closed()
    ns(bob, "INFO alice")
    lines = bob.read_until(notice("bob", "End of info."))
    assert [l.params[1] for l in lines][2:] == ["Nicks: alice", "End of info."], lines


def test_ghost(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    register_account(srv, "bob", PASSWORD)
    ghost = srv.connect("alice")
    watcher = srv.connect("watcher")
    for c in (ghost, watcher):
        c.send("JOIN #room")
        c.read_until(lambda l: l.command == "366")
    bobc = srv.connect("bob")
    owner = srv.connect("alice_")
    ns(owner, "GHOST alice")
    owner.expect_next(notice("alice_", "You must be logged in to the nick's account to ghost it."))
    ns(owner, "IDENTIFY alice " + PASSWORD)
    owner.expect_next(logged_in("alice_", "alice"))
    owner.expect_next(notice("alice_", "You are now identified for alice."))
    ns(owner, "GHOST")
    owner.expect_next(notice("alice_", "Syntax: GHOST <nick>"))
    ns(owner, "GHOST bob")  # another account's nick
    owner.expect_next(notice("alice_", "You may not ghost bob."))
    ns(owner, "GHOST nobodyhere")
    owner.expect_next(notice("alice_", "nobodyhere is not online."))
    ns(owner, "GHOST ALICE")
    owner.expect_next(notice("alice_", "ALICE has been ghosted."))
    ghost.expect_error_close("GHOST command used by alice_")
    watcher.expect(":alice!alice@%s QUIT :GHOST command used by alice_" % HOST)
    owner.send("NICK alice")
    owner.expect_next(":alice_!alice_@%s NICK :alice" % HOST)
    bobc.send("PING still")
    bobc.expect_next("%s PONG %s :still" % (S, SERVER_NAME))


def test_drop(make_server, backend):
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    peer = srv.connect("peer", caps=["account-notify"])
    alice = srv.connect("alice")
    for c in (peer, alice):
        c.send("JOIN #room")
        c.read_until(lambda l: l.command == "366")
    ns(alice, "DROP " + PASSWORD)
    alice.expect_next(notice("alice", "You must be logged in to drop your account."))
    ns(alice, "IDENTIFY " + PASSWORD)
    alice.expect_next(logged_in("alice", "alice"))
    alice.expect_next(notice("alice", "You are now identified for alice."))
    peer.read_until(":alice!alice@%s ACCOUNT alice" % HOST)
    ns(alice, "DROP")
    alice.expect_next(notice("alice", "Syntax: DROP <password> (drops the account alice)"))
    ns(alice, "DROP wrongpassword")
    alice.expect_next(notice("alice", "Drop failed: Invalid password."))
    ns(alice, "DROP " + PASSWORD)
    alice.expect_next(notice("alice", "Your account has been dropped."))
    alice.expect_next("%s 901 alice alice!alice@%s :You are now logged out" % (S, HOST))
    peer.expect_next(":alice!alice@%s ACCOUNT *" % HOST)
    alice.send("WHOIS alice")
    whois = alice.read_until(lambda l: l.command == "318")
    assert not [l for l in whois if l.command == "330"], whois
    ns(alice, "IDENTIFY " + PASSWORD)
    alice.expect_next(notice("alice", "Login failed: No such account."))
    assert sasl_result(srv, "alice", PASSWORD) == "904"
    # The name (and its nick) are free again.
    ns(alice, "REGISTER otherpassword")
    alice.expect_next(notice("alice", "Account alice registered. You are now logged in."))
    alice.expect_next(logged_in("alice", "alice"))


def test_drop_logs_out_every_session(make_server, backend):
    """A dropped account is gone for all its sessions: none stays logged in to a name
    someone else can then register."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PASSWORD)
    one, two = srv.connect("one"), srv.connect("two")
    for c in (one, two):
        ns(c, "IDENTIFY alice " + PASSWORD)
        c.expect_next(logged_in(c.nick, "alice"))
        c.expect_next(notice(c.nick, "You are now identified for alice."))
    ns(one, "DROP " + PASSWORD)
    one.expect_next(notice("one", "Your account has been dropped."))
    one.expect_next("%s 901 one one!one@%s :You are now logged out" % (S, HOST))
    two.expect_next("%s 901 two two!two@%s :You are now logged out" % (S, HOST))
    eve = srv.connect("eve")
    eve.send("WHOIS two")
    whois = eve.read_until(lambda l: l.command == "318")
    assert not [l for l in whois if l.command == "330"], whois


def test_cert(make_server, backend, client_cert):
    srv = start(make_server, backend)
    fp = cert_fingerprint(client_cert[0])
    other_fp = "ab" * 32
    c = srv.client(tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    c.register("alice")
    ns(c, "CERT LIST")
    c.expect_next(notice("alice", "You must be logged in."))
    ns(c, "REGISTER " + PASSWORD)
    c.expect_next(notice("alice", "Account alice registered. You are now logged in."))
    c.expect_next(logged_in("alice", "alice"))
    ns(c, "CERT LIST")
    c.expect_next(notice("alice", "Certificate fingerprints for alice: (none)"))
    ns(c, "CERT")
    c.expect_next(notice("alice", "Syntax: CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST"))
    ns(c, "CERT DEL")
    c.expect_next(notice("alice", "Syntax: CERT ADD [fingerprint] | CERT DEL <fingerprint> | CERT LIST"))
    ns(c, "CERT ADD")  # the connection's own certificate
    c.expect_next(notice("alice", "Certificate fingerprint added."))
    ns(c, "CERT ADD " + other_fp)
    c.expect_next(notice("alice", "Certificate fingerprint added."))
    ns(c, "CERT LIST")
    c.expect_next(notice("alice", "Certificate fingerprints for alice: %s" % " ".join(sorted([fp, other_fp]))))
    assert sasl_result(srv, None, None, tls=True, certfile=client_cert[0], keyfile=client_cert[1]) == "903"
    # Someone else cannot claim a fingerprint that is taken.
    bob = srv.connect("bob")
    ns(bob, "REGISTER " + PASSWORD)
    bob.expect_next(notice("bob", "Account bob registered. You are now logged in."))
    bob.expect_next(logged_in("bob", "bob"))
    ns(bob, "CERT ADD")  # no client certificate on this connection
    bob.expect_next(notice("bob", "No certificate fingerprint: connect with a client certificate or give one."))
    ns(bob, "CERT ADD " + fp)
    line = bob.expect_next(lambda l: l.command == "NOTICE")
    assert line.params[1].startswith("Failed: "), line
    ns(bob, "CERT LIST")
    bob.expect_next(notice("bob", "Certificate fingerprints for bob: (none)"))
    # DEL removes it: EXTERNAL stops working.
    ns(c, "CERT DEL " + fp)
    c.expect_next(notice("alice", "Certificate fingerprint removed."))
    ns(c, "CERT LIST")
    c.expect_next(notice("alice", "Certificate fingerprints for alice: %s" % other_fp))
    assert sasl_result(srv, None, None, tls=True, certfile=client_cert[0], keyfile=client_cert[1]) == "904"


def test_set_email(make_server, backend):
    """SET EMAIL stores a checked address; INFO shows it to the owner (and operators,
    test_info) only; it is stored, so a restart keeps it."""
    srv = start(make_server, backend)
    alice = srv.connect("alice")
    ns(alice, "SET EMAIL alice@example.org")
    alice.expect_next(notice("alice", "You must be logged in."))
    ns(alice, "REGISTER %s" % PASSWORD)
    alice.expect_next(notice("alice", "Account alice registered. You are now logged in."))
    alice.expect_next(logged_in("alice", "alice"))
    for bad in ("notanemail", "a@b@c", "@example.org", "alice@", "x" * 250 + "@example.org"):
        ns(alice, "SET EMAIL " + bad)
        alice.expect_next(notice("alice", "%s is not a valid email address." % bad))
    ns(alice, "SET EMAIL")
    alice.expect_next(notice("alice", "Syntax: SET PASSWORD <new password> | SET EMAIL <address> | SET ALWAYS-ON ON|OFF"))
    ns(alice, "SET EMAIL alice@example.org")
    alice.expect_next(notice("alice", "Email address changed."))
    srv.stop()
    srv.start()
    alice = srv.client()
    alice.register("alice", password="alice:" + PASSWORD)
    ns(alice, "INFO")
    lines = alice.read_until(lambda l: l.params[-1] == "End of info.")
    assert notice("alice", "Email: alice@example.org") in lines, lines
    bob = srv.connect("bob")
    ns(bob, "INFO alice")
    lines = bob.read_until(lambda l: l.params[-1] == "End of info.")
    assert not [l for l in lines if "example.org" in l.params[-1]], lines


def test_resetpass(make_server, backend, tmp_path):
    """RESETPASS <account> answers the same for an account with an address, one without,
    and none at all; only the first gets a mail (through accounts.mail_command, run off
    the loop). The mailed code sets a new password once; a wrong code does nothing."""
    mail = tmp_path / "mail.txt"
    srv = start(make_server, backend, mail_command="/bin/sh -c 'cat >> %s'" % mail)
    register_account(srv, "alice", PASSWORD, email="alice@example.org")
    register_account(srv, "bob", PASSWORD)
    c = srv.connect("forgetful")
    answers = []
    for name in ("nosuchaccount", "bob", "alice"):
        ns(c, "RESETPASS " + name)
        answers.append(c.expect_next(lambda l: l.command == "NOTICE").params[-1].replace(name, "NAME"))
    assert answers == ["If NAME has an email address, a code was sent there. Within an hour, send: "
                       "RESETPASS NAME <code> <new password>"] * 3
    text = wait_for(lambda: mail.exists() and mail.read_text(), what="the reset mail")
    ns(c, "RESETPASS alice")  # again within the minute: the same answer, no second mail
    c.expect_next(lambda l: l.command == "NOTICE" and l.params[-1].startswith("If alice has an email address"))
    time.sleep(0.5)
    assert text.startswith("To: alice@example.org\nSubject: Password reset for alice\n"), text
    m = re.search(r"RESETPASS alice ([0-9a-f]{16}) <new password>", text)
    assert m, text
    code = m.group(1)
    ns(c, "RESETPASS alice %s newpassword1" % ("0" * 16))
    c.expect_next(notice("forgetful", "Invalid or expired code."))
    ns(c, "RESETPASS bob %s newpassword1" % code)
    c.expect_next(notice("forgetful", "Invalid or expired code."))
    ns(c, "RESETPASS alice %s short" % code)
    c.expect_next(notice("forgetful", "Passwords must be 8 to 600 characters long."))
    ns(c, "RESETPASS alice %s newpassword1" % code)
    c.expect_next(notice("forgetful", "Password changed for alice. You can log in with it now."))
    ns(c, "RESETPASS alice %s newpassword2" % code)  # used up
    c.expect_next(notice("forgetful", "Invalid or expired code."))
    assert sasl_result(srv, "alice", "newpassword1") == "903"
    assert sasl_result(srv, "alice", PASSWORD) == "904"
    assert mail.read_text() == text  # bob and nosuchaccount got nothing, nor alice twice


def test_resetpass_without_mail_command(make_server, backend):
    srv = start(make_server, backend)
    c = srv.connect("forgetful")
    ns(c, "RESETPASS alice")
    c.expect_next(notice("forgetful", "Password reset by email is not available on this network."))
    ns(c, "RESETPASS")
    c.expect_next(notice("forgetful", "Syntax: RESETPASS <account> [<code> <new password>]"))
