"""Server linking (TS6): two Parley nodes, and Parley with Debian's ircd-hybrid 8.2.

Each test starts the servers on private 127.0.0.1 ports: a client on each side joins one
channel, sees the other's JOIN, exchanges PRIVMSG, a split gives QUIT :*.net *.split and
a re-link bursts the state again. ircd-hybrid is the Debian package (`make deps`
installs it); without it the interop test fails, it is not skipped."""

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port

HYBRID = shutil.which("ircd-hybrid") or "/usr/sbin/ircd-hybrid"


def connect_block(name, port, autoconnect, send="out-pw", accept="in-pw"):
    return ("connect = ( { name = \"%s\"; address = \"127.0.0.1\"; port = %d; send_password = \"%s\";"
            " accept_password = \"%s\"; autoconnect = %s; } );\n"
            "links = { connect_retry = 1; ping_frequency = 5; ping_timeout = 5; };\n"
            % (name, port, send, accept, "true" if autoconnect else "false"))


def wait_whois(client, nick, timeout=10.0):
    """WHOIS nick until it answers 311 (the remote user arrived); returns the 312 line."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        client.send("WHOIS " + nick)
        lines = client.read_until(lambda l: l.command in ("318",))
        if any(l.command == "311" for l in lines):
            return next(l for l in lines if l.command == "312")
        time.sleep(0.2)
    raise AssertionError("%s never became visible" % nick)


def names(client, chan):
    client.drain()
    client.send("NAMES " + chan)
    lines = client.read_until(lambda l: l.command == "366")
    return " ".join(l.params[-1] for l in lines if l.command == "353").split()


def start_pair(make_server):
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw"))
    return a, lambda: make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                                  extra=connect_block("a.parley.test", a.port, True, send="a-pw", accept="b-pw"))


def test_two_parley_nodes(make_server):
    a, start_b = start_pair(make_server)
    alice = a.connect("alice")
    alice.send("JOIN #net")
    alice.expect(lambda l: l.command == "366")
    b = start_b()
    bob = b.connect("bob")
    whois = wait_whois(bob, "alice")
    assert whois.params[1:] == ["alice", "a.parley.test", "Parley test server"]
    # bob's JOIN reaches alice; bob sees alice (op, from the SJOIN burst) in NAMES
    bob.send("JOIN #net")
    j = alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"))
    assert j.params == ["#net"]
    assert "@alice" in bob.read_until(lambda l: l.command == "366")[-2].params[-1].split()
    assert sorted(names(alice, "#net")) == ["@alice", "bob"]
    # channel and private messages, both ways
    alice.send("PRIVMSG #net :hello from a")
    m = bob.expect(lambda l: l.command == "PRIVMSG")
    assert m.source.startswith("alice!") and m.params == ["#net", "hello from a"]
    bob.send("PRIVMSG alice :hi alice")
    m = alice.expect(lambda l: l.command == "PRIVMSG")
    assert m.source.startswith("bob!") and m.params == ["alice", "hi alice"]
    # channel modes both ways: alice ops bob (TMODE), then bob, an operator on b, sets +m
    alice.send("MODE #net +o bob")
    mo = bob.expect(lambda l: l.command == "MODE" and l.params[0] == "#net")
    assert mo.source.startswith("alice!") and mo.params == ["#net", "+o", "bob"]
    bob.send("MODE #net +m")
    mo = alice.expect(lambda l: l.command == "MODE" and l.params[1:] == ["+m"])
    assert mo.source.startswith("bob!") and mo.params[0] == "#net"
    # LUSERS and LINKS count the network
    alice.drain()
    alice.send("LUSERS")
    lu = alice.read_until(lambda l: l.command == "266")
    assert next(l for l in lu if l.command == "251").params[-1] == "There are 2 users and 0 invisible on 2 servers"
    assert next(l for l in lu if l.command == "255").params[-1] == "I have 1 clients and 1 servers"
    assert next(l for l in lu if l.command == "265").params[1:] == ["1", "1", "Current local users 1, max 1"]
    assert next(l for l in lu if l.command == "266").params[1:] == ["2", "2", "Current global users 2, max 2"]
    alice.send("LINKS")
    li = alice.read_until(lambda l: l.command == "365")
    assert [l.params[1:] for l in li if l.command == "364"] == [
        ["a.parley.test", "a.parley.test", "0 Parley test server"],
        ["b.parley.test", "a.parley.test", "1 Parley test server"]]
    # topic and nick changes travel; the remote WHOIS is answered from the burst state
    alice.send("TOPIC #net :the net")
    t = bob.expect(lambda l: l.command == "TOPIC")
    assert t.params == ["#net", "the net"]
    bob.send("NICK bobby")
    n = alice.expect(lambda l: l.command == "NICK")
    assert n.source.startswith("bob!") and n.params == ["bobby"]
    assert wait_whois(alice, "bobby").params[1:3] == ["bobby", "b.parley.test"]
    # PART and re-JOIN
    bob.send("PART #net :brb")
    p = alice.expect(lambda l: l.command == "PART")
    assert p.source.startswith("bobby!") and p.params == ["#net", "brb"]
    bob.send("JOIN #net")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bobby!"))
    # split: b goes away, alice sees bobby QUIT with the netsplit reason
    b.stop()
    q = alice.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("bobby!") and q.params == ["*.net *.split"]
    assert names(alice, "#net") == ["@alice"]
    # LUSERS: the network is alice's server alone now; its peak stays
    alice.send("LUSERS")
    lu = alice.read_until(lambda l: l.command == "266")
    assert next(l for l in lu if l.command == "251").params[-1] == "There are 1 users and 0 invisible on 1 servers"
    assert next(l for l in lu if l.command == "255").params[-1] == "I have 1 clients and 0 servers"
    assert next(l for l in lu if l.command == "266").params[1:] == ["1", "2", "Current global users 1, max 2"]
    # re-link: a new b bursts, its user joins and sees alice and the topic
    b2 = start_b()
    carol = b2.connect("carol")
    wait_whois(carol, "alice")
    carol.send("JOIN #net")
    lines = carol.read_until(lambda l: l.command == "366")
    assert any(l.command == "332" and l.params[-1] == "the net" for l in lines)
    assert sorted(next(l for l in lines if l.command == "353").params[-1].split()) == ["@alice", "carol"]
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("carol!"))


def test_nick_collision_kills_newer(make_server):
    a, start_b = start_pair(make_server)
    old = a.connect("same")
    time.sleep(1.1)  # a later nick timestamp on b
    b = start_b()
    new = b.connect("same")
    # the burst brings a's older "same" to b: b's newer user is killed
    new.expect(lambda l: l.command == "ERROR" and "Nick collision" in l.params[-1], timeout=10)
    watcher = b.connect("watcher")
    assert wait_whois(watcher, "same").params[2] == "a.parley.test"
    old.send("PING :still")
    old.expect(lambda l: l.command == "PONG")


def test_bad_password_refused(make_server):
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw"))
    c = a.client()
    c.send("PASS wrong TS 6 :2BB")
    c.send("SERVER b.parley.test 1 2BB + :fake")
    c.expect_error_close("Invalid password")
    c = a.client()
    c.send("PASS a-pw TS 6 :2BB")
    c.send("SERVER other.parley.test 1 2BB + :fake")
    c.expect_error_close("No connect block")


# ---- ircd-hybrid --------------------------------------------------------------------

HYBRID_CONF = """
serverinfo {
	name = "hybrid.test";
	sid = "3HY";
	description = "hybrid under test";
	network_name = "Parley";
	network_desc = "test";
	hub = yes;
	max_clients = 100;
};
admin { name = "t"; description = "t"; email = "t@t"; };
class { name = "users"; ping_time = 90 seconds; max_number = 100; sendq = 100 kbytes; number_per_ip_local = 50; };
class { name = "server"; ping_time = 90 seconds; connectfreq = 1 seconds; max_number = 5; sendq = 2 megabytes; };
listen { host = "127.0.0.1"; port = %(port)d; };
auth { user = "*@*"; class = "users"; };
connect {
	name = "a.parley.test";
	host = "127.0.0.1";
	port = %(parley_port)d;
	send_password = "a-pw";
	accept_password = "h-pw";
	class = "server";
	hub_mask = "*";
};
general {
	disable_auth = yes;
	throttle_time = 0;
	ts_max_delta = 5 minutes;
};
channel { enable_owner = no; enable_admin = no; };
serverhide { hide_servers = no; };
/* hybrid takes account changes (SVSACCOUNT) only from a services server */
service { name = "a.parley.test"; };
motd { mask = "*"; file = "%(dir)s/motd"; };
log { use_logging = no; };
"""


class Hybrid:
    def __init__(self, directory, parley_port, port):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o777)
        self.port = port
        (self.dir / "motd").write_text("hybrid\n")
        conf = HYBRID_CONF % {"port": self.port, "parley_port": parley_port, "dir": self.dir}
        (self.dir / "ircd.conf").write_text(conf)
        self.proc = None

    def start(self):
        d = self.dir
        cmd = [HYBRID, "-foreground", "-configfile", str(d / "ircd.conf"), "-logfile", str(d / "ircd.log"),
               "-pidfile", str(d / "ircd.pid"), "-klinefile", str(d / "kline.db"), "-dlinefile", str(d / "dline.db"),
               "-xlinefile", str(d / "xline.db"), "-resvfile", str(d / "resv.db")]
        if os.geteuid() == 0:  # ircd-hybrid refuses to run as root
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
        self.proc = subprocess.Popen(cmd, cwd=str(d), stdin=subprocess.DEVNULL,
                                     stdout=open(d / "out.log", "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                import socket
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                assert self.proc.poll() is None, (d / "out.log").read_text()
                time.sleep(0.1)
        raise AssertionError("ircd-hybrid did not listen")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(5)


@pytest.fixture
def hybrid_factory():
    made = []
    # not under pytest's tmp_path: ircd-hybrid runs as nobody when the tests run as root,
    # and pytest's directories are private to their owner
    top = Path(tempfile.mkdtemp(prefix="parley-hybrid-"))
    os.chmod(top, 0o755)
    tmp_path = top

    def factory(parley_port, port):
        assert os.path.exists(HYBRID), "ircd-hybrid is not installed (make deps installs it)"
        h = Hybrid(tmp_path / ("hybrid%d" % len(made)), parley_port, port)
        made.append(h)
        return h
    yield factory
    for h in made:
        h.stop()
    shutil.rmtree(top, ignore_errors=True)


def test_hybrid_interop(make_server, hybrid_factory):
    from conftest import Client
    hyb_port = free_port()
    from operutil import OPER_PASSWORD, oper_block, operators_text
    p = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("hybrid.test", hyb_port, True, send="h-pw", accept="a-pw")
                    + operators_text(oper_block()))
    h = hybrid_factory(p.port, hyb_port).start()
    alice = p.connect("alice")
    alice.send("JOIN #mix")
    alice.expect(lambda l: l.command == "366")
    hc = Client(h.port)
    hc.register("hank", caps=["account-notify", "extended-join"], timeout=15)
    wait_whois(hc, "alice", timeout=15)
    hc.send("JOIN #mix")
    hl = hc.read_until(lambda l: l.command == "366")
    assert "@alice" in next(l for l in hl if l.command == "353").params[-1].split()
    j = alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("hank!"), timeout=10)
    assert j.params == ["#mix"]
    alice.send("PRIVMSG #mix :hello hybrid")
    m = hc.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("alice!") and m.params == ["#mix", "hello hybrid"]
    hc.send("PRIVMSG #mix :hello parley")
    m = alice.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("hank!") and m.params == ["#mix", "hello parley"]
    # modes both ways: alice ops hank, hank (an operator on hybrid now) sets +m
    alice.send("MODE #mix +o hank")
    mo = hc.expect(lambda l: l.command == "MODE", timeout=10)
    assert mo.source.startswith("alice!") and mo.params == ["#mix", "+o", "hank"]
    hc.send("MODE #mix +m")
    mo = alice.expect(lambda l: l.command == "MODE" and l.params[1:] == ["+m"], timeout=10)
    assert mo.source.startswith("hank!") and mo.params[0] == "#mix"
    hc.send("TOPIC #mix :mixed")
    t = alice.expect(lambda l: l.command == "TOPIC", timeout=10)
    assert t.source.startswith("hank!") and t.params == ["#mix", "mixed"]
    # alice logs in (registers) on parley: hybrid takes the account (SVSACCOUNT) and
    # tells hank (account-notify); logging out likewise
    alice.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    alice.expect(lambda l: l.command == "900")
    acc = hc.expect(lambda l: l.command == "ACCOUNT", timeout=10)
    assert acc.source.startswith("alice!") and acc.params == ["alice"]
    alice.send("PRIVMSG NickServ :LOGOUT")
    acc = hc.expect(lambda l: l.command == "ACCOUNT", timeout=10)
    assert acc.source.startswith("alice!") and acc.params == ["*"]
    # an operator on parley kills a user of hybrid: hybrid disconnects it, hank sees the QUIT
    vic = Client(h.port)
    vic.register("vic", timeout=15)
    vic.send("JOIN #mix")
    vic.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("vic!"), timeout=10)
    alice.send("OPER root " + OPER_PASSWORD)
    alice.expect(lambda l: l.command == "381")
    alice.send("KILL vic :bye")
    k = vic.expect(lambda l: l.command == "KILL", timeout=10)
    assert k.source.startswith("alice!") and k.params[0] == "vic"
    for c in (hc, alice):
        q = c.expect(lambda l: l.command == "QUIT", timeout=10)
        assert q.source.startswith("vic!") and q.params == ["Killed (alice (bye))"]
    # split: hybrid dies; hank QUITs on parley
    h.stop()
    q = alice.expect(lambda l: l.command == "QUIT", timeout=20)
    assert q.source.startswith("hank!") and q.params == ["*.net *.split"]
    # re-link: parley reconnects to a new hybrid, which gets the burst (alice in #mix)
    h2 = hybrid_factory(p.port, hyb_port).start()
    hc2 = Client(h2.port)
    hc2.register("hank2", timeout=15)
    wait_whois(hc2, "alice", timeout=15)
    hc2.send("JOIN #mix")
    hl = hc2.read_until(lambda l: l.command == "366")
    assert "@alice" in next(l for l in hl if l.command == "353").params[-1].split()
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("hank2!"), timeout=10)


# ---- accounts: several sessions, always-on ------------------------------------------

PASSWORD = "hunter2hunter2"


def sasl_session(srv, nick, caps=()):
    """A connection logged in to account nick with SASL PLAIN, registered as nick (a
    session of the user when nick is already in use by the account)."""
    from conftest import authenticate
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :" + " ".join(("sasl",) + tuple(caps)))
    c.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    assert authenticate(c, nick, PASSWORD).command == "903"
    c.send("NICK " + nick)
    c.send("USER %s 0 * :%s" % (nick, nick))
    c.send("CAP END")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.nick = nick
    return c


def test_session_handover_and_always_on_keep_the_user_on_the_network(make_server):
    a, start_b = start_pair(make_server)
    first = a.connect("alice")
    first.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    first.expect(lambda l: l.command == "900")
    first.send("JOIN #net")
    first.expect(lambda l: l.command == "366")
    second = sasl_session(a, "alice")
    b = start_b()
    bob = b.connect("bob", caps=["away-notify"])
    wait_whois(bob, "alice")
    bob.send("JOIN #net")
    bob.read_until(lambda l: l.command == "366")
    first.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"))
    # the first connection leaves: the user stays (the other session takes it over),
    # bob sees no QUIT, and the network still reaches the user by its UID
    first.send("QUIT :one of two")
    first.expect_closed()
    second.send("PRIVMSG #net :still here")
    m = bob.expect_next(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("alice!") and m.params == ["#net", "still here"]
    bob.send("PRIVMSG alice :are you?")
    m = second.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("bob!") and m.params == ["alice", "are you?"]
    # always-on: the last connection leaves, bob sees the user go away, not quit
    second.send("PRIVMSG NickServ :SET ALWAYS-ON ON")
    second.expect(lambda l: l.command == "NOTICE" and "Always-on is now on" in l.params[-1])
    second.send("QUIT :gone for the night")
    second.expect_closed()
    aw = bob.expect_next(lambda l: l.command == "AWAY", timeout=10)
    assert aw.source.startswith("alice!") and aw.params == ["Always-on (disconnected)"]
    # the account's next login takes the user back: bob sees it come back from away
    third = sasl_session(a, "alice")
    aw = bob.expect_next(lambda l: l.command == "AWAY", timeout=10)
    assert aw.source.startswith("alice!") and aw.params == []
    third.send("PRIVMSG #net :back")
    m = bob.expect_next(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.params == ["#net", "back"]


def test_account_changes_reach_the_other_node(make_server):
    a, start_b = start_pair(make_server)
    alice = a.connect("alice")
    alice.send("JOIN #acct")
    alice.read_until(lambda l: l.command == "366")
    b = start_b()
    bob = b.connect("bob", caps=["account-notify", "extended-join", "account-tag", "message-tags"])
    wait_whois(bob, "alice")
    bob.send("JOIN #acct")
    bob.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"))
    # alice registers (and so logs in) on a: bob, on b, gets account-notify
    alice.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    alice.expect(lambda l: l.command == "900")
    acc = bob.expect_next(lambda l: l.command == "ACCOUNT", timeout=10)
    assert acc.source.startswith("alice!") and acc.params == ["alice"]
    # WHOIS on b shows the account; her messages carry the account tag
    bob.send("WHOIS alice")
    wl = bob.read_until(lambda l: l.command == "318")
    assert [l.params[1:] for l in wl if l.command == "330"] == [["alice", "alice", "is logged in as"]]
    alice.send("PRIVMSG #acct :signed")
    m = bob.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.tags.get("account") == "alice" and m.params == ["#acct", "signed"]
    # a user already logged in when it joins: extended-join on b names the account
    carol = a.connect("carol")
    carol.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    carol.expect(lambda l: l.command == "900")
    carol.send("JOIN #acct")
    j = bob.expect(lambda l: l.command == "JOIN" and l.source.startswith("carol!"), timeout=10)
    assert j.params == ["#acct", "carol", "Parley Tester"]
    # logging out on a: account-notify "*" on b, no account in WHOIS or tags
    alice.send("PRIVMSG NickServ :LOGOUT")
    alice.expect(lambda l: l.command == "901")
    acc = bob.expect(lambda l: l.command == "ACCOUNT" and l.source.startswith("alice!"), timeout=10)
    assert acc.params == ["*"]
    bob.send("WHOIS alice")
    wl = bob.read_until(lambda l: l.command == "318")
    assert not [l for l in wl if l.command == "330"]
    alice.send("PRIVMSG #acct :plain")
    m = bob.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert "account" not in m.tags and m.params == ["#acct", "plain"]


def test_kill_crosses_the_network(make_server):
    from operutil import OPER_PASSWORD, oper_block, operators_text
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw")
                    + operators_text(oper_block()))
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=connect_block("a.parley.test", a.port, True, send="a-pw", accept="b-pw"))
    oper = a.connect("oper")
    oper.send("OPER root " + OPER_PASSWORD)
    oper.expect(lambda l: l.command == "381")
    dave = a.connect("dave")
    dave.send("JOIN #k")
    dave.read_until(lambda l: l.command == "366")
    bob = b.connect("bob")
    carol = b.connect("carol")
    wait_whois(bob, "dave")
    for c in (bob, carol):
        c.send("JOIN #k")
        c.read_until(lambda l: l.command == "366")
    dave.expect(lambda l: l.command == "JOIN" and l.source.startswith("carol!"), timeout=10)
    bob.drain()
    # an operator on a kills bob, a user of b: bob is told and disconnected by b, and
    # the channel sees the same QUIT on both servers
    oper.send("KILL bob :spamming")
    k = bob.expect(lambda l: l.command == "KILL", timeout=10)
    assert k.source.startswith("oper!") and k.params == ["bob", "spamming"]
    bob.expect_error_close("Killed (oper (spamming))")
    for c in (carol, dave):
        q = c.expect(lambda l: l.command == "QUIT", timeout=10)
        assert q.source.startswith("bob!") and q.params == ["Killed (oper (spamming))"]
    # bob is gone from both servers
    for c in (carol, dave):
        c.send("WHOIS bob")
        wl = c.read_until(lambda l: l.command == "318")
        assert [l.command for l in wl if l.command in ("311", "401")] == ["401"]
    # the other way: a user of a killed by its own oper is gone from b as well
    oper.send("KILL dave :enough")
    q = carol.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("dave!") and q.params == ["Killed (oper (enough))"]


def test_message_tags_cross_between_parley_nodes(make_server):
    caps = ["message-tags", "server-time", "echo-message"]
    a, start_b = start_pair(make_server)
    alice = a.connect("alice", caps=caps)
    alice.send("JOIN #tags")
    alice.read_until(lambda l: l.command == "366")
    b = start_b()
    bob = b.connect("bob", caps=caps)
    wait_whois(bob, "alice")
    bob.send("JOIN #tags")
    bob.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"))
    # a channel message: bob, on b, sees the msgid and time alice's echo carries
    alice.send("PRIVMSG #tags :hello")
    echo = alice.expect(lambda l: l.command == "PRIVMSG")
    m = bob.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.params == ["#tags", "hello"] and m.tags["msgid"] == echo.tags["msgid"]
    assert m.tags["time"] == echo.tags["time"]
    # the other way, and a private message
    bob.send("PRIVMSG alice :psst")
    echo = bob.expect(lambda l: l.command == "PRIVMSG")
    m = alice.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.params == ["alice", "psst"] and m.tags["msgid"] == echo.tags["msgid"]
    assert m.tags["time"] == echo.tags["time"]
    # TAGMSG with client tags crosses too (only to peers that take tags)
    alice.send("@+draft/react=\\s;+draft/reply=%s TAGMSG #tags" % echo.tags["msgid"])
    echo = alice.expect(lambda l: l.command == "TAGMSG")
    t = bob.expect(lambda l: l.command == "TAGMSG", timeout=10)
    assert t.source.startswith("alice!") and t.params == ["#tags"]
    assert t.tags["+draft/react"] == " " and t.tags["+draft/reply"] == m.tags["msgid"]
    assert t.tags["msgid"] == echo.tags["msgid"]
    # a client without message-tags on b gets the plain line
    carol = b.connect("carol")
    carol.send("JOIN #tags")
    carol.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("carol!"), timeout=10)
    alice.send("PRIVMSG #tags :plain for carol")
    line = carol.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert not line.tags and line.params == ["#tags", "plain for carol"]
