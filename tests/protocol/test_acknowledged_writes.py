"""A success reply means the change is stored (issue 13): KLINE/DLINE/UNKLINE and
ChanServ REGISTER/ACCESS/AKICK/SET/TRANSFER/DROP answer after their transaction
committed; with the database down the user gets TEMPORARILY_UNAVAILABLE (FAIL, or a
ChanServ NOTICE) and nothing changes in memory. A frozen database (SIGSTOP) answers
failures within seconds, and history leaves its journal within 2 s of the database's
return. Operators cannot lock everyone (or themselves) out by accident, and
`parleyd -unban` removes a stored ban without a client."""

import os
import signal
import sqlite3
import subprocess
import threading
import time

from conftest import PARLEYD, SERVER_NAME, accounts_section, register_account, wait_for
from operutil import (CHANSERV, S, connect_from, cs, cs_notice, join, oper_block, oper_up, operators_text,
                      snotice, sync)

PW = "hunter2hunter2"
BAN_DOWN = "The ban database is temporarily unavailable; try again shortly"
CS_DOWN = "The channel database is temporarily unavailable; try again shortly."


def start(make_server, backend, **sections):
    sections.setdefault("accounts", accounts_section())
    return make_server(backend=backend, flood_enabled=False, sections=sections, extra=operators_text(oper_block()))


def user(srv, nick):
    """A client registered as nick and logged in to the account of the same name."""
    c = srv.client()
    lines = c.register(nick, password="%s:%s" % (nick, PW))
    assert any(l.command == "900" for l in lines), lines
    return c


def fail(cmd, code, target, text):
    return "%s FAIL %s %s %s :%s" % (S, cmd, code, target, text)


def stats(c, letter):
    c.send("STATS " + letter)
    lines = c.read_until(lambda l: l.command == "219")
    return [l.params[2] for l in lines if l.command in ("216", "225")]


def ask(c, text, until):
    """Sends text to ChanServ; returns the notices' texts up to one starting with until."""
    cs(c, text)
    lines = c.read_until(lambda l: l.command == "NOTICE" and l.source == CHANSERV and l.params[1].startswith(until))
    return [l.params[1] for l in lines if l.source == CHANSERV]


def refused_at_registration(srv, nick, user_name):
    c = srv.client()
    c.send("NICK " + nick)
    c.send("USER %s 0 * :x" % user_name)
    lines = c.expect_closed()
    return not any(l.command == "001" for l in lines)


def stopped(pid):
    """True once every thread of pid is stopped (state T in /proc)."""
    tasks = os.listdir("/proc/%d/task" % pid)
    for tid in tasks:
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                return False
    return True


def freeze(db):
    """SIGSTOP, and wait until every thread of mariadbd has stopped: the signal stops a
    busy process's threads one by one, and a statement sent before they all have may
    still be executed."""
    os.kill(db.proc.pid, signal.SIGSTOP)
    wait_for(lambda: stopped(db.proc.pid), what="mariadbd stopped")


def thaw(db):
    os.kill(db.proc.pid, signal.SIGCONT)


# --------------------------------------------------------------------------------------
# The database is down: nothing is acknowledged, nothing changes


