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
    assert burst - 3 <= len(pongs) <= burst + 2, pongs
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
