"""Nobody reads or rewrites what is not theirs (issue 13, part 3): the real address of a
cloaked user reaches only that user and operators with see_hidden (WHOX %i, WHOIS,
WHOWAS, USERHOST, NAMES, JOIN, MONITOR, server notices, REPORTS); bans and AKICKs match
a user's cloak whatever the +x state; the login throttle counts attempts when they are
submitted; connlimit.exempt compares addresses as addresses; +R stops INVITE from
unregistered users; registrations per address per hour are limited."""

import time

from conftest import SERVER_NAME, accounts_section, register_account
from operutil import (CHANSERV, S, connect_from, cs, join, oper_block, oper_up, operators_text, quiet, sync,
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


def test_server_notices_hide_address_from_opers_without_see_hidden(make_server):
    srv = start(make_server)
    plain = srv.connect("plainop")
    oper_up(plain, "plain")
    root = srv.connect("root")
    oper_up(root)
    alice = connect_from(srv, FAR)
    alice.register("alice")
    cloak = cloak_of(alice)
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