def test_bans_refused_while_database_down(make_server, mariadb_backend):
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend)
    root = srv.connect("root")
    oper_up(root)
    root.send("KLINE old@127.0.0.1 :before")
    root.expect(":%s NOTICE root :Added KLINE old@127.0.0.1" % SERVER_NAME)
    db.kill()
    try:
        root.send("KLINE victim@127.0.0.1 :t")
        root.expect(fail("KLINE", "TEMPORARILY_UNAVAILABLE", "victim@127.0.0.1", BAN_DOWN))
        root.send("DLINE 10 127.0.0.9 :t")
        root.expect(fail("DLINE", "TEMPORARILY_UNAVAILABLE", "127.0.0.9", BAN_DOWN))
        root.send("UNKLINE old@127.0.0.1")
        root.expect(fail("UNKLINE", "TEMPORARILY_UNAVAILABLE", "old@127.0.0.1", BAN_DOWN))
        assert sync(root) == []  # no "added" server notice either
        # memory is unchanged: the refused bans do not ban, the old one still does
        assert stats(root, "k") == ["old@127.0.0.1"]
        assert stats(root, "d") == []
        srv.connect("victim")
        connect_from(srv, "127.0.0.9").register("nine")
        assert refused_at_registration(srv, "old1", "old")
    finally:
        db.spawn()
    rows = mariadb_backend.query("SELECT kind, mask FROM server_bans")
    assert rows == [("k", "old@127.0.0.1")], rows
    # and once the database is back, the same command works
    root.send("KLINE victim@127.0.0.1 :t")
    root.expect(":%s NOTICE root :Added KLINE victim@127.0.0.1" % SERVER_NAME, timeout=5)


def test_chanserv_refused_while_database_down(make_server, mariadb_backend):
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend)
    for name in ("alice", "bob"):
        register_account(srv, name, PW)
    alice = user(srv, "alice")
    join(alice, "#kept")
    join(alice, "#room")
    cs(alice, "REGISTER #kept first")
    alice.expect_next(cs_notice(alice, "#kept is now registered to alice."))
    db.kill()
    try:
        for text in ("REGISTER #room", "ACCESS #kept ADD bob op", "AKICK #kept ADD bad!*@* go away",
                     "SET #kept DESCRIPTION changed", "SET #kept RESTRICTED ON", "TRANSFER #kept bob",
                     "DROP #kept"):
            began = time.monotonic()
            cs(alice, text)
            alice.expect_next(cs_notice(alice, CS_DOWN))
            assert time.monotonic() - began < 3, text
        # nothing changed in memory
        assert ask(alice, "INFO #room", "#room") == ["#room is not registered."]
        info = ask(alice, "INFO #kept", "End of info.")
        assert "Founder: alice" in info and "Description: first" in info, info
        assert "Settings: MLOCK (none), TOPICLOCK OFF, KEEPTOPIC ON, RESTRICTED OFF" in info, info
        assert ask(alice, "ACCESS #kept LIST", "End of") == [
            "Access list of #kept:", "  %-20s founder" % "alice", "End of access list."]
        assert ask(alice, "AKICK #kept LIST", "End of") == ["AKICK list of #kept:", "End of AKICK list."]
    finally:
        db.spawn()
    assert mariadb_backend.query("SELECT name, founder, description FROM channels") == [("#kept", "alice", "first")]
    assert mariadb_backend.query("SELECT COUNT(*) FROM channel_access") == [("0",)]
    assert mariadb_backend.query("SELECT COUNT(*) FROM channel_akick") == [("0",)]


# --------------------------------------------------------------------------------------
# Acknowledged, then killed: the change is there after a restart


class Stall:
    """Holds the database up for a moment: SQLite locked by another connection, MariaDB
    stopped with SIGSTOP; released after seconds (from a thread) or by release()."""

    def __init__(self, backend):
        self.backend = backend
        self.lock = None
        self.timer = None

    def __enter__(self):
        if self.backend.name == "sqlite":
            self.lock = sqlite3.connect(str(self.backend.path), isolation_level=None, timeout=10,
                                        check_same_thread=False)
            self.lock.execute("BEGIN EXCLUSIVE")
        else:
            freeze(self.backend.mariadb)
        return self

    def release_after(self, seconds):
        self.timer = threading.Timer(seconds, self.release)
        self.timer.start()

    def release(self):
        if self.lock is not None:
            self.lock.execute("ROLLBACK")
            self.lock.close()
            self.lock = None
        elif self.backend.name == "mariadb":
            thaw(self.backend.mariadb)

    def __exit__(self, *exc):
        if self.timer:
            self.timer.join()
        self.release()


