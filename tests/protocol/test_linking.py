"""Server linking (TS6): two Parley nodes, and Parley with Debian's ircd-hybrid 8.2.

Each test starts the servers on private 127.0.0.1 ports: a client on each side joins one
channel, sees the other's JOIN, exchanges PRIVMSG, a split gives QUIT :*.net *.split and
a re-link bursts the state again. ircd-hybrid is the Debian package (`make deps`
installs it); without it the interop test fails, it is not skipped."""

import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import free_port, wait_for

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


def test_sid_clashing_in_msgids_is_refused(make_server):
    # 1HE is 1AA + 256 in base 36: both would put the same 8 bits in their msgids' history
    # keys, so two messages from them in one millisecond could share a key in a store
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw"))
    b = make_server(server_name="b.parley.test", server_keys={"sid": "1HE"},
                    extra=connect_block("a.parley.test", a.port, True, send="a-pw", accept="b-pw"))
    why = "SID 1HE clashes with 1AA in msgids (equal modulo 256): give one another server.sid"
    wait_for(lambda: "from 127.0.0.1: " + why in a.stderr() + a.log()
             and "link with a.parley.test failed: ERROR from peer: Closing Link: 127.0.0.1 (%s)" % why
             in b.stderr() + b.log(), what="the refusal on both sides")
    alice = a.connect("alice")
    b.connect("bob")
    alice.send("WHOIS bob")
    alice.expect(lambda l: l.command == "401")
    # a peer that does not issue msgids (no MTAGS: ircd-hybrid) may have any SID
    c = a.client()
    c.send("PASS a-pw TS 6 :1HE")
    c.send("CAPAB :ENCAP")
    c.send("SERVER b.parley.test 1 1HE + :not parley")
    c.expect(lambda l: l.command == "SVINFO")


def test_stalled_peer_is_cut_at_its_sendq(make_server):
    # a linked server that stops reading: what is queued to it is bounded by links.sendq,
    # then the link is dropped (its users split off) instead of the node's memory growing
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"}, flood_enabled=False,
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw")
                    .replace("links = { ", "links = { sendq = 65536; "))
    peer = socket.socket()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    peer.connect(("127.0.0.1", a.port))
    now = int(time.time())
    peer.sendall(("PASS a-pw TS 6 :2BB\r\nCAPAB :ENCAP TBURST\r\nSERVER b.parley.test 1 2BB + :stalled\r\n"
                  ":2BB SVINFO 6 6 0 :%d\r\n"
                  ":2BB UID far 1 %d +i far stalled.test stalled.test 0 2BBAAAAAA * :Far away\r\n"
                  ":2BB SJOIN %d #flood + :2BBAAAAAA\r\n" % (now, now - 100, now - 100)).encode())
    alice = a.connect("alice")
    wait_whois(alice, "far")
    alice.send("JOIN #flood")
    alice.expect(lambda l: l.command == "366")
    # the peer reads nothing more: its socket buffers fill, then the SendQ
    body = "x" * 400
    for i in range(30000):
        alice.send("PRIVMSG #flood :%d %s" % (i, body))
        if i % 1000 == 999 and "split: SendQ exceeded" in a.stderr() + a.log():
            break
    line = alice.expect(lambda l: l.command == "QUIT" and l.nick == "far", timeout=20)
    assert line.params == ["*.net *.split"]
    assert "server b.parley.test split: SendQ exceeded (65536 bytes)" in a.stderr() + a.log()
    peer.close()


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
/* and K-lines (KLINE/UNKLINE) from the servers a shared block names */
shared { name = "a.parley.test"; type = kline, unkline; };
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
                    sections={"privacy": {"cloak_secret": "s3cret-s3cret", "cloak_default": False}},
                    extra=connect_block("hybrid.test", hyb_port, True, send="h-pw", accept="a-pw")
                    + operators_text(oper_block()))
    h = hybrid_factory(p.port, hyb_port).start()
    alice = p.connect("alice")
    alice.send("JOIN #mix")
    alice.expect(lambda l: l.command == "366")
    hc = Client(h.port)
    hc.register("hank", caps=["account-notify", "extended-join", "chghost"], timeout=15)
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
    # ban lists both ways (TMODE), and in the re-link burst below (BMASK)
    alice.send("MODE #mix +b bad!*@*")
    alice.expect(lambda l: l.command == "MODE" and "+b" in l.params)
    mo = hc.expect(lambda l: l.command == "MODE" and "+b" in l.params, timeout=10)
    assert mo.source.startswith("alice!") and mo.params == ["#mix", "+b", "bad!*@*"]
    hc.send("MODE #mix +b worse!*@*")
    mo = alice.expect(lambda l: l.command == "MODE" and "+b" in l.params, timeout=10)
    assert mo.source.startswith("hank!") and mo.params == ["#mix", "+b", "worse!*@*"]
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
    # alice cloaks herself: hybrid takes the host (SVSHOST) and tells hank (CHGHOST)
    alice.send("MODE alice +x")
    cloak = alice.expect(lambda l: l.command == "396").params[1]
    ch = hc.expect(lambda l: l.command == "CHGHOST", timeout=10)
    assert ch.source.startswith("alice!") and ch.params == ["alice", cloak]
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
    # a K-line set on parley reaches hybrid, which disconnects its matching user
    kv = Client(h.port)
    kv.register("kvic", timeout=15)
    kv.send("JOIN #mix")
    kv.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("kvic!"), timeout=10)
    alice.send("KLINE *kvic@* :not here")
    alice.expect(lambda l: l.command == "NOTICE" and l.params[-1] == "Added KLINE *kvic@*")
    kv.expect_closed(timeout=10)
    for c in (hc, alice):
        q = c.expect(lambda l: l.command == "QUIT", timeout=10)
        assert q.source.startswith("kvic!") and q.params[0].startswith("not here")
    alice.send("UNKLINE *kvic@*")
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
    assert sorted(ban_list(hc2, "#mix")) == ["bad!*@*", "worse!*@*"]
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


