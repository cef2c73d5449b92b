"""Linked Parley nodes and their stores: network-unique msgids (the origin's SID in
every msgid), history of the whole network on every node (each node storing what it
relays, or, with links.shared_store, each message stored once by its origin in the one
database all nodes use), and services answering from every node of a shared store."""

import re
import time

from chanutil import sync
from conftest import free_port, wait_for
from operutil import cs_mode, cs_notice
from test_accounts import sasl_login_ok
from test_metrics import scrape
from test_linking import connect_blocks, names, wait_whois

FULL = ["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"]


def linked_pair(make_server, backend=None, shared=False, accounts=None, **settings):
    """Nodes a (SID 1AA) and b (SID 2BB), b connecting to a; with backend both use it;
    accounts: more settings of the accounts group."""
    def blocks(*peers):
        text = connect_blocks(*peers)
        return text.replace("links = { ", "links = { shared_store = true; ") if shared else text
    def node(name, sid, extra):
        port = free_port()
        kw = dict(settings, flood_enabled=False,
                  sections={"accounts": dict({"scrypt_n": 1024}, **(accounts or {})), "metrics": {"port": port}})
        if backend is not None:
            kw["backend"] = backend
        srv = make_server(server_name=name, server_keys={"sid": sid}, extra=extra, **kw)
        srv.metrics_port = port
        return srv
    a = node("a.parley.test", "1AA", blocks(("b.parley.test", 1, False)))
    b = node("b.parley.test", "2BB", blocks(("a.parley.test", a.port, True)))
    return a, b


def rows_written(srv):
    """How many history rows srv has written to its database."""
    return scrape(srv.metrics_port)[1]["parley_history_rows_written_total"]


def in_room(a, b, chan="#net"):
    """alice on a and bob on b, both in chan, each seeing the other."""
    alice = a.connect("alice", caps=FULL)
    bob = b.connect("bob", caps=FULL)
    wait_whois(bob, "alice")
    alice.send("JOIN " + chan)
    alice.read_until(lambda l: l.command == "366")
    wait_for(lambda: "@alice" in names(bob, chan), what="alice's channel on b")
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
    sync(c)
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
        # a node that links gives the low 8 bits of the value to its SID (base 36, mod 256)
        assert int(m[:16], 16) & 0xff == (0x82 if nick == "alice" else 0xb7), (nick, m)


def exchange(alice, bob, chan="#net", n=4):
    """alice and bob take turns; returns (msgid, nick, text) of each in the network's
    order: by msgid, which is by time (two nodes' messages in one millisecond are ordered
    by their SID bits, the same way on every node)."""
    sent = []
    for i in range(n):
        for c, other in ((alice, bob), (bob, alice)):
            text = "%s %d" % (c.nick, i)
            sent.append((say(c, other, chan, text).tags["msgid"], c.nick, text))
    assert len({m for m, _, _ in sent}) == len(sent)
    return sorted(sent, key=lambda s: s[0][:16])


def test_separate_stores_each_keep_the_networks_history(make_server):
    a, b = linked_pair(make_server)
    alice, bob = in_room(a, b)
    sent = exchange(alice, bob)
    # each node's own store has every message, with the origin's msgid, once, in order
    assert history(bob, "#net") == sent
    assert history(alice, "#net") == sent
    assert rows_written(a) == rows_written(b) == 8
    carol = b.connect("carol", caps=FULL)
    carol.send("JOIN #net")
    carol.read_until(lambda l: l.command == "366")
    assert history(carol, "#net", 3) == sent[-3:]


