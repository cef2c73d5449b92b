"""Nobody reads or rewrites what is not theirs (issue 13, part 3): the real address of a
cloaked user reaches only that user and operators with see_hidden (WHOX %i, WHOIS,
WHOWAS, USERHOST, NAMES, JOIN, MONITOR, server notices, REPORTS); bans and AKICKs match
a user's cloak whatever the +x state; the login throttle counts attempts when they are
submitted; connlimit.exempt compares addresses as addresses; +R stops INVITE from
unregistered users; registrations per address per hour are limited."""

import time

import pytest

from conftest import SERVER_NAME, accounts_section, register_account
from operutil import (CHANSERV, S, connect_from, cs, join, oper_block, oper_up, operators_text, quiet, snotice, sync,
                      whois)

SECRET = "correct horse battery staple"
FAR = "127.0.0.2"  # a source address that is not exempt from anything by default
HIDDEN_IP = "255.255.255.255"
PASSWORD = "hunter2hunter2"
NS = ":NickServ!NickServ@services."


def start(make_server, backend=None, opers=None, cloak_default=True, accounts=None, connlimit=None, **settings):
    sections = {"accounts": accounts_section(**(accounts or {})),
                "privacy": {"cloak_secret": SECRET, "cloak_default": cloak_default}}
    if connlimit is not None:
        sections["connlimit"] = connlimit
    kw = dict(settings, sections=sections,
              extra=operators_text(*(opers or [oper_block(), oper_block("plain", privileges="kill")])))
    if backend is not None:
        kw["backend"] = backend
    return make_server(**kw)


def num(code, nick, rest):
    return "%s %s %s %s" % (S, code, nick, rest)


def cloak_of(c):
    """The host c was given in 001."""
    w = [l for l in c.history if l.command == "001"][0]
    return w.params[-1].rsplit("@", 1)[1]


def who_x(c, target):
    c.send("WHO %s %%tcuihsnfdlaor,42" % target)
    return [l for l in c.read_until(lambda l: l.command == "315") if l.command == "354"]


# --------------------------------------------------------------------------------------
# The real address of a cloaked user


def test_whox_hides_ip_of_others(make_server):
    srv = start(make_server)
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    bob = srv.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    for target in ("alice", "#room", "a*"):
        lines = [l for l in who_x(bob, target) if l.params[7] == "alice"]
        assert len(lines) == 1, lines
        assert lines[0].params[1:6] == ["42", "#room" if target == "#room" else "*", "alice", HIDDEN_IP,
                                         cloak], lines
    assert not any(FAR in l for l in bob.history), [l for l in bob.history if FAR in l]
    # the user itself and an operator with see_hidden get the address
    assert who_x(alice, "alice")[0].params[4] == FAR
    root = srv.connect("root")
    oper_up(root)
    assert who_x(root, "alice")[0].params[4] == FAR
    # an operator without see_hidden does not
    plain = srv.connect("plainop")
    oper_up(plain, "plain")
    lines = who_x(plain, "alice")
    assert lines[0].params[4:6] == [HIDDEN_IP, cloak], lines
    lines = whois(plain, "alice")
    assert not [l for l in lines if l.command in ("338", "378")], lines


def test_cloaked_address_seen_nowhere(make_server):
    """Everything an ordinary user can ask about a cloaked user shows the cloak only."""
    srv = start(make_server)
    bob = srv.client()
    bob.register("bob", caps=["userhost-in-names", "extended-join", "chghost", "away-notify"])
    bob.send("MONITOR + alice")
    sync(bob)
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    bob.expect(num("730", "bob", ":alice!alice@%s" % cloak))
    join(bob, "#room")
    join(alice, "#room", bob)
    bob.send("NAMES #room")
    bob.expect(lambda l: l.command == "353" and "alice!alice@%s" % cloak in l.params[-1])
    bob.send("MONITOR S")
    bob.expect(num("730", "bob", ":alice!alice@%s" % cloak))
    bob.send("USERHOST alice")
    bob.expect(num("302", "bob", ":alice=+alice@%s" % cloak))
    bob.send("WHO alice")
    bob.expect(num("352", "bob", "* alice %s %s alice H :0 Parley Tester" % (cloak, SERVER_NAME)))
    lines = whois(bob, "alice")
    assert num("311", "bob", "alice alice %s * :Parley Tester" % cloak) in lines
    alice.send("AWAY :gone")
    bob.expect(":alice!alice@%s AWAY :gone" % cloak)
    alice.send("QUIT :bye")
    bob.expect(":alice!alice@%s QUIT :Quit: bye" % cloak)
    bob.send("WHOWAS alice")
    bob.expect(num("314", "bob", "alice alice %s * :Parley Tester" % cloak))
    sync(bob)
    assert not any(FAR in l for l in bob.history), [l for l in bob.history if FAR in l]


