"""Services for users on other linked nodes (links.shared_store: both nodes use one
MariaDB database). Each node's services act for that node's users; what they do to a
user or a channel (a GHOST, a logout after DROP, ChanServ's +o, kick and topic, a forced
nick) reaches the other nodes, so the nodes never disagree on who is where."""

from chanutil import sync
from conftest import wait_for
from operutil import CHANSERV, cs_mode, cs_notice
from test_linking import names, wait_whois
from test_shared_store import PW, linked_pair, ns

FULL = ["account-notify", "extended-join"]


def registered(srv, nick, caps=None):
    """nick connects to srv and registers an account of the same name (logged in)."""
    c = srv.connect(nick, caps=caps)
    ns(c, "REGISTER " + PW, lambda l: l.command == "900")
    sync(c)
    return c


def logged_in(srv, nick, account, caps=None):
    """A connection to srv as nick, logged in to account (PASS account:password)."""
    c = srv.client()
    c.register(nick, caps=caps, password="%s:%s" % (account, PW))
    return c


def whois(c, nick):
    """The numerics of WHOIS nick (to 318), as {command: line}."""
    c.send("WHOIS " + nick)
    return {l.command: l for l in c.read_until(lambda l: l.command == "318")}


def joined(c, chan, *others):
    """c joins chan; every client in others sees the JOIN."""
    c.send("JOIN " + chan)
    c.read_until(lambda l: l.command == "366")
    for o in others:
        o.expect(lambda l: l.command == "JOIN" and l.nick == c.nick and l.params[0] == chan, timeout=10)


