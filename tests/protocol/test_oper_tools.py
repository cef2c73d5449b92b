"""Operator tools (issue 14): opers are exempt from fakelag, STATS l lists the
listeners, STATS k/d show expiry and setter, one server notice per K/D-line, and HELP
for every operator command.

Operator blocks come from operutil (operators_text / oper_up)."""

import re
import time

from conftest import HOST, SERVER_NAME, Client
from operutil import (S, accounts_section, oper_up, operators_text, quiet, snotice, sync)

PONG = ":%s PONG %s :%%s" % (SERVER_NAME, SERVER_NAME)


def start(make_server, backend=None, **settings):
    sections = settings.pop("sections", {})
    sections.setdefault("accounts", accounts_section())
    kw = dict(settings, sections=sections, extra=operators_text())
    if backend is not None:
        kw["backend"] = backend
    return make_server(**kw)


def num(code, nick, rest):
    return "%s %s %s %s" % (S, code, nick, rest)


# --------------------------------------------------------------------------------------
# fakelag


def test_opers_are_exempt_from_fakelag(make_server):
    burst, count = 8, 60
    srv = start(make_server, flood_enabled=True, flood_rate=1.0, flood_burst=burst)
    root = srv.connect("root")
    oper_up(root)
    user = srv.connect("user")
    # the operator: the whole burst is answered at once, far beyond class.flood.burst
    start_t = time.monotonic()
    root.send_raw(b"".join(b"PING r%d\r\n" % i for i in range(count)))
    for i in range(count):
        root.expect(PONG % ("r%d" % i), timeout=3)
    assert time.monotonic() - start_t < 2, "the operator was held"
    # a user of the same class gets its burst, then waits a second per command
    user.send_raw(b"".join(b"PING u%d\r\n" % i for i in range(count)))
    time.sleep(1.5)
    got = []
    while user.pending or user._fill(0.05):
        while user.pending:
            got.append(user.pending.popleft())
    pongs = [l for l in got if l.command == "PONG"]
    assert burst - 3 <= len(pongs) <= burst + 6, pongs  # refills: 1 a second
    assert pongs == [PONG % ("u%d" % i) for i in range(len(pongs))]


# --------------------------------------------------------------------------------------
# one server notice per K/D-line


def barrier(c, tok):
    """Every line c receives up to the PONG for tok (server notices included)."""
    c.send("PING " + tok)
    return c.read_until(lambda l: l.command == "PONG" and l.params[-1] == tok)[:-1]


def notices(lines):
    return [l for l in lines if l.command == "NOTICE"]


def test_one_notice_per_kline_and_dline(make_server, backend):
    srv = start(make_server, backend=backend, sections={"accounts": accounts_section(),
                                                        "privacy": {"cloak_default": False}},
                )
    root = srv.connect("root")
    oper_up(root)
    watcher = srv.connect("watcher")
    oper_up(watcher)
    victim = srv.connect("victim")
    barrier(root, "a")
    barrier(watcher, "a")
    # a K-line that disconnects a client: the setter gets its reply, every other
    # operator the one notice of the ban; the exit has its connection notice
    root.send("KLINE victim@127.0.0.1 :spamming")
    victim.expect_closed()
    exit_notice = "Client exiting: victim (victim@127.0.0.1) [K-lined: spamming]"
    assert notices(barrier(root, "b")) == [
        ":%s NOTICE root :Added KLINE victim@127.0.0.1" % SERVER_NAME, snotice("root", exit_notice)]
    assert notices(barrier(watcher, "b")) == [
        snotice("watcher", "root added KLINE victim@127.0.0.1 (spamming)"), snotice("watcher", exit_notice)]
    # a temporary D-line that matches nobody
    root.send("DLINE 5 10.1.2.3 :short")
    assert notices(barrier(root, "c")) == [":%s NOTICE root :Added DLINE 10.1.2.3 (temporary)" % SERVER_NAME]
    assert notices(barrier(watcher, "c")) == [snotice("watcher", "root added DLINE 10.1.2.3 (short) temporarily")]
    # removals: one each
    root.send("UNKLINE victim@127.0.0.1")
    root.send("UNDLINE 10.1.2.3")
    assert notices(barrier(root, "d")) == [":%s NOTICE root :Removed victim@127.0.0.1" % SERVER_NAME,
                                           ":%s NOTICE root :Removed 10.1.2.3" % SERVER_NAME]
    assert notices(barrier(watcher, "d")) == [snotice("watcher", "root used UNKLINE on victim@127.0.0.1"),
                                              snotice("watcher", "root used UNDLINE on 10.1.2.3")]


# --------------------------------------------------------------------------------------
# STATS l, k, d


class CountingClient(Client):
    """A Client that counts the bytes it sends; received() counts those it got."""

    sent = 0

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sent += len(data)
        super().send_raw(data)

    def received(self):
        return sum(len(l.raw) + 2 for l in self.history)  # the server ends lines with CRLF


def counting_client(srv, tls=False):
    c = CountingClient(srv.tls_port if tls else srv.port, tls=tls)
    srv.clients.append(c)
    return c