def opers_and_far_alice(make_server):
    """A server with two operators, plainop (no see_hidden) and root (see_hidden), and
    alice connected from FAR; returns (plain, root, alice, alice's cloak)."""
    srv = start(make_server)
    plain = srv.connect("plainop")
    oper_up(plain, "plain")
    root = srv.connect("root")
    oper_up(root)
    alice = connect_from(srv, FAR)
    alice.register("alice")
    return plain, root, alice, cloak_of(alice)


def test_server_notices_hide_address_from_opers_without_see_hidden(make_server):
    plain, root, alice, cloak = opers_and_far_alice(make_server)
    root.expect(lambda l: l.command == "NOTICE" and "Client connecting: alice" in l.params[-1]
                and FAR in l.params[-1])
    line = plain.expect(lambda l: l.command == "NOTICE" and "Client connecting: alice" in l.params[-1])
    assert FAR not in line and cloak in line, line
    alice.send("OPER nosuch nope")
    root.expect(lambda l: "Failed OPER attempt by alice (%s)" % FAR in l)
    line = plain.expect(lambda l: "Failed OPER attempt by alice" in l)
    assert FAR not in line and cloak in line, line
    alice.send("QUIT")
    root.expect(lambda l: "Client exiting: alice" in l and FAR in l)
    line = plain.expect(lambda l: "Client exiting: alice" in l)
    assert FAR not in line and cloak in line, line
    sync(plain)
    assert not any(FAR in l for l in plain.history), [l for l in plain.history if FAR in l]


def test_kline_notice_hides_address_from_opers_without_see_hidden(make_server):
    plain, root, alice, cloak = opers_and_far_alice(make_server)
    root.send("KLINE *@%s :go" % cloak)
    plain.expect(snotice("plainop", "root added KLINE *@%s (go)" % cloak))
    root.expect(snotice("root", "Client exiting: alice (alice@%s) [K-lined: go]" % FAR))
    plain.expect(snotice("plainop", "Client exiting: alice (alice@%s) [K-lined: go]" % cloak))
    sync(plain)
    assert not any(FAR in l for l in plain.history), [l for l in plain.history if FAR in l]


def test_reports_hide_address_from_opers_without_see_hidden(make_server, backend):
    srv = start(make_server, backend=backend,
                opers=[oper_block(), oper_block("rep", privileges="reports"), oper_block("plain", privileges="kill")])
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    bob = srv.connect("bob")
    bob.send("REPORT alice :spam")
    bob.expect(lambda l: l.command == "NOTE" and "RECEIVED" in l.params)
    # REPORTS needs the reports privilege
    plain = srv.connect("plainop")
    oper_up(plain, "plain")
    plain.send("REPORTS")
    plain.expect(num("481", "plainop", ":Permission Denied- You're not an IRC operator"))
    rep = srv.connect("rep")
    oper_up(rep, "rep")
    rep.send("REPORTS")
    line = rep.expect(lambda l: "REPORTS: #" in l)
    assert FAR not in line and "about alice" in line, line
    rep.expect(lambda l: "open report" in l)
    root = srv.connect("root")
    oper_up(root)
    root.send("REPORTS")
    line = root.expect(lambda l: "REPORTS: #" in l)
    assert FAR in line, line
    assert cloak  # the cloak is what the REPORT notice shows
    sync(rep)
    assert not any(FAR in l for l in rep.history), [l for l in rep.history if FAR in l]


# --------------------------------------------------------------------------------------
# Bans match the cloak whatever the +x state


def test_ban_on_cloak_survives_minus_x(make_server):
    srv = start(make_server)
    op = srv.connect("op")
    join(op, "#room")
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    op.send("MODE #room +b *!*@%s" % cloak)
    op.expect(lambda l: l.command == "MODE" and l.params[1] == "+b")
    alice.send("MODE alice -x")
    alice.expect(lambda l: l.command == "MODE" and l.params[-1] == "-x")
    alice.send("JOIN #room")
    alice.expect(num("474", "alice", "#room :Cannot join channel (+b)"))
    # the real address still matches with +x
    op.send("MODE #room -b *!*@%s" % cloak)
    op.send("MODE #room +b *!*@%s" % FAR)
    op.expect(lambda l: l.command == "MODE" and l.params[1] == "+b")
    alice.send("MODE alice +x")
    alice.expect(lambda l: l.command == "MODE" and l.params[-1] == "+x")
    alice.send("JOIN #room")
    alice.expect(num("474", "alice", "#room :Cannot join channel (+b)"))