def test_ghost_of_a_session_on_the_other_node(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    owner = registered(a, "alice")
    owner.send("NICK alice_")
    owner.expect(lambda l: l.command == "NICK")
    watch_a, watch_b = a.connect("wa"), b.connect("wb")
    wait_whois(watch_b, "alice_")
    target = b.connect("alice")  # on b, not logged in
    wait_whois(watch_a, "alice")
    for c in (owner, watch_a):
        joined(c, "#room")
    joined(watch_b, "#room", owner)
    joined(target, "#room", owner, watch_b)
    ns(owner, "GHOST alice", lambda l: l.command == "NOTICE" and l.params[1] == "alice has been ghosted.")
    # a KILL across the network, the same reason on every node
    why = "Killed (a.parley.test (GHOST command used by alice_))"
    target.expect_error_close(why)
    for c in (watch_a, watch_b, owner):
        assert c.expect(lambda l: l.command == "QUIT" and l.nick == "alice", timeout=10).params == [why]
    for c in (watch_a, watch_b):
        assert "401" in whois(c, "alice")
        assert names(c, "#room").count("alice") == 0
    owner.send("NICK alice")
    owner.expect(lambda l: l.command == "NICK" and l.params == ["alice"])
    watch_b.expect(lambda l: l.command == "NICK" and l.nick == "alice_", timeout=10)
    assert "311" in whois(watch_b, "alice")


def test_drop_logs_out_the_account_on_every_node(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice = registered(a, "alice")
    watch_a = a.connect("wa", caps=FULL)
    watch_b = b.connect("wb", caps=FULL)
    wait_whois(watch_b, "alice")
    remote = logged_in(b, "alice2", "alice")
    wait_for(lambda: "330" in whois(watch_a, "alice2"), what="alice2's login on a")
    assert whois(watch_a, "alice2")["330"].params[2] == "alice"
    for c in (watch_a, alice):
        joined(c, "#room")
    joined(watch_b, "#room", alice)
    joined(remote, "#room", alice, watch_a)
    ns(alice, "DROP " + PW, lambda l: l.command == "NOTICE" and l.params[1] == "Your account has been dropped.")
    remote.expect(lambda l: l.command == "901", timeout=10)
    for c in (watch_a, watch_b):
        c.expect(lambda l: l.command == "ACCOUNT" and l.nick == "alice2" and l.params == ["*"], timeout=10)
        assert "330" not in whois(c, "alice2")


def test_chanserv_acts_for_joins_on_the_other_node(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice = registered(a, "alice")
    for nick in ("carol", "dave"):
        registered(b, nick).close()
    mallory = b.connect("mallory")
    wait_whois(mallory, "alice")
    joined(alice, "#reg")
    for cmd, answer in (("REGISTER #reg", "#reg is now registered to alice."),
                        ("ACCESS #reg ADD carol op", "carol added to the access list of #reg as op."),
                        ("AKICK #reg ADD mallory!*@* go away", "mallory!*@* added to the AKICK list of #reg."),
                        ("SET #reg TOPICLOCK ON", "TOPICLOCK of #reg is now ON."),
                        ("SET #reg MLOCK +nt", "MLOCK of #reg is now +nt.")):
        alice.send("PRIVMSG ChanServ :" + cmd)
        alice.expect(cs_notice(alice, answer))
    alice.send("TOPIC #reg :The official topic")
    alice.expect(lambda l: l.command == "TOPIC")
    wait_for(lambda: "@alice" in names(mallory, "#reg"), what="#reg on b")
    # auto-op on b, seen on a
    carol = logged_in(b, "carol", "carol")
    joined(carol, "#reg", alice)
    carol.expect(cs_mode("#reg", "+o carol"), timeout=10)
    alice.expect(lambda l: l.command == "MODE" and l.params == ["#reg", "+o", "carol"], timeout=10)
    wait_for(lambda: "@carol" in names(alice, "#reg"), what="carol's +o on a")
    # AKICK on b, seen on a
    mallory.send("JOIN #reg")
    mallory.expect(lambda l: l.command == "KICK" and l.source == CHANSERV and l.params[1] == "mallory", timeout=10)
    alice.expect(lambda l: l.command == "KICK" and l.params[:2] == ["#reg", "mallory"], timeout=10)
    for c in (alice, carol):
        assert "mallory" not in names(c, "#reg")
    # TOPICLOCK and MLOCK for a user of b
    dave = logged_in(b, "dave", "dave")
    joined(dave, "#reg", alice)
    carol.send("MODE #reg -t+o dave")
    alice.expect(lambda l: l.command == "MODE" and l.params == ["#reg", "-t"], timeout=10)
    carol.expect(cs_mode("#reg", "+t"), timeout=10)
    alice.expect(lambda l: l.command == "MODE" and l.params == ["#reg", "+t"], timeout=10)
    dave.send("TOPIC #reg :hijacked")
    dave.expect(cs_notice(dave, "The topic of #reg is locked."), timeout=10)
    alice.expect(lambda l: l.command == "TOPIC" and l.params == ["#reg", "hijacked"], timeout=10)
    alice.expect(lambda l: l.command == "TOPIC" and l.params == ["#reg", "The official topic"], timeout=10)
    for c in (alice, dave):
        sync(c)
        c.send("TOPIC #reg")
        assert c.expect(lambda l: l.command == "332", timeout=10).params[2] == "The official topic"
        c.send("MODE #reg")
        assert "t" in c.expect(lambda l: l.command == "324", timeout=10).params[2]


def test_nick_enforcement_on_the_other_node(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True, accounts={"nick_enforce_delay": 1})
    alice = registered(a, "alice")
    alice.send("NICK alice_")
    alice.expect(lambda l: l.command == "NICK")
    joined(alice, "#room")
    mallory = b.connect("mallory")
    wait_whois(mallory, "alice_")
    joined(mallory, "#room", alice)
    mallory.send("NICK alice")
    mallory.expect(lambda l: l.command == "NOTICE" and l.nick == "NickServ" and "registered to the account alice"
                   in l.params[1], timeout=10)
    alice.expect(lambda l: l.command == "NICK" and l.nick == "mallory" and l.params == ["alice"], timeout=10)
    # renamed on b after the delay: a sees the same rename
    renamed = mallory.expect(lambda l: l.command == "NICK" and l.nick == "alice", timeout=10).params[0]
    assert renamed.startswith("Guest"), renamed
    seen = alice.expect(lambda l: l.command == "NICK" and l.nick == "alice", timeout=10)
    assert seen.params == [renamed]
    assert "401" in whois(alice, "alice")
    assert "311" in whois(alice, renamed)
    assert sorted(names(alice, "#room")) == sorted(["@alice_", renamed])
    # the nick is free again on both: its owner takes it on a
    alice.send("NICK alice")
    alice.expect(lambda l: l.command == "NICK" and l.params == ["alice"])
    mallory.expect(lambda l: l.command == "NICK" and l.nick == "alice_", timeout=10)


def test_histserv_on_the_other_node_reads_the_one_store(make_server, mariadb_backend):
    a, b = linked_pair(make_server, mariadb_backend, shared=True)
    alice = a.connect("alice")
    bob = b.connect("bob")
    wait_whois(bob, "alice")
    joined(alice, "#net")
    joined(bob, "#net", alice)
    for i in range(3):
        alice.send("PRIVMSG #net :pineapple from a %d" % i)
        bob.expect(lambda l, i=i: l.command == "PRIVMSG" and l.params[1] == "pineapple from a %d" % i,
                   timeout=10)
    wait_for(lambda: len(mariadb_backend.query("SELECT msgid FROM messages WHERE target_key = '#net'")) == 3,
             what="a's rows")

    bob.send("PRIVMSG HistServ :PLAY #net 10")
    lines = [l.params[1] for l in bob.read_until(lambda l: l.command == "NOTICE" and l.params[1].startswith("End of"),
                                                 timeout=10) if l.command == "NOTICE"]
    said = [t for t in lines if "from a" in t]
    assert len(said) == 3 and all("from a %d" % i in t for i, t in enumerate(said)), lines
    bob.send("PRIVMSG HistServ :SEARCH #net pineapple")
    lines = [l.params[1] for l in bob.read_until(lambda l: l.command == "NOTICE" and l.params[1].startswith(
        ("End of", "No messages")), timeout=10) if l.command == "NOTICE"]
    assert len([t for t in lines if "from a" in t]) == 3, lines


def test_always_on_user_and_a_login_on_the_other_node(make_server, mariadb_backend):
    """The account's always-on user stays on a; a login on b is another user of the
    account (the nick is taken); when it leaves, it quits: one always-on user, on a."""
    a, b = linked_pair(make_server, mariadb_backend, shared=True, accounts={"always_on": True})
    alice = registered(a, "alice")
    joined(alice, "#room")
    watch_b = b.connect("wb")
    wait_whois(watch_b, "alice")
    joined(watch_b, "#room", alice)
    alice.send("QUIT :bye")
    alice.expect_closed()
    wait_for(lambda: mariadb_backend.query("SELECT nick FROM always_on_users") == [("alice",)],
             what="alice's stored presence")
    assert "311" in whois(watch_b, "alice")
    # the same account on b: the nick is the always-on user's, so another one
    c = b.client()
    c.send("PASS :alice:" + PW)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice")
    c.expect(lambda l: l.command == "433", timeout=10)
    c.send("NICK alice2")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.nick = "alice2"
    assert whois(watch_b, "alice2")["330"].params[2] == "alice"
    joined(c, "#room", watch_b)
    c.send("QUIT :bye")
    c.expect_closed()
    watch_b.expect(lambda l: l.command == "QUIT" and l.nick == "alice2", timeout=10)
    sync(watch_b)
    assert "311" in whois(watch_b, "alice")
    assert "401" in whois(watch_b, "alice2")
    assert mariadb_backend.query("SELECT nick FROM always_on_users") == [("alice",)]
    assert sorted(n.lstrip("@+") for n in names(watch_b, "#room")) == ["alice", "wb"]


def test_chanserv_of_separate_stores_acts_on_users_of_the_other_node(make_server):
    """Separate stores: only a's ChanServ knows the room; what it does to a member on b
    (an AKICK added on a) reaches b as a KICK from a's server."""
    a, b = linked_pair(make_server)
    alice = registered(a, "alice")
    joined(alice, "#reg")
    alice.send("PRIVMSG ChanServ :REGISTER #reg")
    alice.expect(cs_notice(alice, "#reg is now registered to alice."))
    bob = b.connect("bob")
    wait_for(lambda: "@alice" in names(bob, "#reg"), what="#reg on b")
    joined(bob, "#reg", alice)
    alice.send("PRIVMSG ChanServ :AKICK #reg ADD bob!*@* not here")
    alice.expect(cs_notice(alice, "bob!*@* added to the AKICK list of #reg."))
    alice.expect(lambda l: l.command == "KICK" and l.source == CHANSERV and l.params[1] == "bob")
    kick = bob.expect(lambda l: l.command == "KICK" and l.params[:2] == ["#reg", "bob"], timeout=10)
    assert kick.source == "a.parley.test" and kick.params[2] == "not here"
    assert names(bob, "#reg") == ["@alice"]
    assert names(alice, "#reg") == ["@alice"]