def acknowledged_then_killed(srv, backend, speaker, send, ack):
    """With the storage thread busy (a history batch waiting on a stalled database),
    sends a command, waits for its acknowledgement ack (a predicate on lines) and kills
    parleyd with SIGKILL at once. The database is released one second in."""
    with Stall(backend) as stall:
        speaker.send("PRIVMSG #chat :the storage thread is busy with this")
        time.sleep(0.2)  # the batch is on the storage thread, waiting
        stall.release_after(1.0)
        c = send()
        c.expect(ack, timeout=10)
        srv.proc.kill()
        srv.proc.wait()
    srv.start()


def test_acknowledged_ban_survives_kill(make_server, backend):
    srv = start(make_server, backend)
    root = srv.connect("root")
    oper_up(root)
    join(root, "#chat")

    def send():
        root.send("KLINE kept@127.0.0.1 :acknowledged")
        return root
    acknowledged_then_killed(srv, backend, root, send, ":%s NOTICE root :Added KLINE kept@127.0.0.1" % SERVER_NAME)
    assert refused_at_registration(srv, "kept", "kept")
    root = srv.connect("root")
    oper_up(root)
    assert stats(root, "k") == ["kept@127.0.0.1"]


def test_acknowledged_chanserv_changes_survive_kill(make_server, backend):
    srv = start(make_server, backend)
    for name in ("alice", "bob"):
        register_account(srv, name, PW)
    alice = user(srv, "alice")
    join(alice, "#chat")
    join(alice, "#room")

    def register():
        cs(alice, "REGISTER #room a description")
        return alice
    acknowledged_then_killed(srv, backend, alice, register, cs_notice(alice, "#room is now registered to alice."))
    alice = user(srv, "alice")
    info = ask(alice, "INFO #room", "End of info.")
    assert "Founder: alice" in info and "Description: a description" in info, info
    join(alice, "#chat")

    def access():
        cs(alice, "ACCESS #room ADD bob op")
        return alice
    acknowledged_then_killed(srv, backend, alice, access,
                             cs_notice(alice, "bob added to the access list of #room as op."))
    alice = user(srv, "alice")
    assert ask(alice, "ACCESS #room LIST", "End of") == [
        "Access list of #room:", "  %-20s founder" % "alice", "  %-20s op" % "bob", "End of access list."]


# --------------------------------------------------------------------------------------
# A frozen database