def pair_with_oper(make_server):
    """a (with an operator block) and b linked to it; "oper", an operator on a."""
    from operutil import OPER_PASSWORD, oper_block, operators_text
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", 1, False, send="b-pw", accept="a-pw")
                    + operators_text(oper_block()))
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=connect_block("a.parley.test", a.port, True, send="a-pw", accept="b-pw"))
    oper = a.connect("oper")
    oper.send("OPER root " + OPER_PASSWORD)
    oper.expect(lambda l: l.command == "381")
    return a, b, oper


def test_stats_shows_links_and_connect_blocks(make_server):
    a, b, oper = pair_with_oper(make_server)
    assert links_of(oper, 2) == ["a.parley.test", "b.parley.test"]
    oper.send("STATS c")
    lines = oper.read_until(lambda l: l.command == "219")
    assert [l.params[1:] for l in lines if l.command == "213"] == [
        ["C", "127.0.0.1", "*", "b.parley.test", "1", "linked"]]
    oper.send("STATS L")
    lines = oper.read_until(lambda l: l.command == "219")
    link = [l.params for l in lines if l.command == "211" and l.params[1] == "b.parley.test"]
    assert len(link) == 1
    sendq, lines_out, kib_out, lines_in, kib_in, seconds = (int(x) for x in link[0][2:])
    assert lines_out >= 4 and lines_in >= 2 and sendq >= 0 and 0 <= seconds < 30, link
    a_users = [l.params[1] for l in lines if l.command == "211"]
    assert "oper" in a_users


def test_kill_crosses_the_network(make_server):
    a, b, oper = pair_with_oper(make_server)
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
    # b stored a's messages: a plain client joining there gets them replayed
    replay = carol.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert replay.params[0] == "#tags" and re.fullmatch(r"\[[-0-9: ]+\] hello", replay.params[1]), replay
    alice.send("PRIVMSG #tags :plain for carol")
    line = carol.expect(lambda l: l.command == "PRIVMSG" and l.params[1] == "plain for carol", timeout=10)
    assert not line.tags and line.params == ["#tags", "plain for carol"]


def ban_list(client, chan):
    client.drain()
    client.send("MODE %s b" % chan)
    lines = client.read_until(lambda l: l.command == "368")
    return [l.params[2] for l in lines if l.command == "367"]