def test_stats_l_lists_listeners_with_clients_and_bytes(make_server):
    srv = start(make_server)
    root = counting_client(srv)
    root.register("root")
    oper_up(root)
    alice = counting_client(srv, tls=True)
    alice.register("alice")
    bob = counting_client(srv)
    bob.register("bob")
    bob.send("QUIT :bye")
    bob.expect_closed()
    barrier(alice, "x")
    barrier(root, "x")  # bob's exit notice included
    root.send("STATS l")
    out = root.sent, root.received() + bob.received()
    plain = (out[1], root.sent + bob.sent)
    tls = (alice.received(), alice.sent)
    assert root.read_until(lambda l: l.command == "219") == [
        num("211", "root", "%s:%d plain 1 0 %d %d :2 accepted" % (HOST, srv.port, plain[0], plain[1])),
        num("211", "root", "%s:%d tls 1 0 %d %d :1 accepted" % (HOST, srv.tls_port, tls[0], tls[1])),
        num("219", "root", "l :End of /STATS report"),
    ]
    # STATS L: one line per connection
    root.send("STATS L")
    lines = root.read_until(lambda l: l.command == "219")
    assert sorted(l.params[1] for l in lines if l.command == "211") == ["alice", "root"], lines


def test_stats_k_and_d_show_expiry_and_setter(make_server, backend):
    srv = start(make_server, backend=backend)
    root = srv.connect("root")
    oper_up(root)
    root.send("KLINE 10 temp@10.0.0.1 :for a while")
    root.expect(":%s NOTICE root :Added KLINE temp@10.0.0.1 (temporary)" % SERVER_NAME)
    root.send("KLINE perm@10.0.0.2 :forever and ever")
    root.expect(":%s NOTICE root :Added KLINE perm@10.0.0.2" % SERVER_NAME)
    root.send("DLINE 1 10.9.9.9 :a minute")
    root.expect(":%s NOTICE root :Added DLINE 10.9.9.9 (temporary)" % SERVER_NAME)
    root.send("DLINE 10.8.0.0/16 :for good")
    root.expect(":%s NOTICE root :Added DLINE 10.8.0.0/16" % SERVER_NAME)
    root.send("STATS k")
    lines = root.read_until(lambda l: l.command == "219")
    by_mask = {l.params[2]: l for l in lines if l.command == "216"}
    left = int(by_mask["temp@10.0.0.1"].params[3])
    assert 595 <= left <= 600, lines
    assert sorted(lines) == sorted([
        num("216", "root", "K temp@10.0.0.1 %d root :for a while" % left),
        num("216", "root", "K perm@10.0.0.2 permanent root :forever and ever"),
        num("219", "root", "k :End of /STATS report"),
    ])
    root.send("STATS d")
    lines = root.read_until(lambda l: l.command == "219")
    by_mask = {l.params[2]: l for l in lines if l.command == "225"}
    left = int(by_mask["10.9.9.9"].params[3])
    assert 55 <= left <= 60, lines
    assert sorted(lines) == sorted([
        num("225", "root", "D 10.9.9.9 %d root :a minute" % left),
        num("225", "root", "D 10.8.0.0/16 permanent root :for good"),
        num("219", "root", "d :End of /STATS report"),
    ])


# --------------------------------------------------------------------------------------
# HELP


def command_table():
    """{name: access} of every command in ircd/command.c's table."""
    from conftest import ROOT
    text = (ROOT / "ircd" / "command.c").read_text()
    table = dict(re.findall(r'\{"([A-Z]+)", cmd_\w+, \d+, (CMD_[A-Z]+)', text))
    assert len(table) > 40 and "KLINE" in table, table
    return table


def help_lines(c, subject):
    c.send("HELP " + subject)
    return c.read_until(lambda l: l.command in ("706", "524"))


def test_help_covers_every_command(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    table = command_table()
    assert [n for n, a in table.items() if a == "CMD_OPER"], table
    for name in sorted(table):
        lines = help_lines(root, name.lower())
        assert lines[0].command == "704" and lines[0].params[1] == name, (name, lines)
        assert lines[0].params[2].startswith(name), (name, lines)  # the syntax comes first
        assert all(l.command == "705" and l.params[1] == name for l in lines[1:-1]), lines
        assert lines[-1] == num("706", "root", "%s :End of /HELP" % name), lines


def test_help_exact_replies(make_server):
    srv = start(make_server)
    alice = srv.connect("alice")
    assert help_lines(alice, "KLINE") == [
        num("704", "alice", "KLINE :KLINE [<minutes>] [!]<user@host> [:<reason>]"),
        num("705", "alice", "KLINE :Ban a user@host mask (wildcards, or host as an address or CIDR range) and"),
        num("705", "alice", "KLINE :disconnect the clients it matches. With <minutes> the ban is temporary."),
        num("705", "alice", "KLINE :A mask matching you or (nearly) everyone needs a leading !."),
        num("705", "alice", "KLINE :The ban is stored and survives restarts. Privilege: ban."),
        num("706", "alice", "KLINE :End of /HELP"),
    ]
    alice.send("HELPOP die")
    assert alice.read_until(lambda l: l.command == "706") == [
        num("704", "alice", "DIE :DIE"),
        num("705", "alice", "DIE :Shut the server down, disconnecting everyone. Privilege: die."),
        num("706", "alice", "DIE :End of /HELP"),
    ]
    alice.send("HELP frobnicate")
    alice.expect_next(num("524", "alice", "frobnicate :No help available on this topic"))
    # the index lists the operator commands to operators only
    alice.send("HELP")
    index = alice.read_until(lambda l: l.command == "706")
    assert index[0] == num("704", "alice", "* :Parley help: HELP <command> for the syntax and use of a command")
    assert index[-1] == num("706", "alice", "* :End of /HELP")
    words = " ".join(l.params[-1] for l in index).split()
    assert "PRIVMSG" in words and "KLINE" not in words and "Operator" not in words, index
    oper_up(alice)
    alice.send("HELP")
    words = " ".join(l.params[-1] for l in alice.read_until(lambda l: l.command == "706")).split()
    table = command_table()
    assert set(table) <= set(words), set(table) - set(words)