def test_frozen_database_fails_fast(make_server, mariadb_backend, tmp_path):
    db = mariadb_backend.mariadb
    journal = tmp_path / "history.journal"
    srv = start(make_server, mariadb_backend, history={"journal": str(journal)})
    register_account(srv, "alice", PW)
    alice = user(srv, "alice")
    root = srv.connect("root")
    oper_up(root)
    join(alice, "#room")
    join(root, "#room", alice)
    root.send("PRIVMSG #room :before")
    alice.expect(lambda l: l.command == "PRIVMSG" and l.params == ["#room", "before"])
    wait_for(lambda: mariadb_backend.query("SELECT COUNT(*) FROM messages") == [("1",)], what="the message stored")
    freeze(db)
    try:
        began = time.monotonic()
        root.send("KLINE frozen@127.0.0.1 :t")
        cs(alice, "REGISTER #room")  # queued behind the KLINE on the storage thread
        root.expect(fail("KLINE", "TEMPORARILY_UNAVAILABLE", "frozen@127.0.0.1", BAN_DOWN), timeout=5)
        first = time.monotonic() - began
        alice.expect(cs_notice(alice, CS_DOWN), timeout=5)
        second = time.monotonic() - began
        assert first < 5 and second < 5, (first, second)
        # later commands too, and the chat goes on (into the journal)
        began = time.monotonic()
        root.send("KLINE frozen2@127.0.0.1 :t")
        root.expect(fail("KLINE", "TEMPORARILY_UNAVAILABLE", "frozen2@127.0.0.1", BAN_DOWN), timeout=5)
        third = time.monotonic() - began
        assert third < 5, third
        time.sleep(1)  # past the pause after a timeout: this one tries to connect again
        began = time.monotonic()
        root.send("KLINE frozen3@127.0.0.1 :t")
        root.expect(fail("KLINE", "TEMPORARILY_UNAVAILABLE", "frozen3@127.0.0.1", BAN_DOWN), timeout=5)
        fourth = time.monotonic() - began
        assert fourth < 5, fourth
        root.send("PRIVMSG #room :during")
        alice.expect(lambda l: l.command == "PRIVMSG" and l.params == ["#room", "during"], timeout=2)
        wait_for(lambda: journal.exists(), timeout=10, what="the message journaled")
        assert stats(root, "k") == []
    finally:
        thaw(db)
    back = time.monotonic()
    wait_for(lambda: not journal.exists(), timeout=10, interval=0.02, what="the journal replayed")
    left = time.monotonic() - back
    print("frozen: KLINE answered in %.2f s, the queued REGISTER in %.2f s, a later KLINE in %.2f s, one "
          "trying to reconnect in %.2f s; journal left %.2f s after SIGCONT" % (first, second, third, fourth, left))
    assert left < 2, "history stayed in the journal %.2f s after the database came back" % left
    texts = [r[0] for r in mariadb_backend.query("SELECT text FROM messages ORDER BY seq")]
    assert texts == ["before", "during"], texts
    # the refused bans were not applied when the server resumed either
    rows = mariadb_backend.query("SELECT mask FROM server_bans")
    assert rows == [], rows
    root.send("KLINE after@127.0.0.1 :t")
    root.expect(":%s NOTICE root :Added KLINE after@127.0.0.1" % SERVER_NAME, timeout=10)
    cs(alice, "REGISTER #room")
    alice.expect(cs_notice(alice, "#room is now registered to alice."), timeout=10)


def test_history_leaves_journal_quickly_after_outage(make_server, mariadb_backend, tmp_path):
    """A database away for ten seconds: once it is back, the journal is replayed within
    2 s, without anyone speaking (the reconnection is retried every half second)."""
    db = mariadb_backend.mariadb
    journal = tmp_path / "history.journal"
    srv = start(make_server, mariadb_backend, history={"journal": str(journal)})
    alice, bob = srv.connect("alice"), srv.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    db.kill()
    try:
        for i in range(10):
            alice.send("PRIVMSG #room :during %d" % i)
            bob.expect(lambda l: l.command == "PRIVMSG" and l.params[-1] == "during %d" % i)
            time.sleep(1)
        wait_for(lambda: journal.exists(), what="the journal")
    finally:
        db.spawn()
    back = time.monotonic()
    wait_for(lambda: not journal.exists(), timeout=40, interval=0.02, what="the journal replayed")
    left = time.monotonic() - back
    print("outage of 10 s: journal left %.2f s after the database answered again" % left)
    assert left < 2, "history stayed in the journal %.2f s after the database came back" % left
    assert mariadb_backend.query("SELECT COUNT(*) FROM messages") == [("10",)]


# --------------------------------------------------------------------------------------
# Lock-outs


