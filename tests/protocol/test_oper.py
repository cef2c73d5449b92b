"""Operators and privacy (issue 7): OPER, KILL, K-lines and D-lines (temporary, listed in
STATS, kept across restarts), REHASH and SIGHUP, DIE, WALLOPS, STATS, SAJOIN/SAPART/
SANICK, LUSERS, connection limits, host cloaking, SILENCE and REPORT/REPORTS.

Operator blocks go through make_server(extra=...) (operutil.operators_text), with a
password hash made by `parleyd -mkpasswd`."""

import hashlib
import hmac
import re
import signal
import socket
import time

import pytest

from conftest import (HOST, SERVER_NAME, Client, accounts_section, free_port, register_account, wait_for,
                      write_config)
from operutil import (ALL_PRIVS, CLOAK_RE, OPER_PASSWORD, S, connect_from, join, mask, oper_block,
                      oper_up, operators_text, quiet, snotice, sync, whois)

NOPRIV = ":Permission Denied- You're not an IRC operator"
PASSWORD = "hunter2hunter2"


def start(make_server, opers=None, backend=None, **settings):
    sections = settings.pop("sections", {})
    sections.setdefault("accounts", accounts_section())
    extra = operators_text(*(opers or [oper_block()]))
    kw = dict(settings, sections=sections, extra=extra)
    if backend is not None:
        kw["backend"] = backend
    return make_server(**kw)


def num(code, nick, rest):
    return "%s %s %s %s" % (S, code, nick, rest)


def error_close(c, reason, host=HOST):
    """The connection ends with ERROR :Closing Link: host (reason)."""
    lines = c.expect_closed()
    want = "ERROR :Closing Link: %s (%s)" % (host, reason)
    assert lines and lines[-1] == want, (want, lines)
    return lines


def rewrite_config(srv, **changes):
    """Rewrites srv's config file with the same ports and settings plus changes; returns
    the text."""
    settings = dict(srv._settings, **changes)
    settings.pop("backend", None)
    text, _, _ = write_config(srv.conf_path, srv.tls_files, port=srv.port, tls_port=srv.tls_port,
                              **settings)
    return text


def add_listener(srv, port):
    text = srv.conf_path.read_text()
    new = text.replace("listen = (\n", 'listen = (\n  { address = "127.0.0.1"; port = %d; },\n' % port, 1)
    assert new != text
    srv.conf_path.write_text(new)


def isupport(lines):
    tokens = {}
    for l in lines:
        if l.command == "005":
            for tok in l.params[1:-1]:
                k, _, v = tok.partition("=")
                tokens[k] = v
    return tokens


# --------------------------------------------------------------------------------------
# OPER


def test_oper_success(make_server):
    srv = start(make_server)
    watcher = srv.connect("watcher")
    oper_up(watcher)
    sync(watcher)
    alice = srv.connect("alice")
    alice.send("OPER root " + OPER_PASSWORD)
    alice.expect_next(num("381", "alice", ":You are now an IRC operator"))
    line = alice.expect_next(lambda l: l.command == "MODE")
    assert line.params == ["alice", "+os"] and line.nick == "alice", line
    watcher.expect(snotice("watcher", "alice (127.0.0.1) is now an operator (root)"))
    alice.expect(snotice("alice", "alice (127.0.0.1) is now an operator (root)"))
    # the user modes, WHOIS 313
    alice.send("MODE alice")
    line = alice.expect(lambda l: l.command == "221")
    assert "o" in line.params[1] and "s" in line.params[1], line
    lines = whois(watcher, "alice")
    assert num("313", "watcher", "alice :is an IRC operator") in lines
    quiet(alice, watcher)


def test_oper_wrong_password(make_server):
    srv = start(make_server)
    watcher = srv.connect("watcher")
    oper_up(watcher)
    sync(watcher)
    bob = srv.connect("bob")
    bob.send("OPER root wrongpassword")
    bob.expect_next(num("464", "bob", ":Password incorrect"))
    watcher.expect(snotice("watcher", "Failed OPER attempt by bob (127.0.0.1) for root: bad password"))
    bob.send("KILL watcher :nope")
    bob.expect_next(num("481", "bob", NOPRIV))
    quiet(bob, watcher)


def test_oper_unknown_name_and_host_mismatch(make_server):
    srv = start(make_server, opers=[oper_block(), oper_block("remote", hosts="*@10.9.8.7"),
                                    oper_block("fred", hosts="fred@127.0.0.1")])
    watcher = srv.connect("watcher")
    oper_up(watcher)
    sync(watcher)
    bob = srv.connect("bob")
    bob.send("OPER nosuch " + OPER_PASSWORD)
    bob.expect_next(num("491", "bob", ":No O-lines for your host"))
    watcher.expect(snotice("watcher", "Failed OPER attempt by bob (127.0.0.1) for nosuch: no such operator"))
    bob.send("OPER remote " + OPER_PASSWORD)
    bob.expect_next(num("491", "bob", ":No O-lines for your host"))
    watcher.expect(snotice("watcher", "Failed OPER attempt by bob (127.0.0.1) for remote: host not allowed"))
    bob.send("OPER fred " + OPER_PASSWORD)  # user name bob, not fred
    bob.expect_next(num("491", "bob", ":No O-lines for your host"))
    # the right password does not help from the wrong address
    other = connect_from(srv, "127.0.0.2")
    other.register("other")
    other.send("OPER root " + OPER_PASSWORD)
    other.expect_next(num("491", "other", ":No O-lines for your host"))
    # the user name matches for fred
    fred = srv.connect("fred")
    oper_up(fred, "fred")


FAR = "127.0.0.2"  # not in connlimit.exempt (loopback 127.0.0.1 is, by default)
THROTTLED_OPER = "Failed OPER attempt by %s (%s) for %s: too many failed attempts"