def test_ban_on_cloak_silences_member_after_minus_x(make_server):
    srv = start(make_server)
    op = srv.connect("op")
    join(op, "#room")
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    join(alice, "#room", op)
    op.send("MODE #room +b *!*@%s" % cloak)
    op.expect(lambda l: l.command == "MODE" and l.params[1] == "+b")
    alice.expect(lambda l: l.command == "MODE" and l.params[1] == "+b")
    alice.send("PRIVMSG #room :hello")
    alice.expect(num("404", "alice", "#room :Cannot send to channel"))
    alice.send("MODE alice -x")
    alice.expect(lambda l: l.command == "MODE" and l.params[-1] == "-x")
    alice.send("PRIVMSG #room :hello again")
    alice.expect(num("404", "alice", "#room :Cannot send to channel"))
    quiet(op)


def test_cloak_before_join_minus_x_plus_x(make_server):
    """The sequence from the issue: -x, JOIN, +x."""
    srv = start(make_server)
    op = srv.connect("op")
    join(op, "#room")
    alice = connect_from(srv, FAR)
    alice.register("alice")
    op.send("MODE #room +b *!*@%s" % cloak_of(alice))
    op.expect(lambda l: l.command == "MODE" and l.params[1] == "+b")
    alice.send("MODE alice -x")
    alice.send("JOIN #room")
    alice.expect(num("474", "alice", "#room :Cannot join channel (+b)"))
    alice.send("MODE alice +x")
    sync(alice)
    op.send("NAMES #room")
    names = op.expect(lambda l: l.command == "353")
    assert "alice" not in names.params[-1], names


def test_exception_and_invex_match_cloak_whatever_the_state(make_server):
    srv = start(make_server)
    op = srv.connect("op")
    join(op, "#room")
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
    op.send("MODE #room +ibeI *!*@* *!*@%s *!*@%s" % (cloak, cloak))
    op.expect(lambda l: l.command == "MODE" and l.params[1] == "+ibeI")
    alice.send("MODE alice -x")
    sync(alice)
    join(alice, "#room", op)


def test_silence_on_cloak_survives_minus_x(make_server):
    srv = start(make_server)
    bob = srv.connect("bob")
    alice = connect_from(srv, FAR)
    alice.register("alice")
    bob.send("SILENCE +*!*@%s" % cloak_of(alice))
    sync(bob)
    alice.send("MODE alice -x")
    sync(alice)
    alice.send("PRIVMSG bob :can you hear me")
    alice.send("INVITE bob #nowhere")
    sync(alice)
    quiet(bob)
    # the real address is not matched: SILENCE would tell anyone a cloaked user's address
    carol = srv.connect("carol")
    carol.send("SILENCE +*!*@%s" % FAR)
    sync(carol)
    alice.send("MODE alice +x")
    sync(alice)
    alice.send("PRIVMSG carol :hello")
    carol.expect(":alice!alice@%s PRIVMSG carol :hello" % cloak_of(alice))


def test_akick_on_cloak_survives_minus_x(make_server, backend):
    srv = start(make_server, backend=backend)
    register_account(srv, "owner", PASSWORD)
    op = srv.client()
    op.register("owner", password="owner:" + PASSWORD)
    join(op, "#room")
    cs(op, "REGISTER #room")
    op.expect(lambda l: l.source == CHANSERV and "registered" in l.params[-1])
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cs(op, "AKICK #room ADD *!*@%s go away" % cloak_of(alice))
    op.expect(lambda l: l.source == CHANSERV and "AKICK" in l.params[-1])
    alice.send("MODE alice -x")
    alice.expect(lambda l: l.command == "MODE" and l.params[-1] == "-x")
    alice.send("JOIN #room")
    alice.expect(lambda l: l.command == "KICK" and l.params[:2] == ["#room", "alice"])


# --------------------------------------------------------------------------------------
# The login throttle counts attempts when they are submitted