def test_shared_store_keeps_each_message_once(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice, bob = in_room(a, b)
    sent = exchange(alice, bob)
    # each node writes its own messages, in batches (history.batch_ms): once both have,
    # the database holds every message once, and either node reads the whole channel
    ids = [m for m, _, _ in sent]
    wait_for(lambda: [r[0] for r in mariadb_backend.query(
        "SELECT msgid FROM messages WHERE target_key = '#net' ORDER BY seq")] == ids, what="both nodes' rows")
    assert history(bob, "#net") == sent
    assert history(alice, "#net") == sent
    time.sleep(0.2)  # a node that also wrote the other's messages would have done so by now
    assert rows_written(a) == rows_written(b) == 4  # each its own user's
    # a direct message between accounts: stored by a only, read on b
    ns(alice, "REGISTER " + PW, lambda l: l.command == "900")
    ns(bob, "REGISTER " + PW, lambda l: l.command == "900")
    wait_for(lambda: rows_written(a) == 4, what="a's rows")  # (settled)
    alice.send("PRIVMSG bob :just us")
    dm = alice.expect(lambda l: l.command == "PRIVMSG" and l.params == ["bob", "just us"]).tags["msgid"]
    bob.expect(lambda l: l.command == "PRIVMSG" and l.params == ["bob", "just us"], timeout=10)
    wait_for(lambda: rows_written(a) == 5, what="a's row")
    sync(bob)
    assert dm_history(bob, "alice") == [(dm, "alice", "just us")]
    time.sleep(0.2)
    assert rows_written(b) == 4


# --------------------------------------------------------------------------------------
# Services with a shared store

PW = "hunter2hunter2"
NEW_PW = "correcthorsebattery"


def ns(c, text, expect):
    """c says text to NickServ; returns the first NickServ notice or numeric matching expect."""
    c.send("PRIVMSG NickServ :" + text)
    return c.expect(expect, timeout=10)


def identify_result(srv, account, password, nick):
    """A fresh connection on srv IDENTIFYs: "900" (logged in) or NickServ's refusal."""
    c = srv.connect(nick)
    line = ns(c, "IDENTIFY %s %s" % (account, password),
              lambda l: l.command == "900" or (l.command == "NOTICE" and l.nick == "NickServ"))
    c.close()
    return line.command if line.command == "900" else line.params[1]


def test_accounts_are_one_on_every_node(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice = a.connect("alice")
    ns(alice, "REGISTER " + PW, lambda l: l.command == "900")
    # the account registered on a: SASL PLAIN and IDENTIFY on b
    assert sasl_login_ok(b, "alice", PW, nick="sasl1")
    assert identify_result(b, "alice", PW, "id1") == "900"  # b remembers this check now
    # the password changed on a: the old one fails on b at once, the new one works
    ns(alice, "SET PASSWORD " + NEW_PW, lambda l: l.command == "NOTICE" and l.params[1].startswith("Password changed"))
    assert identify_result(b, "alice", PW, "id2") == "Login failed: Invalid password."
    assert not sasl_login_ok(b, "alice", PW, nick="sasl2")
    assert sasl_login_ok(b, "alice", NEW_PW, nick="sasl3")
    assert identify_result(b, "alice", NEW_PW, "id3") == "900"


def test_chanserv_changes_on_one_node_apply_on_the_other(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice = a.connect("alice", caps=FULL)
    ns(alice, "REGISTER " + PW, lambda l: l.command == "900")
    other = b.client()
    other.register("alice2", password="alice:" + PW)
    wait_whois(other, "alice")  # linked
    alice.send("JOIN #reg")
    alice.read_until(lambda l: l.command == "366")
    alice.send("PRIVMSG ChanServ :REGISTER #reg")
    alice.expect(cs_notice(alice, "#reg is now registered to alice."))
    # on b: ChanServ knows the room, and gives its founder (logged in on b) +o on JOIN

    def info():
        other.send("PRIVMSG ChanServ :INFO #reg")
        return other.expect(lambda l: l.command == "NOTICE" and l.nick == "ChanServ").params[1]
    assert wait_for(lambda: info() == "Information on #reg:", what="the registration on b")
    wait_for(lambda: "@alice" in names(other, "#reg"), what="#reg on b")
    other.send("JOIN #reg")
    other.expect(cs_mode("#reg", "+o alice2"), timeout=10)
    # an access entry added on a applies on b at once: carol, in the room on b, gets +o
    carol = b.connect("carol")
    ns(carol, "REGISTER " + PW, lambda l: l.command == "900")
    carol.send("JOIN #reg")
    carol.read_until(lambda l: l.command == "366")
    alice.send("PRIVMSG ChanServ :ACCESS #reg ADD carol op")
    alice.expect(cs_notice(alice, "carol added to the access list of #reg as op."))
    carol.expect(cs_mode("#reg", "+o carol"), timeout=10)

    def access_on_b():
        other.send("PRIVMSG ChanServ :ACCESS #reg LIST")
        lines = other.read_until(lambda l: l.command == "NOTICE" and l.params[1] == "End of access list.")
        return [l.params[1] for l in lines if l.command == "NOTICE" and l.nick == "ChanServ"]
    # b's own ChanServ has the entry (the +o above may have come from a's)
    wait_for(lambda: access_on_b() == ["Access list of #reg:", "  %-20s founder" % "alice", "  %-20s op" % "carol",
                                       "End of access list."], what="the access entry on b")
    # dropped on a: b forgets it
    alice.send("PRIVMSG ChanServ :DROP #reg")
    alice.expect(cs_notice(alice, "#reg has been dropped."))
    other.drain()
    wait_for(lambda: info() == "#reg is not registered.", what="the drop on b")


def test_a_node_that_links_reads_the_rooms_changed_while_apart(make_server, mariadb_backend):
    from operutil import OPER_PASSWORD, oper_block, operators_text
    shared = "links = { shared_store = true; connect_retry = 1; ping_frequency = 5; ping_timeout = 5; };\n"
    block = ("connect = ( { name = \"%s\"; address = \"127.0.0.1\"; port = %d; send_password = \"pw\";"
             " accept_password = \"pw\"; autoconnect = false; } );\n")
    kw = dict(backend=mariadb_backend, flood_enabled=False, sections={"accounts": {"scrypt_n": 1024}})
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=block % ("a.parley.test", 1) + shared, **kw)
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=block % ("b.parley.test", b.port) + shared + operators_text(oper_block()), **kw)
    # not linked: #apart is registered on a, b's ChanServ does not know it
    alice = a.connect("alice")
    ns(alice, "REGISTER " + PW, lambda l: l.command == "900")
    alice.send("JOIN #apart")
    alice.read_until(lambda l: l.command == "366")
    alice.send("PRIVMSG ChanServ :REGISTER #apart")
    alice.expect(cs_notice(alice, "#apart is now registered to alice."))
    bob = b.connect("bob")

    def info():
        bob.send("PRIVMSG ChanServ :INFO #apart")
        return bob.expect(lambda l: l.command == "NOTICE" and l.nick == "ChanServ").params[1]
    assert info() == "#apart is not registered."
    # linked: b reads every room again
    oper = a.connect("oper")
    oper.send("OPER root " + OPER_PASSWORD)
    oper.expect(lambda l: l.command == "381")
    oper.send("CONNECT b.parley.test")
    wait_whois(oper, "bob")
    wait_for(lambda: info() == "Information on #apart:", what="#apart on b after the link")


def dm_history(c, peer):
    c.send("CHATHISTORY LATEST %s * 50" % peer)
    head = c.expect_next(lambda l: l.command == "BATCH")
    lines = c.read_until(lambda l: l.command == "BATCH" and l.params[0] == "-" + head.params[0][1:], timeout=10)
    return [(l.tags["msgid"], l.nick, l.params[1]) for l in lines[:-1] if l.command == "PRIVMSG"]


def test_direct_messages_across_nodes_are_in_both_stores(make_server):
    a, b = linked_pair(make_server)
    alice = a.connect("alice", caps=FULL)
    bob = b.connect("bob", caps=FULL)
    wait_whois(bob, "alice")
    sent = []
    for c, other, text in ((alice, bob, "hi bob"), (bob, alice, "hi alice"), (alice, bob, "bye")):
        c.send("PRIVMSG %s :%s" % (other.nick, text))
        echo = c.expect(lambda l, t=text: l.command == "PRIVMSG" and l.params[1] == t)
        got = other.expect(lambda l, t=text: l.command == "PRIVMSG" and l.params[1] == t, timeout=10)
        assert got.tags["msgid"] == echo.tags["msgid"]
        sent.append((echo.tags["msgid"], c.nick, text))
    sent.sort(key=lambda s: s[0][:16])
    sync(alice)
    sync(bob)
    assert dm_history(bob, "alice") == sent
    assert dm_history(alice, "bob") == sent