def test_oper_failures_are_throttled_per_address_and_name(make_server):
    """Past accounts.max_failed_logins (5) failed OPERs in a minute, from an address or
    for an operator name, even the right password gets a wrong password's 464; operators
    are told. An exempt address is limited per name only."""
    srv = start(make_server, opers=[oper_block(hosts="*"), oper_block("other", hosts="*")])
    watcher = srv.connect("watcher")
    oper_up(watcher)
    sync(watcher)
    bob = connect_from(srv, FAR)
    bob.register("bob")
    for i in range(5):
        bob.send("OPER root wrong%d" % i)
        bob.expect_next(num("464", "bob", ":Password incorrect"))
        watcher.expect(snotice("watcher", "Failed OPER attempt by bob (%s) for root: bad password" % FAR))
    bob.send("OPER root " + OPER_PASSWORD)
    bob.expect_next(num("464", "bob", ":Password incorrect"))
    watcher.expect(snotice("watcher", THROTTLED_OPER % ("bob", FAR, "root")))
    # the address is used up for every operator name
    bob.send("OPER other " + OPER_PASSWORD)
    bob.expect_next(num("464", "bob", ":Password incorrect"))
    watcher.expect(snotice("watcher", THROTTLED_OPER % ("bob", FAR, "other")))
    bob.send("KILL watcher :nope")
    bob.expect_next(num("481", "bob", NOPRIV))
    quiet(bob, watcher)
    # the name root is used up from any address, even an exempt one
    dave = srv.connect("dave")
    dave.send("OPER root " + OPER_PASSWORD)
    dave.expect_next(num("464", "dave", ":Password incorrect"))
    watcher.expect(snotice("watcher", THROTTLED_OPER % ("dave", "127.0.0.1", "root")))
    # another address and another name are not
    carol = connect_from(srv, "127.0.0.3")
    carol.register("carol")
    oper_up(carol, "other")
    watcher.expect(snotice("watcher", "carol (127.0.0.3) is now an operator (other)"))
    quiet(dave, watcher)


def test_oper_parallel_failures_count_when_submitted(make_server):
    """Attempts from many connections at once are counted before their hashes are
    checked: of 8 wrong attempts only 5 reach the password check."""
    srv = start(make_server, opers=[oper_block(hosts="*")])
    watcher = srv.connect("watcher")
    oper_up(watcher, "root")
    sync(watcher)
    clients = []
    for i in range(8):
        c = connect_from(srv, FAR)
        c.register("p%d" % i)
        clients.append(c)
    for i, c in enumerate(clients):
        c.send("OPER root wrong%d" % i)
    for c in clients:
        c.expect_next(num("464", c.nick, ":Password incorrect"))
    notices = [watcher.expect(lambda l: "Failed OPER attempt" in l.params[-1]).params[-1] for _ in clients]
    assert sum(n.endswith(": bad password") for n in notices) == 5, notices
    assert sum(n.endswith(": too many failed attempts") for n in notices) == 3, notices


def test_oper_account_bound_block(make_server):
    srv = start(make_server, opers=[oper_block("acct", account="opaccount")])
    register_account(srv, "opaccount", PASSWORD)
    bob = srv.connect("bob")
    bob.send("OPER acct " + OPER_PASSWORD)
    bob.expect_next(num("491", "bob", ":No O-lines for your host"))
    carol = srv.connect("carol", password="opaccount:" + PASSWORD)
    oper_up(carol, "acct")


def test_connect_notice(make_server):
    """README: operators get server notices (+s) for connects."""
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    sync(root)
    far = connect_from(srv, "127.0.0.2")
    far.register("newcomer")
    line = root.expect(lambda l: l.command == "NOTICE" and l.params[0] == "root"
                       and l.params[1].startswith("*** ") and "newcomer" in l.params[1])
    assert "127.0.0.2" in line.params[1], line
    # not for operators without +s
    root.send("MODE root -s")
    root.expect(lambda l: l.command == "MODE" and l.params == ["root", "-s"])
    srv.connect("another")
    quiet(root)


@pytest.mark.parametrize("command", [
    "KILL alice :x", "KLINE x@y :r", "DLINE 10.0.0.1 :r", "UNKLINE x@y", "UNDLINE 10.0.0.1",
    "REHASH", "DIE", "RESTART", "WALLOPS :hi", "SAJOIN alice #c", "SAPART alice #c",
    "SANICK alice bob", "REPORTS",
])
def test_oper_commands_refused_for_users(server, command):
    alice = server.connect("alice")
    alice.send(command)
    alice.expect_next(num("481", "alice", NOPRIV))
    quiet(alice)


def test_oper_without_privilege_is_refused(make_server):
    srv = start(make_server, opers=[oper_block("small", privileges="wallops")])
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    oper_up(alice, "small")
    for command in ("KILL bob :x", "KLINE bob@127.0.0.1 :x", "REHASH", "DIE", "SAJOIN bob #c", "REPORTS"):
        alice.send(command)
        alice.expect_next(num("481", "alice", NOPRIV))
    alice.send("WALLOPS :allowed")
    quiet(alice, bob)
    assert srv.running()


# --------------------------------------------------------------------------------------
# KILL, K-lines, D-lines