def ns_results(c, n):
    """The next n NickServ IDENTIFY results of c, as their texts."""
    out = []
    while len(out) < n:
        line = c.expect(lambda l: l.source == NS[1:] and l.params[-1].startswith(
            ("Login failed: ", "You are now identified")))
        out.append(line.params[-1])
    return out


THROTTLED = "Login failed: Too many failed attempts; try again in a minute."
BAD = "Login failed: Invalid password."


def test_identify_pipelined_attempts_are_throttled(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False)
    register_account(srv, "acct", PASSWORD)
    c = connect_from(srv, FAR)
    c.register("guesser")
    burst = "".join("PRIVMSG NickServ :IDENTIFY acct wrong%d\r\n" % i for i in range(39))
    c.send_raw(burst + "PRIVMSG NickServ :IDENTIFY acct %s\r\n" % PASSWORD)
    results = ns_results(c, 40)
    assert results.count(BAD) == 5, results
    assert results[5:] == [THROTTLED] * 35, results
    c.send("WHOIS guesser")
    assert not [l for l in c.read_until(lambda l: l.command == "318") if l.command == "330"]


def test_identify_parallel_connections_are_throttled(make_server, backend):
    """Attempts from many connections of one address, all in flight at once."""
    srv = start(make_server, backend=backend, cloak_default=False,
                accounts={"max_failed_logins": 5})
    register_account(srv, "acct", PASSWORD)
    guessers = []
    for i in range(10):
        g = connect_from(srv, FAR)
        g.register("guesser%d" % i)
        guessers.append(g)
    for i, g in enumerate(guessers):
        last = PASSWORD if i == len(guessers) - 1 else "wrong"
        g.send_raw("".join("PRIVMSG NickServ :IDENTIFY acct wrong%d-%d\r\n" % (i, k) for k in range(3))
                   + "PRIVMSG NickServ :IDENTIFY acct %s\r\n" % last)
    results = [r for g in guessers for r in ns_results(g, 4)]
    # the account (and the address) may have at most five attempts checked per minute
    checked = [r for r in results if r != THROTTLED]
    assert len(checked) <= 5, results
    assert "You are now identified for acct." not in results, results


SLOW_HASH = {"scrypt_n": 16384, "sasl_plaintext": "always"}  # ~50 ms a check: failures arrive slowly


def wrong_then_right(srv, attempt, wrong=19):
    """wrong attempts from as many connections of FAR, sent at once; once the server has
    read them (a PING round trip on another connection), the right one from one more.
    With the slow hash, the first failures are still being checked when the right one
    is submitted: counting failures only when their check ends lets it through."""
    clients = [connect_from(srv, FAR) for _ in range(wrong + 1)]
    for i, c in enumerate(clients[:-1]):
        c.send_raw(attempt(i, "wrong%d" % i))
    probe = srv.client()
    probe.send("PING :barrier")
    probe.expect(lambda l: l.command == "PONG")
    clients[-1].send_raw(attempt(wrong, PASSWORD))
    return clients


def test_sasl_parallel_attempts_are_throttled(make_server, backend):
    from conftest import sasl_plain
    srv = start(make_server, backend=backend, cloak_default=False, accounts=SLOW_HASH)
    register_account(srv, "acct", PASSWORD)
    clients = wrong_then_right(srv, lambda i, pw: (
        "CAP REQ :sasl\r\nNICK g%d\r\nUSER g 0 * :g\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE %s\r\n"
        % (i, sasl_plain("acct", pw))))
    clients[-1].expect(num("904", "g19", ":SASL authentication failed"))
    for c in clients[:-1]:
        c.expect(lambda l: l.command == "904")
    assert not [l for c in clients for l in c.history if l.command in ("900", "903")]


def test_pass_login_parallel_attempts_are_throttled(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False, accounts=SLOW_HASH)
    register_account(srv, "acct", PASSWORD)
    clients = wrong_then_right(srv, lambda i, pw: "PASS acct:%s\r\nNICK p%d\r\nUSER p 0 * :p\r\n" % (pw, i))
    for c in clients:
        c.read_until(lambda l: l.command in ("376", "422"))
    assert not [l for c in clients for l in c.history if l.command == "900"]
    assert clients[-1].history[0] == "%s NOTICE p19 :Login with PASS failed" % S, clients[-1].history[:2]