def test_ban_lists_cross_in_burst_and_tmode(make_server):
    a, start_b = start_pair(make_server)
    alice = a.connect("alice")
    alice.send("JOIN #bans")
    alice.read_until(lambda l: l.command == "366")
    alice.send("MODE #bans +be evil!*@* good!*@*")
    alice.expect(lambda l: l.command == "MODE" and l.params[0] == "#bans")
    b = start_b()
    bob = b.connect("bob")
    wait_whois(bob, "alice")
    # the burst's BMASK brought the lists
    assert ban_list(bob, "#bans") == ["evil!*@*"]
    bob.send("MODE #bans e")
    el = bob.read_until(lambda l: l.command == "349")
    assert [l.params[2] for l in el if l.command == "348"] == ["good!*@*"]
    bob.send("JOIN #bans")
    bob.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"))
    # a ban set on a reaches b (TMODE) and b enforces it on its own users
    alice.send("MODE #bans +b spam!*@*")
    mo = bob.expect(lambda l: l.command == "MODE", timeout=10)
    assert mo.source.startswith("alice!") and mo.params == ["#bans", "+b", "spam!*@*"]
    spam = b.connect("spam")
    spam.send("JOIN #bans")
    assert spam.expect(lambda l: l.command in ("474", "JOIN")).command == "474"
    alice.send("MODE #bans -b spam!*@*")
    mo = bob.expect(lambda l: l.command == "MODE", timeout=10)
    assert mo.params == ["#bans", "-b", "spam!*@*"]
    spam.send("JOIN #bans")
    spam.expect(lambda l: l.command == "JOIN")
    assert ban_list(bob, "#bans") == ["evil!*@*"]


def test_klines_cross_the_network(make_server):
    from conftest import Client
    a, b, oper = pair_with_oper(make_server)
    victim = b.connect("victim")
    watcher = b.connect("watcher")
    for c in (victim, watcher):
        c.send("JOIN #kl")
        c.read_until(lambda l: l.command == "366")
    wait_whois(oper, "victim")
    # a K-line set on a: b disconnects its matching user and refuses it afterwards
    oper.send("KLINE victim@* :go away")
    oper.expect(lambda l: l.command == "NOTICE" and l.params[-1] == "Added KLINE victim@*")
    ban = victim.expect(lambda l: l.command == "465", timeout=10)
    assert ban.params[-1] == "You are banned from this server (go away)"
    victim.expect_error_close("K-lined: go away")
    q = watcher.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("victim!") and q.params == ["K-lined: go away"]
    again = Client(b.port)
    again.send("NICK victim")
    again.send("USER victim 0 * :again")
    again.expect(lambda l: l.command == "465", timeout=10)
    again.expect_error_close("K-lined: go away")
    # lifted on a, lifted on b
    oper.send("UNKLINE victim@*")
    oper.expect(lambda l: l.command == "NOTICE" and l.params[-1] == "Removed victim@*")
    deadline = time.time() + 10
    while True:
        c = Client(b.port)
        c.send("NICK victim")
        c.send("USER victim 0 * :back")
        first = c.expect(lambda l: l.command in ("001", "465"), timeout=10)
        c.close()
        if first.command == "001":
            break
        assert time.time() < deadline, "the K-line was not lifted on b"
        time.sleep(0.2)


def connect_blocks(*peers):
    """connect blocks for (name, port, autoconnect) peers, one password for all."""
    items = ", ".join("{ name = \"%s\"; address = \"127.0.0.1\"; port = %d; send_password = \"pw\";"
                      " accept_password = \"pw\"; autoconnect = %s; }" % (n, p, "true" if auto else "false")
                      for n, p, auto in peers)
    return ("connect = ( %s );\n"
            "links = { connect_retry = 1; ping_frequency = 5; ping_timeout = 5; };\n" % items)


