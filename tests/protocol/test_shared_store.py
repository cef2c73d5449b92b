"""Linked Parley nodes and their stores: network-unique msgids (the origin's SID in
every msgid), history of the whole network on every node (each node storing what it
relays, or, with links.shared_store, each message stored once by its origin in the one
database all nodes use), and services answering from every node of a shared store."""

import re

from conftest import wait_for
from test_linking import connect_blocks, wait_whois

FULL = ["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"]


def linked_pair(make_server, backend=None, shared=False, **settings):
    """Nodes a (SID 1AA) and b (SID 2BB), b connecting to a; with backend both use it."""
    def blocks(*peers):
        text = connect_blocks(*peers)
        return text.replace("links = { ", "links = { shared_store = true; ") if shared else text
    kw = dict(settings, flood_enabled=False, sections={"accounts": {"scrypt_n": 1024}})
    if backend is not None:
        kw["backend"] = backend
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=blocks(("b.parley.test", 1, False)), **kw)
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=blocks(("a.parley.test", a.port, True)), **kw)
    return a, b


def in_room(a, b, chan="#net"):
    """alice on a and bob on b, both in chan, each seeing the other."""
    alice = a.connect("alice", caps=FULL)
    bob = b.connect("bob", caps=FULL)
    wait_whois(bob, "alice")
    alice.send("JOIN " + chan)
    alice.read_until(lambda l: l.command == "366")
    bob.send("JOIN " + chan)
    bob.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"), timeout=10)
    return alice, bob


def say(c, other, chan, text):
    """c says text in chan; returns the echo, after other got the same message."""
    c.send("PRIVMSG %s :%s" % (chan, text))
    echo = c.expect(lambda l: l.command == "PRIVMSG" and l.params == [chan, text])
    got = other.expect(lambda l: l.command == "PRIVMSG" and l.params == [chan, text], timeout=10)
    assert (got.tags["msgid"], got.tags["time"]) == (echo.tags["msgid"], echo.tags["time"])
    return echo


def history(c, chan, limit=50):
    """CHATHISTORY LATEST chan * limit: the (msgid, nick, text) of each PRIVMSG, oldest first."""
    c.send("CHATHISTORY LATEST %s * %d" % (chan, limit))
    head = c.expect_next(lambda l: l.command == "BATCH")
    assert head.params[0].startswith("+") and head.params[1:] == ["chathistory", chan], head
    lines = c.read_until(lambda l: l.command == "BATCH" and l.params[0] == "-" + head.params[0][1:], timeout=10)
    return [(l.tags["msgid"], l.nick, l.params[1]) for l in lines[:-1] if l.command == "PRIVMSG"]


def test_msgids_are_network_unique_and_carry_the_origin_sid(make_server):
    a, b = linked_pair(make_server)
    alice, bob = in_room(a, b)
    sent = []
    for i in range(20):  # many in the same millisecond on both nodes
        alice.send("PRIVMSG #net :a%d" % i)
        bob.send("PRIVMSG #net :b%d" % i)
    for i in range(20):
        for c, other, text in ((alice, bob, "a%d" % i), (bob, alice, "b%d" % i)):
            echo = c.expect(lambda l, t=text: l.command == "PRIVMSG" and l.params == ["#net", t])
            got = other.expect(lambda l, t=text: l.command == "PRIVMSG" and l.params == ["#net", t], timeout=10)
            assert got.tags["msgid"] == echo.tags["msgid"]
            sent.append((c.nick, echo.tags["msgid"]))
    ids = [m for _, m in sent]
    assert len(set(ids)) == len(ids) == 40
    for nick, m in sent:
        assert re.fullmatch(r"[0-9a-f]{16}(1AA|2BB)", m), m
        assert m.endswith("1AA" if nick == "alice" else "2BB"), (nick, m)