def test_lockout_bans_refused_unless_forced(make_server):
    srv = make_server(extra=operators_text(oper_block()), sections={"accounts": accounts_section()})
    root = srv.connect("root")
    oper_up(root)
    bob = srv.connect("bob")
    self_text = "That ban matches your own connection; prefix the mask with ! to set it anyway"
    broad_text = "That ban matches (nearly) everyone; prefix the mask with ! to set it anyway"
    root.send("DLINE 10 127.0.0.1 :self")
    root.expect(fail("DLINE", "MATCHES_YOU", "127.0.0.1", self_text))
    root.send("DLINE 127.0.0.0/24 :self")
    root.expect(fail("DLINE", "MATCHES_YOU", "127.0.0.0/24", self_text))
    root.send("KLINE root@127.0.0.1 :self")
    root.expect(fail("KLINE", "MATCHES_YOU", "root@127.0.0.1", self_text))
    root.send("KLINE *@* :everyone")
    root.expect(fail("KLINE", "TOO_BROAD", "*@*", broad_text))
    root.send("KLINE *@0.0.0.0/4 :everyone")
    root.expect(fail("KLINE", "TOO_BROAD", "*@0.0.0.0/4", broad_text))
    root.send("DLINE 0.0.0.0/4 :a sixteenth of everyone")
    root.expect(fail("DLINE", "TOO_BROAD", "0.0.0.0/4", broad_text))
    root.send("DLINE * :everyone")
    root.expect(fail("DLINE", "TOO_BROAD", "*", broad_text))
    assert sync(root) == [] and sync(bob) == []
    assert stats(root, "k") == [] and stats(root, "d") == []
    # a narrower ban is fine; the forced forms are accepted
    root.send("DLINE 127.0.0.2/32 :narrow")
    root.expect(":%s NOTICE root :Added DLINE 127.0.0.2/32" % SERVER_NAME)
    root.send("DLINE !0.0.0.0/4 :forced")
    root.expect(":%s NOTICE root :Added DLINE 0.0.0.0/4" % SERVER_NAME)
    assert sorted(stats(root, "d")) == ["0.0.0.0/4", "127.0.0.2/32"]
    root.send("KLINE !bob@127.0.0.1 :forced")  # not self, not broad: the ! changes nothing
    root.expect(":%s NOTICE root :Added KLINE bob@127.0.0.1" % SERVER_NAME)
    bob.expect_closed()
    root.send("KLINE !root@127.0.0.1 :myself")
    root.expect(":%s NOTICE root :Added KLINE root@127.0.0.1" % SERVER_NAME)
    lines = root.expect_closed()
    assert lines[-1] == "ERROR :Closing Link: 127.0.0.1 (K-lined: myself)", lines


def unban(srv, mask):
    return subprocess.run([PARLEYD, "-unban", mask, "-f", str(srv.conf_path)], capture_output=True, text=True,
                          timeout=30)


def test_unban_from_the_command_line(make_server, backend):
    srv = start(make_server, backend)
    root = srv.connect("root")
    oper_up(root)
    root.send("DLINE !127.0.0.0/8 :everyone local")
    root.expect(":%s NOTICE root :Added DLINE 127.0.0.0/8" % SERVER_NAME)
    root.expect_closed()
    root.close()
    assert connect_from(srv, "127.0.0.5").expect_closed() == [
        "ERROR :Closing Link: 127.0.0.5 (D-lined: everyone local)"]
    # persisted: still there after a restart; removed while the daemon runs
    srv.stop()
    srv.start()
    assert connect_from(srv, "127.0.0.5").expect_closed()
    out = unban(srv, "127.0.0.0/8")
    assert out.returncode == 0, out
    assert out.stdout == "removed D-line 127.0.0.0/8 (everyone local)\n", out
    assert backend.query("SELECT COUNT(*) FROM server_bans") == [("0",)]
    out = unban(srv, "127.0.0.0/8")
    assert out.returncode == 1 and out.stdout == "", out
    assert "no stored K-line or D-line is 127.0.0.0/8" in out.stderr, out
    # the running daemon lifts it on SIGHUP (or REHASH)
    srv.signal(signal.SIGHUP)

    def lifted():
        c = connect_from(srv, "127.0.0.5")
        try:  # while the D-line holds, the server closes the connection at once
            c.send("NICK back")
            c.send("USER back 0 * :x")
            return any(l.command == "001" for l in c.read_until(lambda l: l.command in ("001", "ERROR")))
        except (OSError, AssertionError):
            return False
    wait_for(lifted, timeout=5, interval=0.2, what="the D-line lifted after SIGHUP")
    srv.stop()
    srv.start()
    root = srv.connect("root")
    oper_up(root)
    assert stats(root, "d") == []