def test_three_nodes_relay_through_the_middle(make_server):
    caps = ["message-tags", "server-time", "echo-message", "account-notify"]
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_blocks(("b.parley.test", 1, False)))
    c = make_server(server_name="c.parley.test", server_keys={"sid": "3CC"},
                    extra=connect_blocks(("b.parley.test", 1, False)))
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=connect_blocks(("a.parley.test", a.port, True), ("c.parley.test", c.port, True)))
    alice = a.connect("alice", caps=caps)
    alice.send("JOIN #tri")
    alice.read_until(lambda l: l.command == "366")
    carol = c.connect("carol", caps=caps)
    wait_whois(carol, "alice")
    carol.send("JOIN #tri")
    carol.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("carol!"), timeout=10)
    # c sees the tree: itself, b beside it, a behind b
    carol.send("LINKS")
    li = carol.read_until(lambda l: l.command == "365")
    assert sorted(l.params[1:] for l in li if l.command == "364") == [
        ["a.parley.test", "b.parley.test", "2 Parley test server"],
        ["b.parley.test", "c.parley.test", "1 Parley test server"],
        ["c.parley.test", "c.parley.test", "0 Parley test server"]]
    # two hops: the msgid and time stay the origin's, the account change is passed on
    alice.send("PRIVMSG #tri :two hops")
    echo = alice.expect(lambda l: l.command == "PRIVMSG")
    m = carol.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.params == ["#tri", "two hops"]
    assert (m.tags["msgid"], m.tags["time"]) == (echo.tags["msgid"], echo.tags["time"])
    alice.send("PRIVMSG NickServ :REGISTER " + PASSWORD)
    alice.expect(lambda l: l.command == "900")
    acc = carol.expect(lambda l: l.command == "ACCOUNT", timeout=10)
    assert acc.source.startswith("alice!") and acc.params == ["alice"]
    # the middle goes: a and c split apart, each sees the other's user quit
    b.stop()
    q = carol.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("alice!") and q.params == ["*.net *.split"]
    q = alice.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("carol!") and q.params == ["*.net *.split"]


def links_of(client, want, timeout=10.0):
    """The servers LINKS lists to client, polled until there are want of them."""
    deadline = time.time() + timeout
    while True:
        client.send("LINKS")
        names = sorted(l.params[1] for l in client.read_until(lambda l: l.command == "365")
                       if l.command == "364")
        if len(names) >= want or time.time() > deadline:
            return names
        time.sleep(0.2)


def test_four_node_chain_bursts_every_server(make_server):
    # d links last, to c, behind which b and a sit: c's burst must introduce b before a
    # (a's uplink), or d drops a with its users.
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_blocks(("b.parley.test", 1, False)))
    alice = a.connect("alice")
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=connect_blocks(("a.parley.test", a.port, True), ("c.parley.test", 1, False)))
    assert links_of(alice, 2) == ["a.parley.test", "b.parley.test"]
    c = make_server(server_name="c.parley.test", server_keys={"sid": "3CC"},
                    extra=connect_blocks(("b.parley.test", b.port, True), ("d.parley.test", 1, False)))
    assert len(links_of(alice, 3)) == 3
    d = make_server(server_name="d.parley.test", server_keys={"sid": "4DD"},
                    extra=connect_blocks(("c.parley.test", c.port, True)))
    dave = d.connect("dave")
    assert links_of(dave, 4) == ["a.parley.test", "b.parley.test", "c.parley.test", "d.parley.test"]
    wait_whois(dave, "alice")
    dave.send("LINKS")
    li = dave.read_until(lambda l: l.command == "365")
    hops = {l.params[1]: l.params[3].split()[0] for l in li if l.command == "364"}
    assert hops == {"a.parley.test": "3", "b.parley.test": "2", "c.parley.test": "1", "d.parley.test": "0"}
    wait_whois(alice, "dave")
    alice.send("PRIVMSG dave :three hops")
    m = dave.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("alice!") and m.params == ["dave", "three hops"]


