"""Helpers shared by the channel and messaging tests (test_channels, test_modes,
test_messages, test_queries, test_ircv3).

* ``mask(client_or_nick)``: the nick!user@host a test client shows (the harness
  registers with user = nick[:10] from 127.0.0.1).
* ``sync(c)``: a PING round trip; returns (consuming) every line received before the
  PONG. Once it returns, the server has handled everything c sent before.
* ``quiet(actor, *observers)``: asserts that none of them has anything unconsumed, using
  PING barriers instead of sleeps. The actor is synced first, so its commands have been
  handled before the observers' PINGs arrive, and anything they caused for the
  observers is queued before their PONGs.
* ``join(c, chan, *members)``: joins and consumes the JOIN echo, topic and NAMES; each
  member given consumes the JOIN line it sees.
* ``expect_names(c, chan, items, symbol)``: the 353 lines (in any order of nicks, which
  no specification fixes) and the exact 366.
* ``isupport(lines)``: the 005 tokens of a registration burst as a dict.
"""

import calendar
import itertools
import re
import time

from conftest import HOST, SERVER_NAME

S = ":" + SERVER_NAME

_tokens = itertools.count(1)


def nick_of(c):
    return c if isinstance(c, str) else c.nick


def mask(c, user=None):
    """nick!user@127.0.0.1 for a harness client (or a nick)."""
    nick = nick_of(c)
    return "%s!%s@%s" % (nick, user or nick[:10], HOST)


def num(code, c, *rest):
    """An exact numeric line for client (or nick) c: num("403", alice, "#x :No such channel")."""
    return " ".join((S, code, nick_of(c)) + rest)


def sync(c):
    """PING round trip; returns (consumes) the lines received before the PONG."""
    tok = "sync%d" % next(_tokens)
    c.send("PING " + tok)
    lines = c.read_until(lambda l: l.command == "PONG" and l.params[-1:] == [tok])
    return lines[:-1]


def quiet(*clients):
    """Asserts no client in clients received anything not yet consumed. Pass the client
    whose command could have caused output first."""
    for c in clients:
        extra = sync(c)
        assert not extra, "%r: unexpected lines: %r" % (c, extra)


def join(c, chan, *members, key=None):
    """c joins chan (which must succeed); returns the lines c got for it (JOIN ... 366).
    Each of members consumes the JOIN line announcing c."""
    c.send("JOIN %s%s" % (chan, " " + key if key else ""))
    who = mask(c)
    lines = c.read_until(lambda l: l.command == "366" and len(l.params) > 1 and l.params[1] == chan)
    assert lines[0].command == "JOIN" and lines[0].source == who and lines[0].params[0] == chan, lines
    for m in members:
        m.expect(lambda l, who=who: l.command == "JOIN" and l.source == who and l.params[0] == chan)
    return lines


def part(c, chan, *members):
    c.send("PART " + chan)
    who = mask(c)
    for m in (c,) + members:
        m.expect(lambda l, who=who: l.command == "PART" and l.source == who and l.params[0] == chan)


def names_items(lines, c, chan, symbol="="):
    """Checks the 353 lines' fixed part and returns the list of entries they hold."""
    items = []
    head = "%s 353 %s %s %s :" % (S, nick_of(c), symbol, chan)
    for l in lines:
        assert l.startswith(head), "bad 353 %r (want it to start %r)" % (l, head)
        items += l[len(head):].split(" ")
    return items


def expect_names(c, chan, items, symbol="=", end=None):
    """Expects the next lines to be 353s listing exactly items (any order), then the
    366 for end (default chan)."""
    end = chan if end is None else end
    lines = c.read_until(lambda l: l.command == "366")
    assert lines[-1] == "%s 366 %s %s :End of /NAMES list" % (S, nick_of(c), end), lines
    got = names_items(lines[:-1], c, chan, symbol)
    assert sorted(got) == sorted(items), "NAMES %s: got %r, want %r" % (chan, got, items)
    assert len(got) == len(set(got)), got
    return lines


def set_modes(op, chan, modes, *members):
    """op sets modes (e.g. "+i" or "+k key"); op and members consume the MODE line."""
    op.send("MODE %s %s" % (chan, modes))
    want = ":%s MODE %s %s" % (mask(op), chan, modes)
    for m in (op,) + members:
        m.expect(lambda l: strip_tags(l) == want)


def isupport(lines):
    tokens = {}
    for l in lines:
        if l.command == "005":
            for tok in l.params[1:-1]:
                k, _, v = tok.partition("=")
                tokens[k] = v
    return tokens


TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def check_time_tag(value, slack=60):
    """A server-time value: the exact format, and close to now."""
    assert TIME_RE.match(value), value
    t = calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(t - time.time()) < slack, value


def strip_tags(line):
    """The line without its tag section."""
    return line.split(" ", 1)[1] if line.startswith("@") else str(line)


FAST_ACCOUNTS = {"accounts": {"scrypt_n": 1024, "scrypt_r": 1}}


def register_account(c, password="hunter2hunter2"):
    """Registers (and logs in) an account named after c's nick through NickServ;
    returns the lines up to and including the 900."""
    c.send("PRIVMSG NickServ :REGISTER " + password)
    lines = c.read_until(lambda l: l.command == "900")
    assert lines == [
        ":NickServ!NickServ@services. NOTICE %s :Account %s registered. You are now logged in." % (c.nick, c.nick),
        num("900", c, "%s %s :You are now logged in as %s" % (mask(c), c.nick, c.nick)),
    ], lines
    return lines
