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