# --------------------------------------------------------------------------------------
# REPORT; MODE lists and topics of registered rooms (stored behind their echo)


def test_report_refused_while_database_down(make_server, mariadb_backend):
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend)
    root = srv.connect("root")
    oper_up(root)
    bob, carol = srv.connect("bob", caps=["message-tags", "echo-message"]), srv.connect("carol")
    join(bob, "#room")
    join(carol, "#room", bob)
    bob.send("PRIVMSG #room :hello")
    msgid = bob.expect(lambda l: l.command == "PRIVMSG").tags["msgid"]
    db.kill()
    try:
        text = "Reports are temporarily unavailable; try again shortly"
        bob.send("REPORT carol :spamming")
        bob.expect_next(fail("REPORT", "TEMPORARILY_UNAVAILABLE", "carol", text))
        bob.send("REPORT %s :that message" % msgid)
        bob.expect_next(fail("REPORT", "TEMPORARILY_UNAVAILABLE", msgid, text))
        assert sync(root) == []  # the operators were not told of a report that is not stored
    finally:
        db.spawn()
    bob.send("REPORT carol :spamming")
    bob.expect_next("%s NOTE REPORT RECEIVED carol :Your report was sent to the operators" % S)
    assert mariadb_backend.query("SELECT target, reason FROM reports") == [("carol", "spamming")]


def test_room_lists_and_topic_stored_once_database_is_back(make_server, mariadb_backend):
    """MODE +b and TOPIC on a registered room during an outage take effect at once (the
    echo is the acknowledgement); ChanServ writes the room's lists and topic again once
    the database is back, so a restart keeps them."""
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend)
    register_account(srv, "alice", PW)
    alice = user(srv, "alice")
    join(alice, "#room")
    cs(alice, "REGISTER #room")
    alice.expect_next(cs_notice(alice, "#room is now registered to alice."))
    alice.send("MODE #room +b old!*@*")
    alice.expect(lambda l: l.command == "MODE" and l.params == ["#room", "+b", "old!*@*"])
    wait_for(lambda: mariadb_backend.query("SELECT mask FROM channel_lists") == [("old!*@*",)], what="+b stored")
    db.kill()
    try:
        alice.send("MODE #room +b-b new!*@* old!*@*")
        alice.expect(lambda l: l.command == "MODE" and l.params[:2] == ["#room", "+b-b"])
        alice.send("TOPIC #room :set during the outage")
        alice.expect(lambda l: l.command == "TOPIC" and l.params == ["#room", "set during the outage"])
        sync(alice)
        time.sleep(0.5)
    finally:
        db.spawn()
    wait_for(lambda: mariadb_backend.query("SELECT mask FROM channel_lists") == [("new!*@*",)], timeout=10,
             what="the lists written again")
    wait_for(lambda: mariadb_backend.query("SELECT topic FROM channels") == [("set during the outage",)],
             timeout=10, what="the topic written again")
    srv.stop()
    srv.start()
    alice = user(srv, "alice")
    alice.send("MODE #room b")
    lines = alice.read_until(lambda l: l.command == "368")
    assert [l.params[2] for l in lines if l.command == "367"] == ["new!*@*"], lines
    lines = join(alice, "#room")
    assert any(l.command == "332" and l.params[-1] == "set during the outage" for l in lines), lines


# --------------------------------------------------------------------------------------
# MARKREAD (draft/read-marker) of a logged-in user: answered once stored

MARKER_CAPS = ["draft/read-marker"]
MARK_DOWN = "The read marker could not be stored; try again shortly"
T1, T2 = "2026-01-02T03:04:05.678Z", "2026-01-03T00:00:00.001Z"