def test_operators_connect_and_squit(make_server):
    from operutil import OPER_PASSWORD, oper_block, operators_text
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra=connect_block("a.parley.test", 1, False, send="a-pw", accept="b-pw"))
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra=connect_block("b.parley.test", b.port, False, send="b-pw", accept="a-pw")
                    + operators_text(oper_block(), oper_block("plain", privileges="kill")))
    oper = a.connect("oper")
    oper.send("OPER root " + OPER_PASSWORD)
    oper.expect(lambda l: l.command == "381")
    bob = b.connect("bob")
    # no autoconnect: nothing links until an operator says so
    oper.send("CONNECT nowhere.test")
    assert oper.expect(lambda l: l.command == "402").params[1:] == ["nowhere.test", "No such server"]
    oper.send("CONNECT b.parley.test")
    n = oper.expect(lambda l: l.command == "NOTICE" and l.params[-1].startswith("Connecting"))
    assert n.params[-1] == "Connecting to b.parley.test (127.0.0.1 port %d)" % b.port
    wait_whois(oper, "bob")
    oper.send("CONNECT b.parley.test")
    f = oper.expect(lambda l: l.command == "FAIL")
    assert f.params == ["CONNECT", "ALREADY_LINKED", "b.parley.test", "That server is linked or being linked"]
    # an operator without the route privilege may not
    plain = a.connect("plain")
    plain.send("OPER plain " + OPER_PASSWORD)
    plain.expect(lambda l: l.command == "381")
    plain.send("SQUIT b.parley.test")
    assert plain.expect(lambda l: l.command in ("481", "ERROR")).command == "481"
    # SQUIT: b's users split off a, a's off b
    oper.send("JOIN #sq")
    oper.read_until(lambda l: l.command == "366")
    bob.send("JOIN #sq")
    bob.read_until(lambda l: l.command == "366")
    oper.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"), timeout=10)
    oper.send("SQUIT b.parley.test :maintenance")
    q = oper.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("bob!") and q.params == ["*.net *.split"]
    q = bob.expect(lambda l: l.command == "QUIT", timeout=10)
    assert q.source.startswith("oper!") and q.params == ["*.net *.split"]
    oper.send("SQUIT b.parley.test")
    assert oper.expect(lambda l: l.command == "402").params[1:] == ["b.parley.test", "No such server"]


def wait_lusers(client, want, timeout=10.0):
    """LUSERS until its 251 text is want (a change from another server arrived)."""
    deadline = time.time() + timeout
    while True:
        client.drain()
        client.send("LUSERS")
        lu = client.read_until(lambda l: l.command == "266")
        text = next(l for l in lu if l.command == "251").params[-1]
        if text == want:
            return
        assert time.time() < deadline, text
        time.sleep(0.1)


def test_user_modes_cross(make_server):
    a, b, oper = pair_with_oper(make_server)
    bob = b.connect("bob")
    wait_whois(oper, "bob")
    bob.send("MODE bob +i")
    bob.expect(lambda l: l.command == "MODE" and l.params == ["bob", "+i"])
    wait_lusers(oper, "There are 1 users and 1 invisible on 2 servers")
    # an operator on a is one on b too (WHOIS 313 there)
    bob.send("WHOIS oper")
    assert any(l.command == "313" for l in bob.read_until(lambda l: l.command == "318"))
    bob.send("MODE bob -i")
    bob.expect(lambda l: l.command == "MODE" and l.params == ["bob", "-i"])
    wait_lusers(oper, "There are 2 users and 0 invisible on 2 servers")


def test_cloak_changes_cross(make_server):
    a, start_b = start_pair(make_server)
    alice = a.connect("alice", caps=["chghost"])
    alice.send("JOIN #hosts")
    alice.read_until(lambda l: l.command == "366")
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    sections={"privacy": {"cloak_secret": "s3cret-s3cret", "cloak_default": False}},
                    extra=connect_block("a.parley.test", a.port, True, send="a-pw", accept="b-pw"))
    bob = b.connect("bob")
    wait_whois(bob, "alice")
    bob.send("JOIN #hosts")
    bob.read_until(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("bob!"), timeout=10)
    # bob cloaks himself on b: alice, on a, sees the CHGHOST and the new host in WHOIS
    bob.send("MODE bob +x")
    cloak = bob.expect(lambda l: l.command == "396").params[1]
    ch = alice.expect(lambda l: l.command == "CHGHOST", timeout=10)
    assert ch.source == "bob!bob@127.0.0.1" and ch.params == ["bob", cloak]
    alice.send("WHOIS bob")
    wl = alice.read_until(lambda l: l.command == "318")
    assert next(l for l in wl if l.command == "311").params[2:4] == ["bob", cloak]
    bob.send("MODE bob -x")
    ch = alice.expect(lambda l: l.command == "CHGHOST", timeout=10)
    assert ch.source == "bob!bob@%s" % cloak and ch.params == ["bob", "127.0.0.1"]