def test_identify_parallel_wrong_then_right(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False, accounts=SLOW_HASH)
    register_account(srv, "acct", PASSWORD)
    clients = []
    for i in range(20):
        c = connect_from(srv, FAR)
        c.register("n%d" % i)
        clients.append(c)
    for i, c in enumerate(clients[:-1]):
        c.send("PRIVMSG NickServ :IDENTIFY acct wrong%d" % i)
    probe = srv.client()
    probe.send("PING :barrier")
    probe.expect(lambda l: l.command == "PONG")
    clients[-1].send("PRIVMSG NickServ :IDENTIFY acct " + PASSWORD)
    assert ns_results(clients[-1], 1) == [THROTTLED]
    results = [r for c in clients[:-1] for r in ns_results(c, 1)]
    assert sorted(results) == sorted([BAD] * 5 + [THROTTLED] * 14), results


def test_exempt_address_is_throttled_per_account_only(make_server, backend):
    """Loopback (exempt) shares no address counter, but the account's counter holds."""
    srv = start(make_server, backend=backend, cloak_default=False)
    register_account(srv, "acct", PASSWORD)
    c = srv.connect("local")
    c.send_raw("".join("PRIVMSG NickServ :IDENTIFY other%d wrong\r\n" % i for i in range(8)))
    assert ns_results(c, 8) == ["Login failed: No such account."] * 8
    c.send_raw("".join("PRIVMSG NickServ :IDENTIFY acct wrong%d\r\n" % i for i in range(6)))
    assert ns_results(c, 6) == [BAD] * 5 + [THROTTLED]


# --------------------------------------------------------------------------------------
# connlimit.exempt compares addresses, not their spelling


def add_ipv6_listener(srv):
    """Adds a [::1] listener through SIGHUP; returns its port."""
    import signal
    import socket
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
        s.bind(("::1", 0))
        port = s.getsockname()[1]
    text = srv.conf_path.read_text()
    new = text.replace("listen = (\n", 'listen = (\n  { address = "::1"; port = %d; },\n' % port, 1)
    assert new != text
    srv.conf_path.write_text(new)
    srv.signal(signal.SIGHUP)
    from conftest import wait_for
    wait_for(lambda: "listening on ::1 port %d" % port in srv.stderr(), what="the [::1] listener")
    return port


@pytest.mark.parametrize("exempt", ["0::1", "::1", "0:0:0:0:0:0:0:1", "::0001", "::1/128", "::/0",
                                    "127.0.0.1 0::1"])
def test_connlimit_exempt_ipv6_spellings(make_server, exempt):
    from conftest import Client
    srv = make_server(sections={"connlimit": {"per_ip": 1, "exempt": exempt}})
    port = add_ipv6_listener(srv)
    clients = []
    for i in range(3):
        c = Client(port, host="::1")
        srv.clients.append(c)
        c.register("six%d" % i)
        clients.append(c)
    clients[0].send("WHOIS six0")
    clients[0].expect(num("378", "six0", "six0 :is connecting from *@0::1 0::1"))


def test_connlimit_exempt_must_be_addresses(tmp_path):
    from conftest import check_config, write_config
    path = tmp_path / "bad.conf"
    write_config(path, tls=False, sections={"connlimit": {"exempt": "127.0.0.1 ::1/128x localhost 10.0.0.0/8"}})
    r = check_config(path)
    assert r.returncode != 0
    errors = [l for l in r.stderr.splitlines() if "connlimit.exempt" in l]
    assert [e.split(": ", 1)[1] for e in errors] == [
        "connlimit.exempt: '::1/128x' is not an address or a CIDR range",
        "connlimit.exempt: 'localhost' is not an address or a CIDR range"], r.stderr


@pytest.mark.parametrize("exempt", ["", "::2", "127.0.0.1"])
def test_connlimit_not_exempt_ipv6(make_server, exempt):
    from conftest import Client
    srv = make_server(sections={"connlimit": {"per_ip": 1, "exempt": exempt}})
    port = add_ipv6_listener(srv)
    first = Client(port, host="::1")
    srv.clients.append(first)
    first.register("six")
    second = Client(port, host="::1")
    srv.clients.append(second)
    assert second.expect_closed() == ["ERROR :Closing Link: 0::1 (Too many connections from your address)"]


# --------------------------------------------------------------------------------------
# Registrations per address per hour