def marker_user(srv, nick):
    """A client with draft/read-marker, logged in to the account nick."""
    c = srv.client()
    lines = c.register(nick, caps=MARKER_CAPS, password="%s:%s" % (nick, PW))
    assert any(l.command == "900" for l in lines), lines
    return c


def stored_markers(backend):
    return backend.query("SELECT account_key, target_key, time_ms FROM read_markers ORDER BY target_key")


def test_markread_refused_while_database_down(make_server, backend):
    """With the database down (MariaDB killed; SQLite locked by another writer past the
    busy timeout) MARKREAD answers FAIL MARKREAD TEMPORARILY_UNAVAILABLE, the marker stays
    as it was (for this session and the account's other sessions), and the same command
    works once the database is back."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PW)
    alice = marker_user(srv, "alice")
    other = srv.connect("alice_", caps=MARKER_CAPS)  # not logged in to alice: hears nothing
    phone = srv.client()
    phone.register("phone", caps=MARKER_CAPS, password="alice:" + PW)
    join(alice, "#room")
    alice.send("MARKREAD #room timestamp=" + T1)
    for c in (alice, phone):
        c.expect_next("%s MARKREAD #room timestamp=%s" % (S, T1))
    stall = Stall(backend) if backend.name == "sqlite" else None
    if stall:
        stall.__enter__()
    else:
        backend.mariadb.kill()
    try:
        for target in ("#room", "bob"):
            alice.send("MARKREAD %s timestamp=%s" % (target, T2))
            alice.expect_next(fail("MARKREAD", "TEMPORARILY_UNAVAILABLE", target, MARK_DOWN), timeout=10)
        alice.send("MARKREAD #room")
        alice.expect_next("%s MARKREAD #room timestamp=%s" % (S, T1))
        alice.send("MARKREAD bob")
        alice.expect_next("%s MARKREAD bob *" % S)
        assert sync(phone) == [] and sync(other) == []
    finally:
        if stall:
            stall.release()
        else:
            backend.mariadb.spawn()
    assert stored_markers(backend) == [("alice", "#room", str(1767323045678))]

    def stored():
        alice.send("MARKREAD #room timestamp=" + T2)
        line = alice.expect_next(lambda l: l.command in ("MARKREAD", "FAIL"), timeout=10)
        if line.command == "FAIL":
            time.sleep(0.3)  # reconnecting
            return False
        assert line == "%s MARKREAD #room timestamp=%s" % (S, T2), line
        return True
    wait_for(stored, timeout=10, what="MARKREAD stored again")
    phone.expect_next("%s MARKREAD #room timestamp=%s" % (S, T2))
    assert stored_markers(backend) == [("alice", "#room", str(1767398400001))]
    # never backwards, in memory or stored
    alice.send("MARKREAD #room timestamp=" + T1)
    alice.expect_next("%s MARKREAD #room timestamp=%s" % (S, T2))
    assert stored_markers(backend) == [("alice", "#room", str(1767398400001))]


def test_acknowledged_markread_survives_kill(make_server, backend):
    """MARKREAD's reply comes after the commit: killed right after it (the storage thread
    busy with a stalled history batch before it), the restarted server has the marker
    at login."""
    srv = start(make_server, backend)
    register_account(srv, "alice", PW)
    alice = marker_user(srv, "alice")
    join(alice, "#chat")
    join(alice, "#room")

    def send():
        alice.send("MARKREAD #room timestamp=" + T1)
        return alice
    acknowledged_then_killed(srv, backend, alice, send, "%s MARKREAD #room timestamp=%s" % (S, T1))
    alice = marker_user(srv, "alice")
    # a session logged in at registration is told the account's markers after its welcome
    alice.expect_next("%s MARKREAD #room timestamp=%s" % (S, T1))
    lines = join(alice, "#room")
    assert "%s MARKREAD #room timestamp=%s" % (S, T1) in lines, lines
    alice.send("MARKREAD #room")
    alice.expect_next("%s MARKREAD #room timestamp=%s" % (S, T1))