def test_kill(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    carol = srv.connect("carol")
    join(bob, "#room")
    join(carol, "#room", bob)
    root.send("KILL bob :behave")
    bob.expect(":%s KILL bob :behave" % mask("root"))
    error_close(bob, "Killed (root (behave))")
    carol.expect_next(":%s QUIT :Killed (root (behave))" % mask("bob"))
    root.expect(snotice("root", "root killed bob (behave)"))
    root.send("KILL nosuch :x")
    root.expect(num("401", "root", "nosuch :No such nick/channel"))
    quiet(root, carol)


def test_kline(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    victim = srv.connect("victim")
    bystander = srv.connect("bystander")
    root.send("KLINE victim@127.0.0.1 :spamming")
    root.expect(":%s NOTICE root :Added KLINE victim@127.0.0.1" % SERVER_NAME)
    root.expect(snotice("root", "Client exiting: victim (victim@127.0.0.1) [K-lined: spamming]"))
    victim.expect(num("465", "victim", ":You are banned from this server (spamming)"))
    error_close(victim, "K-lined: spamming")
    # a new connection with that user name is refused at registration
    again = srv.client()
    again.send("NICK victim2")
    again.send("USER victim 0 * :x")
    again.expect(num("465", "victim2", ":You are banned from this server (spamming)"))
    error_close(again, "K-lined: spamming")
    assert not any(l.command == "001" for l in again.history)
    # another user name from the same host is fine
    srv.connect("other")
    quiet(bystander)
    # errors
    root.send("KLINE victim@127.0.0.1 :again")
    root.expect("%s FAIL KLINE ALREADY_EXISTS victim@127.0.0.1 :That ban already exists" % S)
    root.send("KLINE nohost :x")
    root.expect("%s FAIL KLINE INVALID_PARAMS nohost :Use a user@host mask" % S)
    # UNKLINE
    root.send("UNKLINE victim@127.0.0.1")
    root.expect(":%s NOTICE root :Removed victim@127.0.0.1" % SERVER_NAME)
    back = srv.client()
    back.register("victim3", user="victim")
    root.send("UNKLINE victim@127.0.0.1")
    root.expect("%s FAIL UNKLINE NO_SUCH_BAN victim@127.0.0.1 :No such ban" % S)
    quiet(root)


def test_kline_wildcard_user(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    a = srv.connect("bad1", user="badguy")
    b = srv.connect("bad2", user="badgirl")
    good = srv.connect("good")
    root.send("KLINE bad*@127.0.0.* :bad names")
    for c in (a, b):
        c.expect(num("465", c.nick, ":You are banned from this server (bad names)"))
        error_close(c, "K-lined: bad names")
    quiet(good)


def test_dline(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    victim = connect_from(srv, "127.0.0.2")
    victim.register("victim")
    local = srv.connect("local")
    root.send("DLINE 127.0.0.2 :bad address")
    root.expect(":%s NOTICE root :Added DLINE 127.0.0.2" % SERVER_NAME)
    victim.expect(num("465", "victim", ":You are banned from this server (bad address)"))
    error_close(victim, "D-lined: bad address", host="127.0.0.2")
    # refused before registration, with the ERROR line only
    again = connect_from(srv, "127.0.0.2")
    lines = again.expect_closed()
    assert lines == ["ERROR :Closing Link: 127.0.0.2 (D-lined: bad address)"], lines
    # 127.0.0.1 is not affected
    quiet(local)
    srv.connect("fresh")
    # CIDR
    root.send("DLINE 127.0.1.0/24 :bad network")
    root.expect(":%s NOTICE root :Added DLINE 127.0.1.0/24" % SERVER_NAME)
    c = connect_from(srv, "127.0.1.77")
    assert c.expect_closed() == ["ERROR :Closing Link: 127.0.1.77 (D-lined: bad network)"]
    ok = connect_from(srv, "127.0.2.1")
    ok.register("ok")
    # UNDLINE
    root.send("UNDLINE 127.0.0.2")
    root.expect(":%s NOTICE root :Removed 127.0.0.2" % SERVER_NAME)
    back = connect_from(srv, "127.0.0.2")
    back.register("back")
    root.send("UNDLINE 127.0.0.2")
    root.expect("%s FAIL UNDLINE NO_SUCH_BAN 127.0.0.2 :No such ban" % S)


def test_restart(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    pid = srv.proc.pid
    root.send("RESTART")
    root.expect(snotice("root", "Server restarting by root"))
    error_close(root, "Server restarting")
    error_close(bob, "Server restarting")

    def up():
        try:
            c = srv.client()
        except OSError:
            return None
        return c
    c = wait_for(up, timeout=10, what="the restarted server to accept")
    c.register("again")
    assert srv.proc.pid == pid and srv.running()


def test_temporary_bans_listed_in_stats(make_server, backend):
    srv = start(make_server, backend=backend)
    root = srv.connect("root")
    oper_up(root)
    root.send("KLINE 10 temp@127.0.0.1 :for a while")
    root.expect(":%s NOTICE root :Added KLINE temp@127.0.0.1 (temporary)" % SERVER_NAME)
    root.send("KLINE perm@10.0.0.1 :forever")
    root.expect(":%s NOTICE root :Added KLINE perm@10.0.0.1" % SERVER_NAME)
    root.send("DLINE 5 10.1.2.3 :short")
    root.expect(":%s NOTICE root :Added DLINE 10.1.2.3 (temporary)" % SERVER_NAME)
    sync(root)
    root.send("STATS k")
    lines = root.read_until(lambda l: l.command == "219")
    klines = sorted(l for l in lines if l.command == "216")
    # the temporary one shows the seconds left
    left = int(klines[1].params[3])
    assert 595 <= left <= 600, klines
    assert klines == [
        num("216", "root", "K perm@10.0.0.1 permanent root :forever"),
        num("216", "root", "K temp@127.0.0.1 %d root :for a while" % left),
    ], lines
    assert lines[-1] == num("219", "root", "k :End of /STATS report")
    root.send("STATS d")
    lines = root.read_until(lambda l: l.command == "219")
    left = int(lines[0].params[3])
    assert 295 <= left <= 300, lines
    assert lines == [num("225", "root", "D 10.1.2.3 %d root :short" % left),
                     num("219", "root", "d :End of /STATS report")]
    # the temporary K-line is in force now
    c = srv.client()
    c.send("NICK temp")
    c.send("USER temp 0 * :x")
    c.expect(num("465", "temp", ":You are banned from this server (for a while)"))
    error_close(c, "K-lined: for a while")
    # and it expires: its row carries created + 10 minutes
    # (the rows are written behind the replies: wait for them)
    def read_rows():
        return {(k, m): (int(cr), int(ex)) for k, m, cr, ex in
                backend.query("SELECT kind, mask, created, expires FROM server_bans")}
    rows = wait_for(lambda: len(read_rows()) == 3 and read_rows(), what="three server_bans rows")
    cr, ex = rows[("k", "temp@127.0.0.1")]
    assert ex - cr == 600
    cr, ex = rows[("d", "10.1.2.3")]
    assert ex - cr == 300
    assert rows[("k", "perm@10.0.0.1")][1] == 0


def test_bans_survive_restart(make_server, backend):
    srv = start(make_server, backend=backend)
    root = srv.connect("root")
    oper_up(root)
    root.send("KLINE kept@127.0.0.1 :still banned")
    root.expect(":%s NOTICE root :Added KLINE kept@127.0.0.1" % SERVER_NAME)
    root.send("DLINE 127.0.0.3 :still dlined")
    root.expect(":%s NOTICE root :Added DLINE 127.0.0.3" % SERVER_NAME)
    root.send("KLINE 30 gone@127.0.0.1 :expired meanwhile")
    root.expect(":%s NOTICE root :Added KLINE gone@127.0.0.1 (temporary)" % SERVER_NAME)
    root.send("KLINE 30 temp@127.0.0.1 :still temporary")
    root.expect(":%s NOTICE root :Added KLINE temp@127.0.0.1 (temporary)" % SERVER_NAME)
    root.send("KLINE undone@127.0.0.1 :removed")
    root.expect(":%s NOTICE root :Added KLINE undone@127.0.0.1" % SERVER_NAME)
    root.send("UNKLINE undone@127.0.0.1")
    root.expect(":%s NOTICE root :Removed undone@127.0.0.1" % SERVER_NAME)
    sync(root)
    srv.stop()
    # one temporary ban ran out while the server was down
    backend.query("UPDATE server_bans SET expires = %d WHERE mask = 'gone@127.0.0.1'" % (int(time.time()) - 5))
    srv.start()
    c = srv.client()
    c.send("NICK kept")
    c.send("USER kept 0 * :x")
    c.expect(num("465", "kept", ":You are banned from this server (still banned)"))
    error_close(c, "K-lined: still banned")
    c = srv.client()
    c.send("NICK temp")
    c.send("USER temp 0 * :x")
    error_close(c, "K-lined: still temporary")
    d = connect_from(srv, "127.0.0.3")
    assert d.expect_closed() == ["ERROR :Closing Link: 127.0.0.3 (D-lined: still dlined)"]
    srv.connect("gone")
    srv.connect("undone")
    root = srv.connect("root")
    oper_up(root)
    root.send("STATS k")
    lines = root.read_until(lambda l: l.command == "219")
    assert sorted(l.params[2] for l in lines if l.command == "216") == ["kept@127.0.0.1", "temp@127.0.0.1"]
    root.send("STATS d")
    lines = root.read_until(lambda l: l.command == "219")
    assert [l for l in lines if l.command == "225"] == [num("225", "root", "D 127.0.0.3 permanent root :still dlined")]


# --------------------------------------------------------------------------------------
# REHASH, SIGHUP, DIE


def test_rehash_adds_listener(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    join(bob, "#room")
    new_port = free_port()
    add_listener(srv, new_port)
    root.send("REHASH")
    root.expect(num("382", "root", "%s :Rehashing" % srv.conf_path))
    root.expect(snotice("root", "root is rehashing the server configuration"))
    fresh = Client(new_port)
    srv.clients.append(fresh)
    fresh.register("fresh")
    join(fresh, "#room", bob)
    # existing clients are still there
    bob.send("PRIVMSG #room :still here")
    fresh.expect(":%s PRIVMSG #room :still here" % mask("bob"))
    quiet(root)
    # and the old listener still works
    srv.connect("old")


def test_rehash_removes_listener(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    tls_user = srv.connect("secure", tls=True)
    tls_port = srv.tls_port
    rewrite_config(srv, tls=False)
    root.send("REHASH")
    root.expect(snotice("root", "root is rehashing the server configuration"))
    sync(root)
    with pytest.raises(OSError):
        socket.create_connection((HOST, tls_port), timeout=2).close()
    # the connection made through it stays
    tls_user.send("PRIVMSG root :still connected")
    root.expect(":%s PRIVMSG root :still connected" % mask("secure"))
    quiet(tls_user)


def test_rehash_changes_limit(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    before = srv.client()
    assert isupport(before.register("before"))["NICKLEN"] == "30"
    rewrite_config(srv, nicklen=12)
    root.send("REHASH")
    root.expect(snotice("root", "root is rehashing the server configuration"))
    after = srv.client()
    assert isupport(after.register("after"))["NICKLEN"] == "12"
    after.send("NICK abcdefghijklm")
    after.expect(num("432", "after", "abcdefghijklm :Erroneous nickname"))
    quiet(before)


def test_rehash_broken_config_keeps_old(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    good = srv.conf_path.read_text()
    srv.conf_path.write_text(good.replace("nicklen = 30;", "nicklen = 12;") + "\nthis is not libconfig {\n")
    root.send("REHASH")
    root.expect(num("382", "root", "%s :Rehashing" % srv.conf_path))
    root.expect(snotice("root", "REHASH by root failed; the old configuration stays in force"))
    err = root.expect(lambda l: l.command == "NOTICE" and l.params[0] == "root"
                      and l.params[1].startswith("REHASH: "))
    assert str(srv.conf_path) in err.params[1], err
    quiet(root)
    # still the old configuration, still working
    c = srv.client()
    assert isupport(c.register("checker"))["NICKLEN"] == "30"
    # an out-of-range value is refused the same way
    srv.conf_path.write_text(good.replace("nicklen = 30;", "nicklen = 3;"))
    root.send("REHASH")
    root.expect(snotice("root", "REHASH by root failed; the old configuration stays in force"))
    err = root.expect(lambda l: l.command == "NOTICE" and l.params[1].startswith("REHASH: "))
    assert "nicklen" in err.params[1], err
    # a fixed file is taken
    srv.conf_path.write_text(good.replace("nicklen = 30;", "nicklen = 15;"))
    root.send("REHASH")
    root.expect(snotice("root", "root is rehashing the server configuration"))
    c = srv.client()
    assert isupport(c.register("checker2"))["NICKLEN"] == "15"


def test_rehash_with_include_of_a_directory_keeps_running(make_server, tmp_path):
    # libconfig 1.5 would exit() reading it; found by tests/fuzz/fuzz_conf.c
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    good = srv.conf_path.read_text()
    srv.conf_path.write_text(good + '\n@include "%s"\n' % tmp_path)
    root.send("REHASH")
    root.expect(snotice("root", "REHASH by root failed; the old configuration stays in force"))
    err = root.expect(lambda l: l.command == "NOTICE" and l.params[1].startswith("REHASH: "))
    assert "cannot include '%s'" % tmp_path in err.params[1], err
    assert srv.running()
    srv.connect("still")


def test_sighup_rehashes(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    new_port = free_port()
    rewrite_config(srv, nicklen=20)
    add_listener(srv, new_port)
    srv.signal(signal.SIGHUP)
    root.expect(snotice("root", "Configuration reloaded (SIGHUP)"))
    fresh = Client(new_port)
    srv.clients.append(fresh)
    assert isupport(fresh.register("fresh"))["NICKLEN"] == "20"
    quiet(bob)
    # a broken file: logged, old configuration kept
    srv.conf_path.write_text("server = {\n")
    srv.signal(signal.SIGHUP)
    wait_for(lambda: "REHASH (SIGHUP) failed" in srv.stderr(), what="the SIGHUP failure in the log")
    assert srv.running()
    c = Client(new_port)
    srv.clients.append(c)
    assert isupport(c.register("again"))["NICKLEN"] == "20"
    quiet(root, bob)
    rewrite_config(srv)  # leave a valid file behind


def test_die(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    unregistered = srv.client()
    unregistered.send("NICK pending")
    sync(bob)
    root.send("DIE")
    root.expect(snotice("root", "Server terminating by root"))
    error_close(root, "Server shutting down")
    error_close(bob, "Server shutting down")
    lines = unregistered.expect_closed()
    assert lines[-1].startswith("ERROR :Closing Link: 127.0.0.1 ("), lines
    assert srv.wait_exit() == 0
    srv.assert_clean_exit()


# --------------------------------------------------------------------------------------
# WALLOPS, STATS, SA*, LUSERS


def test_wallops_reach_plus_w_only(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    alice.send("MODE alice +w")
    alice.expect(":%s MODE alice :+w" % mask("alice"))
    root.send("WALLOPS :network maintenance at noon")
    alice.expect_next(":%s WALLOPS :network maintenance at noon" % mask("root"))
    quiet(root, bob, alice)


def test_stats(make_server):
    srv = start(make_server, opers=[oper_block(), oper_block("limited", privileges="kill wallops",
                                                             hosts="*@127.0.0.1 *@10.0.0.0/8")])
    alice = srv.connect("alice")
    # u and m are for everyone
    alice.send("STATS u")
    lines = alice.read_until(lambda l: l.command == "219")
    assert len(lines) == 2 and re.fullmatch(
        r"%s 242 alice :Server Up 0 days 0:00:\d\d" % re.escape(S), lines[0]), lines
    assert lines[1] == num("219", "alice", "u :End of /STATS report")
    alice.send("STATS m")
    lines = alice.read_until(lambda l: l.command == "219")
    counts = {l.params[1]: int(l.params[2]) for l in lines if l.command == "212"}
    assert counts.get("NICK") and counts.get("USER") and counts.get("STATS") == 2, lines
    # the rest are for operators
    for q in "kdlo":
        alice.send("STATS " + q)
        alice.expect_next(num("481", "alice", NOPRIV))
        alice.expect_next(num("219", "alice", "%s :End of /STATS report" % q))
    oper_up(alice)
    bob = srv.connect("bob")
    sync(alice)
    alice.send("STATS L")  # one line per connection (STATS l: per listener, test_oper_tools.py)
    lines = alice.read_until(lambda l: l.command == "219")
    assert sorted(l.params[1] for l in lines if l.command == "211") == ["alice", "bob"], lines
    alice.send("STATS o")
    lines = alice.read_until(lambda l: l.command == "219")
    assert lines[-1] == num("219", "alice", "o :End of /STATS report")
    olines = [l for l in lines if l.command == "243"]
    # one operator block per name; the host mask(s) do not spill into the other fields
    # and the privileges (several words) are the last parameter
    by_name = {}
    for l in olines:
        assert l.params[1] == "O" and l.params[3] == "*", l
        by_name.setdefault(l.params[4], []).append(l)
    assert sorted(by_name) == ["limited", "root"], lines
    assert [l.params[2] for l in by_name["root"]] == ["*@127.0.0.1"], lines
    assert all(l.params[-1] == ALL_PRIVS for l in by_name["root"]), lines
    assert all(l.params[-1] == "kill wallops" for l in by_name["limited"]), lines
    quiet(bob)


def test_sajoin_sapart_sanick(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    join(alice, "#locked")
    alice.send("MODE #locked +ik secret")
    alice.expect(":%s MODE #locked +ik secret" % mask("alice"))
    bob.send("JOIN #locked")
    bob.expect(num("473", "bob", "#locked :Cannot join channel (+i)"))
    sync(root)
    root.send("SAJOIN bob #locked")
    bob.expect_next(":%s JOIN #locked" % mask("bob"))
    bob.read_until(num("366", "bob", "#locked :End of /NAMES list"))
    alice.expect_next(":%s JOIN #locked" % mask("bob"))
    root.expect(snotice("root", "root used SAJOIN to make bob join #locked"))
    root.send("SAPART bob #locked")
    for c in (bob, alice):
        c.expect_next(":%s PART #locked :Removed by an operator" % mask("bob"))
    root.expect(snotice("root", "root used SAPART to make bob leave #locked"))
    join(bob, "#open")
    join(alice, "#open", bob)
    root.send("SANICK bob robert")
    for c in (bob, alice):
        c.expect_next(":%s NICK :robert" % mask("bob"))
    root.expect(snotice("root", "root used SANICK to change bob to robert"))
    bob.nick = "robert"
    assert [l.params[1] for l in whois(bob, "robert") if l.command == "311"] == ["robert"]
    root.send("SANICK robert alice")
    root.expect(num("433", "root", "alice :Nickname is already in use"))
    root.send("SANICK robert 1bad")
    root.expect(num("432", "root", "1bad :Erroneous nickname"))
    root.send("SAJOIN nosuch #x")
    root.expect(num("401", "root", "nosuch :No such nick/channel"))
    quiet(root, alice, bob)


def test_lusers_counts_operators(make_server):
    srv = start(make_server)
    alice = srv.connect("alice")
    alice.send("LUSERS")
    lines = alice.read_until(lambda l: l.command == "266")
    assert not [l for l in lines if l.command == "252"], lines
    oper_up(alice)
    bob = srv.connect("bob")
    oper_up(bob)
    carol = srv.connect("carol")
    carol.send("LUSERS")
    lines = carol.read_until(lambda l: l.command == "266")
    assert num("252", "carol", "2 :operator(s) online") in lines, lines
    bob.send("MODE bob -o")
    bob.expect(lambda l: l.command == "MODE" and l.params[:1] == ["bob"])
    carol.send("LUSERS")
    lines = carol.read_until(lambda l: l.command == "266")
    assert num("252", "carol", "1 :operator(s) online") in lines, lines
    alice.send("QUIT")
    alice.expect_closed()
    carol.send("LUSERS")
    lines = carol.read_until(lambda l: l.command == "266")
    assert not [l for l in lines if l.command == "252"], lines


# --------------------------------------------------------------------------------------
# Connection limits


def test_connlimit_per_ip(make_server):
    srv = start(make_server, sections={"connlimit": {"per_ip": 2, "exempt": ""}})
    a = srv.connect("a")
    b = srv.client()  # unregistered connections count too
    c = srv.client()
    assert c.expect_closed() == ["ERROR :Closing Link: 127.0.0.1 (Too many connections from your address)"]
    other = connect_from(srv, "127.0.0.2")
    other.register("other")
    # a slot frees when a connection ends
    b.send("QUIT")
    b.expect_closed()
    time.sleep(0.05)
    d = srv.client()
    d.register("d")
    quiet(a)


def test_connlimit_per_cidr(make_server):
    srv = start(make_server, sections={"connlimit": {"per_cidr": 2, "exempt": ""}})
    srv.connect("a")
    b = connect_from(srv, "127.0.0.2")
    b.register("b")
    c = connect_from(srv, "127.0.0.3")
    assert c.expect_closed() == ["ERROR :Closing Link: 127.0.0.3 (Too many connections from your network)"]
    d = connect_from(srv, "127.0.1.3")
    d.register("d")


def test_connlimit_exempt(make_server):
    srv = start(make_server, sections={"connlimit": {"per_ip": 1, "exempt": "127.0.0.1"}})
    srv.connect("a")
    srv.connect("b")
    c = connect_from(srv, "127.0.0.2")
    c.register("c")
    d = connect_from(srv, "127.0.0.2")
    assert d.expect_closed() == ["ERROR :Closing Link: 127.0.0.2 (Too many connections from your address)"]


def test_connlimit_rate(make_server):
    srv = start(make_server, sections={"connlimit": {"rate": 3, "exempt": ""}})
    for i in range(3):
        c = srv.client()
        c.send("QUIT")
        c.expect_closed()
    c = srv.client()
    assert c.expect_closed() == ["ERROR :Closing Link: 127.0.0.1 (Connecting too fast from your address)"]
    # other addresses have their own budget
    other = connect_from(srv, "127.0.0.2")
    other.register("other")


# --------------------------------------------------------------------------------------
# Cloaking


SECRET = "correct horse battery staple"


def expected_cloak(secret, ip, suffix="parley"):
    md = hmac.new(secret.encode(), ip.encode(), hashlib.sha256).digest()
    h = md[:10].hex()
    return "%s.%s.%s.%s" % (h[0:8], h[8:16], h[16:20], suffix)


def cloak_server(make_server, secret=SECRET, default=True):
    return start(make_server, sections={"privacy": {"cloak_secret": secret, "cloak_default": default}})


def host_in_001(lines):
    w = [l for l in lines if l.command == "001"][0]
    return w.params[-1].rsplit("@", 1)[1]


def test_cloak_default(make_server):
    srv = cloak_server(make_server)
    alice = srv.client()
    cloak = host_in_001(alice.register("alice"))
    assert CLOAK_RE.match(cloak), cloak
    assert cloak == expected_cloak(SECRET, "127.0.0.1")
    assert "127" not in cloak and "0.0.1" not in cloak
    # what others see
    bob = srv.connect("bob")
    lines = whois(bob, "alice")
    assert num("311", "bob", "alice alice %s * :Parley Tester" % cloak) in lines, lines
    assert not [l for l in lines if l.command == "378"], lines
    assert not any("127.0.0.1" in l for l in lines), lines
    join(alice, "#room")
    bob.send("JOIN #room")
    alice.expect(":bob!bob@%s JOIN #room" % host_in_001([l for l in bob.history if l.command == "001"]))
    # the user sees the real address in its own WHOIS (378)
    lines = whois(alice, "alice")
    assert num("378", "alice", "alice :is connecting from *@127.0.0.1 127.0.0.1") in lines, lines
    # stable across reconnects, different per address
    again = srv.client()
    assert host_in_001(again.register("again")) == cloak
    far = connect_from(srv, "127.0.0.2")
    far_cloak = host_in_001(far.register("far"))
    assert CLOAK_RE.match(far_cloak) and far_cloak != cloak
    assert far_cloak == expected_cloak(SECRET, "127.0.0.2")
    # the user mode
    alice.send("MODE alice")
    line = alice.expect(lambda l: l.command == "221")
    assert "x" in line.params[1], line


def test_cloak_depends_on_secret(make_server):
    one = cloak_server(make_server)
    two = cloak_server(make_server, secret="another secret entirely")
    a = one.client()
    b = two.client()
    ca, cb = host_in_001(a.register("a")), host_in_001(b.register("b"))
    assert CLOAK_RE.match(ca) and CLOAK_RE.match(cb) and ca != cb


def test_cloak_off_and_on(make_server):
    srv = cloak_server(make_server)
    alice = srv.client()
    alice_lines = alice.register("alice", caps=["chghost"])
    cloak = host_in_001(alice_lines)
    watcher = srv.connect("watcher", caps=["chghost"])
    plain = srv.connect("plain")
    join(alice, "#room")
    join(watcher, "#room", alice)
    join(plain, "#room", alice, watcher)
    alice.send("MODE alice -x")
    alice.expect_next(":alice!alice@%s CHGHOST alice 127.0.0.1" % cloak)
    alice.expect_next(num("396", "alice", "127.0.0.1 :is now your displayed host"))
    alice.expect_next(":alice!alice@127.0.0.1 MODE alice :-x")
    watcher.expect_next(":alice!alice@%s CHGHOST alice 127.0.0.1" % cloak)
    lines = whois(plain, "alice")
    assert num("311", "plain", "alice alice 127.0.0.1 * :Parley Tester") in lines
    alice.send("MODE alice +x")
    alice.expect_next(":alice!alice@127.0.0.1 CHGHOST alice %s" % cloak)
    alice.expect_next(num("396", "alice", "%s :is now your displayed host" % cloak))
    alice.expect_next(":alice!alice@%s MODE alice :+x" % cloak)
    watcher.expect_next(":alice!alice@127.0.0.1 CHGHOST alice %s" % cloak)
    quiet(alice, watcher)


def test_cloak_on_request_only(make_server):
    srv = cloak_server(make_server, default=False)
    alice = srv.client()
    assert host_in_001(alice.register("alice")) == "127.0.0.1"
    alice.send("MODE alice +x")
    alice.expect(num("396", "alice", "%s :is now your displayed host" % expected_cloak(SECRET, "127.0.0.1")))


def test_cloak_without_secret_refused(server):
    alice = server.connect("alice")
    alice.send("MODE alice +x")
    sync(alice)
    lines = whois(alice, "alice")
    assert num("311", "alice", "alice alice 127.0.0.1 * :Parley Tester") in lines


def test_oper_sees_real_host(make_server):
    srv = cloak_server(make_server)
    root = srv.connect("root")
    oper_up(root)
    alice = srv.connect("alice")
    lines = whois(root, "alice")
    assert num("378", "root", "alice :is connecting from *@127.0.0.1 127.0.0.1") in lines, lines
    far = connect_from(srv, "127.0.0.2")
    far.register("far")
    lines = whois(root, "far")
    assert num("378", "root", "far :is connecting from *@127.0.0.2 127.0.0.2") in lines, lines
    # K-lines match the real address behind the cloak
    root.send("KLINE *@127.0.0.2 :cloaks do not hide you")
    far.expect(num("465", "far", ":You are banned from this server (cloaks do not hide you)"))
    lines = far.expect_closed()
    assert lines[-1] == "ERROR :Closing Link: %s (K-lined: cloaks do not hide you)" % expected_cloak(
        SECRET, "127.0.0.2"), lines
    quiet(alice)


def test_real_host_needs_see_hidden(make_server):
    """An operator block without the see_hidden privilege does not reveal real hosts."""
    srv = start(make_server, opers=[oper_block("small", privileges="kill")],
                sections={"privacy": {"cloak_secret": SECRET, "cloak_default": True}})
    root = srv.connect("root")
    oper_up(root, "small")
    srv.connect("alice")
    lines = whois(root, "alice")
    assert not [l for l in lines if l.command == "378"], lines


# --------------------------------------------------------------------------------------
# SILENCE


def test_silence_mask(make_server):
    srv = start(make_server)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    carol = srv.connect("carol")
    join(alice, "#room")
    join(bob, "#room", alice)
    alice.send("SILENCE +bob")
    alice.expect_next(":%s SILENCE +bob!*@*" % mask("alice"))
    bob.send("PRIVMSG alice :can you hear me")
    bob.send("NOTICE alice :or this")
    quiet(bob, alice)
    # an invite is swallowed too; bob sees the usual 341
    alice.send("PART #room")
    alice.expect(lambda l: l.command == "PART")
    bob.expect(lambda l: l.command == "PART")
    bob.send("INVITE alice #room")
    bob.expect_next(num("341", "bob", "alice #room"))
    quiet(bob, alice)
    # others are not affected
    carol.send("PRIVMSG alice :hello")
    alice.expect_next(":%s PRIVMSG alice :hello" % mask("carol"))
    # the list
    alice.send("SILENCE +*!*@10.*")
    alice.expect_next(":%s SILENCE +*!*@10.*" % mask("alice"))
    alice.send("SILENCE")
    lines = alice.read_until(lambda l: l.command == "272")
    assert sorted(lines[:-1]) == sorted([num("271", "alice", "alice bob!*@*"),
                                         num("271", "alice", "alice *!*@10.*")]), lines
    assert lines[-1] == num("272", "alice", ":End of Silence List")
    # removing
    alice.send("SILENCE -bob")
    alice.expect_next(":%s SILENCE -bob!*@*" % mask("alice"))
    bob.send("PRIVMSG alice :and now")
    alice.expect_next(":%s PRIVMSG alice :and now" % mask("bob"))
    alice.send("SILENCE")
    lines = alice.read_until(lambda l: l.command == "272")
    assert lines == [num("271", "alice", "alice *!*@10.*"), num("272", "alice", ":End of Silence List")]
    quiet(alice, bob)


def test_silence_list_full(server):
    alice = server.connect("alice")
    for i in range(15):
        alice.send("SILENCE +spammer%d" % i)
        alice.expect_next(":%s SILENCE +spammer%d!*@*" % (mask("alice"), i))
    alice.send("SILENCE +onetoomany")
    alice.expect_next(num("511", "alice", "onetoomany!*@* :Your silence list is full"))
    alice.send("SILENCE")
    lines = alice.read_until(lambda l: l.command == "272")
    assert len(lines) == 16, lines


def test_silence_account(make_server):
    srv = start(make_server)
    register_account(srv, "bobacct", PASSWORD)
    alice = srv.connect("alice")
    bob = srv.connect("bob", password="bobacct:" + PASSWORD)
    impostor = srv.connect("bobacct")  # the nick, not the account
    alice.send("SILENCE +$a:bobacct")
    alice.expect_next(":%s SILENCE +$a:bobacct" % mask("alice"))
    bob.send("PRIVMSG alice :logged in and ignored")
    quiet(bob, alice)
    impostor.send("PRIVMSG alice :not logged in")
    alice.expect_next(":%s PRIVMSG alice :not logged in" % mask("bobacct"))
    alice.send("SILENCE")
    lines = alice.read_until(lambda l: l.command == "272")
    assert lines[0] == num("271", "alice", "alice $a:bobacct"), lines
    alice.send("SILENCE -$a:bobacct")
    alice.expect_next(":%s SILENCE -$a:bobacct" % mask("alice"))
    bob.send("PRIVMSG alice :heard")
    alice.expect_next(":%s PRIVMSG alice :heard" % mask("bob"))


# --------------------------------------------------------------------------------------
# REPORT


def test_report(make_server, backend):
    srv = start(make_server, backend=backend)
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    carol = srv.connect("carol")
    bob.send("REPORT carol :spamming everyone")
    bob.expect_next("%s NOTE REPORT RECEIVED carol :Your report was sent to the operators" % S)
    root.expect(snotice("root", "REPORT from bob about %s: spamming everyone" % mask("carol")))
    bob.send("REPORT nobody :ghost")
    bob.expect_next("%s FAIL REPORT INVALID_TARGET nobody :No such nick or message id" % S)
    bob.send("REPORT carol :")
    bob.expect_next("%s FAIL REPORT NEED_REASON carol :Give a reason for the report" % S)
    sync(bob)
    sync(root)
    root.send("REPORTS")
    root.expect_next(":%s NOTICE root :REPORTS: #1 by bob about carol (- 127.0.0.1): spamming everyone" % SERVER_NAME)
    root.expect_next(":%s NOTICE root :REPORTS: 1 open report" % SERVER_NAME)
    root.send("REPORTS CLOSE 1")
    root.expect_next(":%s NOTICE root :REPORTS: closed #1" % SERVER_NAME)
    root.send("REPORTS")
    root.expect_next(":%s NOTICE root :REPORTS: 0 open reports" % SERVER_NAME)
    # a message, by its msgid
    carol_tags = srv.connect("dave", caps=["message-tags"])
    carol.send("PRIVMSG dave :buy cheap stuff")
    line = carol_tags.expect(lambda l: l.command == "PRIVMSG")
    msgid = line.tags["msgid"]
    carol_tags.send("REPORT %s :spam message" % msgid)
    carol_tags.expect_next("%s NOTE REPORT RECEIVED %s :Your report was sent to the operators" % (S, msgid))
    root.expect(snotice("root", "REPORT from dave about %s: spam message" % msgid))
    sync(carol_tags)
    sync(root)
    root.send("REPORTS")
    line = root.expect_next(lambda l: l.command == "NOTICE")
    # the report carries the reported message, its sender and account, from history
    assert line.params[1] == ("REPORTS: #2 by dave about %s (- %s): spam message "
                              "[message: \"buy cheap stuff\"]" % (msgid, mask("carol"))), line
    root.expect_next(":%s NOTICE root :REPORTS: 1 open report" % SERVER_NAME)
    # not for users
    bob.send("REPORTS")
    bob.expect_next(num("481", "bob", NOPRIV))
    quiet(bob, carol, root)