def test_registrations_per_address_limited(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False)  # default: 3 an hour
    far = [connect_from(srv, FAR) for _ in range(5)]
    for i, c in enumerate(far[:3]):
        c.register("far%d" % i)
    # a failed registration gives its slot back
    register_account(srv, "taken", PASSWORD)
    far[0].send("REGISTER taken * " + PASSWORD)
    far[0].expect("%s FAIL REGISTER ACCOUNT_EXISTS taken :Account already exists" % S)
    far[0].send("REGISTER * * " + PASSWORD)
    far[0].expect("%s REGISTER SUCCESS far0 :Account successfully registered" % S)
    far[1].send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    far[1].expect("%s NOTICE far1 :Account far1 registered. You are now logged in." % NS)
    far[2].send("REGISTER * * " + PASSWORD)
    far[2].expect("%s REGISTER SUCCESS far2 :Account successfully registered" % S)
    far[3].register("far3")
    far[3].send("REGISTER * * " + PASSWORD)
    far[3].expect("%s FAIL REGISTER TEMPORARILY_UNAVAILABLE far3 :Too many accounts registered from your "
                  "address; try again later" % S)
    far[4].register("far4")
    far[4].send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    far[4].expect("%s NOTICE far4 :Registration failed: Too many accounts registered from your address; "
                  "try again later." % NS)
    # nothing was created
    for name in ("far3", "far4"):
        far[3].send("PRIVMSG NickServ :INFO " + name)
        far[3].expect("%s NOTICE far3 :No such account." % NS)
    # other addresses, and exempt ones (loopback), are not affected
    other = connect_from(srv, "127.0.0.3")
    other.register("other")
    other.send("REGISTER * * " + PASSWORD)
    other.expect("%s REGISTER SUCCESS other :Account successfully registered" % S)
    for i in range(4):
        register_account(srv, "local%d" % i, PASSWORD)


def test_registrations_parallel_burst_limited(make_server, backend):
    """Registrations in flight count: a burst from many connections gets three."""
    srv = start(make_server, backend=backend, cloak_default=False, accounts={"scrypt_n": 16384})
    clients = []
    for i in range(8):
        c = connect_from(srv, FAR)
        c.register("burst%d" % i)
        clients.append(c)
    for c in clients:
        c.send("REGISTER * * " + PASSWORD)
    results = [c.expect(lambda l: l.command in ("REGISTER", "FAIL")) for c in clients]
    assert sum(1 for l in results if l.command == "REGISTER") == 3, results


def test_registrations_limit_off(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False, accounts={"registrations_per_ip_hour": 0})
    for i in range(5):
        c = connect_from(srv, FAR)
        c.register("free%d" % i)
        c.send("REGISTER * * " + PASSWORD)
        c.expect("%s REGISTER SUCCESS free%d :Account successfully registered" % (S, i))


# --------------------------------------------------------------------------------------
# +R and INVITE


def test_invite_to_registered_only_channel_needs_login(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False)
    register_account(srv, "owner", PASSWORD)
    op = srv.client()
    op.register("owner", password="owner:" + PASSWORD)
    guest = srv.connect("guest")
    target = srv.connect("target")
    join(op, "#room")
    join(guest, "#room", op)
    op.send("MODE #room +R")
    guest.expect(lambda l: l.command == "MODE" and l.params[1] == "+R")
    guest.send("INVITE target #room")
    guest.expect_next(num("477", "guest", "#room :You need to be logged into your account to invite users "
                                          "to this channel (+R)"))
    # a logged-in member still can; the target still needs an account to join
    op.send("INVITE target #room")
    op.expect(num("341", "owner", "target #room"))
    target.expect(":owner!owner@127.0.0.1 INVITE target #room")
    target.send("JOIN #room")
    target.expect(num("477", "target", "#room :Cannot join channel (+R) - you need to be logged into your account"))
    quiet(guest)


def test_invite_to_registered_only_user_needs_login(make_server, backend):
    srv = start(make_server, backend=backend, cloak_default=False)
    register_account(srv, "owner", PASSWORD)
    op = srv.client()
    op.register("owner", password="owner:" + PASSWORD)
    guest = srv.connect("guest")
    shy = srv.connect("shy")
    shy.send("MODE shy +R")
    shy.expect(lambda l: l.command == "MODE" and l.params[-1] == "+R")
    join(guest, "#g")
    guest.send("INVITE shy #g")
    guest.expect_next(num("531", "guest", "shy :You must be logged into an account to send messages to this user"))
    join(op, "#o")
    op.send("INVITE shy #o")
    op.expect(num("341", "owner", "shy #o"))
    shy.expect(":owner!owner@127.0.0.1 INVITE shy #o")
    quiet(shy)
