"""Issue 16, on SQLite and MariaDB: direct messages to an offline registered account are
kept and delivered at its next login; a logged-in user joining a channel gets what it
missed there (catch-up) instead of the last lines; read markers reach a session when it
logs in. The formats are the README's (section History)."""

import re
import signal
import time

from chanutil import join, part, quiet, sync
from conftest import NICKSERV, SERVER_NAME, sasl_plain
from test_history import ECHO, FULL, PASSWORD, S, ms, no_replay, ns, read_batch, register, say, seconds, start

OFFLINE = "is offline; your message will be delivered when they log in"
HEAD = S + " NOTICE %s :— %d message%s sent to you while you were offline —"
FOOT = S + " NOTICE %s :— end of offline messages —"
TIME = ["server-time"]


def account(srv, nick, caps=None):
    """Registers the account nick (logged in at once) and disconnects it."""
    c = srv.connect(nick, caps=caps)
    register(c)
    c.send("QUIT")
    c.expect_closed()


def login(srv, nick, caps=None, as_account=None):
    """A client that connects as nick and IDENTIFYs to as_account (default nick); returns
    it and the lines it got after the identify notice up to a PING barrier."""
    c = srv.connect(nick, caps=caps)
    ns(c, "IDENTIFY %s %s" % (as_account or nick, PASSWORD))
    c.expect(lambda l: l.command == "900")
    c.read_until(":%s NOTICE %s :You are now identified for %s." % (NICKSERV, nick, as_account or nick))
    return c


def offline_lines(c, n):
    """Reads the offline replay header, its n messages and the footer; returns the messages."""
    c.expect_next(HEAD % (c.nick, n, "" if n == 1 else "s"))
    lines = [c.expect_next(lambda l: True) for _ in range(n)]
    c.expect_next(FOOT % c.nick)
    return lines


def sent_to_offline(c, target, text):
    """c (without echo-message) sends text to target, offline: the 301 says it is kept."""
    c.send("PRIVMSG %s :%s" % (target, text))
    c.expect_next("%s 301 %s %s :%s %s" % (S, c.nick, target, target, OFFLINE))


def wait_count(backend, table, n):
    """Waits until table (with a WHERE) holds n rows (writes behind a reply are async)."""
    deadline = time.time() + 5
    while int(backend.query("SELECT COUNT(*) FROM " + table)[0][0]) != n and time.time() < deadline:
        time.sleep(0.05)
    assert int(backend.query("SELECT COUNT(*) FROM " + table)[0][0]) == n, table


# --------------------------------------------------------------------------------------
# Offline direct messages


def test_offline_message_kept_and_replayed_to_a_plain_client(make_server, backend):
    srv = start(make_server, backend)
    account(srv, "bob")
    alice = srv.connect("alice")
    register(alice)
    sent_to_offline(alice, "bob", "are you there?")
    sent_to_offline(alice, "BOB", "second")  # the nick as written comes back in the 301
    alice.send("NOTICE bob :a notice")  # kept too, and no reply to a NOTICE
    quiet(alice)
    # A nick that is no account, and a guest sender: 401 as before.
    alice.send("PRIVMSG nobody :hello")
    alice.expect_next("%s 401 alice nobody :No such nick/channel" % S)
    guest = srv.connect("guest")
    guest.send("PRIVMSG bob :from a guest")
    guest.expect_next("%s 401 guest bob :No such nick/channel" % S)

    bob = login(srv, "bob")
    got = offline_lines(bob, 3)
    rows = backend.query("SELECT text, time FROM messages WHERE target_key = '@alice,bob' ORDER BY seq")
    assert [r[0] for r in rows] == ["are you there?", "second", "a notice"], rows
    when = [time.strftime("[%Y-%m-%d %H:%M:%S] ", time.gmtime(int(r[1]) // 1000)) for r in rows]
    assert got == [":alice!alice@127.0.0.1 PRIVMSG bob :%sare you there?" % when[0],
                   ":alice!alice@127.0.0.1 PRIVMSG bob :%ssecond" % when[1],
                   ":alice!alice@127.0.0.1 NOTICE bob :%sa notice" % when[2]], got
    quiet(bob)
    wait_count(backend, "offline_messages", 0)
    # the conversation is read up to the last message replayed
    wait_count(backend, "read_markers WHERE account_key = 'bob' AND target_key = 'alice' AND time_ms = %d"
               % int(rows[-1][1]), 1)
    # Delivered means done: the next login shows nothing again.
    bob.send("QUIT")
    bob.expect_closed()
    bob = login(srv, "bob")
    quiet(bob)


def test_offline_message_with_server_time_and_echo(make_server, backend):
    srv = start(make_server, backend)
    account(srv, "bob")
    alice = srv.connect("alice", caps=ECHO)
    register(alice)
    alice.send("@+draft/reply=x PRIVMSG bob :tagged")
    echo = alice.expect_next(lambda l: True)  # the echo comes once it is stored, then the 301
    assert echo.command == "PRIVMSG" and echo.params == ["bob", "tagged"] and echo.tags.get("msgid"), echo
    alice.expect_next("%s 301 alice bob :bob %s" % (S, OFFLINE))
    bob = login(srv, "bob", caps=TIME + ["message-tags"])
    (line,) = offline_lines(bob, 1)
    assert line.params == ["bob", "tagged"] and line.tags["time"] == echo.tags["time"], line
    assert line.tags["msgid"] == echo.tags["msgid"] and line.tags.get("+draft/reply") == "x", line


def test_offline_message_to_a_chathistory_client(make_server, backend):
    srv = start(make_server, backend)
    account(srv, "bob")
    alice = srv.connect("alice", caps=ECHO)
    register(alice)
    carol = srv.connect("carol")
    register(carol)
    first = say(alice, "bob", "one")
    alice.expect_next("%s 301 alice bob :bob %s" % (S, OFFLINE))
    sent_to_offline(carol, "bob", "two")
    bob = login(srv, "bob", caps=FULL)
    bob.expect_next(S + " NOTICE bob :You have 2 unread messages sent while you were offline, from alice, carol "
                    "(in your direct conversations: CHATHISTORY)")
    quiet(bob)
    bob.send("CHATHISTORY LATEST alice * 10")
    lines = bob.read_until(lambda l: l.command == "BATCH" and l.params[0].startswith("-"))
    msgs = [l for l in lines if l.command == "PRIVMSG"]
    assert [(m.params, m.tags["msgid"]) for m in msgs] == [(["bob", "one"], first.tags["msgid"])], lines
    bob.send("QUIT")
    bob.expect_closed()
    bob = login(srv, "bob", caps=FULL)
    quiet(bob)


def test_offline_message_to_a_nick_of_the_account(make_server, backend):
    """A nick registered to an account other than its name (account_nicks; NickServ has
    no GROUP command yet, so the row is written directly) reaches that account."""
    srv = start(make_server, backend)
    account(srv, "bob")
    backend.query("INSERT INTO account_nicks (nick_key, nick, account_key) VALUES ('bobby', 'bobby', 'bob')")
    alice = srv.connect("alice")
    register(alice)
    sent_to_offline(alice, "Bobby", "to the other nick")
    bob = login(srv, "bob")
    (line,) = offline_lines(bob, 1)
    assert line.startswith(":alice!alice@127.0.0.1 PRIVMSG bob :[") and line.endswith("] to the other nick"), line


def test_offline_message_survives_kill(make_server, backend):
    srv = start(make_server, backend)
    account(srv, "bob")
    alice = srv.connect("alice")
    register(alice)
    sent_to_offline(alice, "bob", "kept through a crash")
    srv.proc.kill()  # SIGKILL right after the 301
    srv.proc.wait()
    srv.start()
    bob = login(srv, "bob")
    (line,) = offline_lines(bob, 1)
    assert line.startswith(":alice!alice@127.0.0.1 PRIVMSG bob :[") and line.endswith("] kept through a crash"), line


def test_offline_mailbox_is_bounded(make_server, backend):
    srv = start(make_server, backend, offline_max=8)  # a sender may fill a quarter: 2
    account(srv, "bob")
    alice = srv.connect("alice")
    register(alice)
    sent_to_offline(alice, "bob", "1")
    sent_to_offline(alice, "bob", "2")
    alice.send("PRIVMSG bob :3")
    alice.expect_next("%s FAIL PRIVMSG MAILBOX_FULL bob :That user is offline and has too many messages waiting" % S)
    alice.send("NOTICE bob :4")  # silently not kept
    quiet(alice)
    carol = srv.connect("carol")
    register(carol)
    sent_to_offline(carol, "bob", "from carol")  # others still can
    bob = login(srv, "bob")
    assert [l.params[1][22:] for l in offline_lines(bob, 3)] == ["1", "2", "from carol"]


def test_offline_messages_off_and_direct_history_off(make_server, backend):
    srv = start(make_server, backend, offline_messages=False)
    account(srv, "bob")
    alice = srv.connect("alice")
    register(alice)
    alice.send("PRIVMSG bob :not kept")
    alice.expect_next("%s 401 alice bob :No such nick/channel" % S)
    srv.stop()
    # direct_messages off: kept until delivered (even to a CHATHISTORY client, which gets
    # the replay then), then deleted
    srv = start(make_server, backend, direct_messages=False)
    alice = login(srv, "alice")
    sent_to_offline(alice, "bob", "kept until read")
    assert backend.query("SELECT COUNT(*) FROM messages")[0][0] in (1, "1")
    bob = login(srv, "bob", caps=FULL)
    (line,) = offline_lines(bob, 1)
    assert line.params == ["bob", "kept until read"], line
    wait_count(backend, "messages", 0)


# --------------------------------------------------------------------------------------
# Catch-up on JOIN


def catchup_head(c, chan, n, more=False):
    """The catch-up header c gets; returns its "since" text."""
    line = c.expect_next(lambda l: True)
    if more:
        m = re.fullmatch(r"%s NOTICE %s :— last %d messages in %s since (.+) UTC \(more: /msg HistServ PLAY %s\) —"
                         % (re.escape(S), chan, n, chan, chan), line)
    else:
        m = re.fullmatch(r"%s NOTICE %s :— %d messages? in %s since (.+) UTC —" % (re.escape(S), chan, n, chan), line)
    assert m, line
    return m.group(1)


def rejoin(c, chan, *members):
    """c joins chan; returns the lines after its 366 up to a PING barrier."""
    join(c, chan, *members)
    return sync(c)


def test_catchup_for_a_plain_client(make_server, backend):
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=ECHO)
    alice = srv.connect("alice")
    register(alice)
    join(bob, "#room")
    join(alice, "#room", bob)
    say(bob, "#room", "seen live")
    alice.expect(lambda l: l.params == ["#room", "seen live"])
    alice.send("QUIT")  # its last-seen point
    alice.expect_closed()
    bob.expect(lambda l: l.command == "QUIT")
    alt = login(srv, "alt", as_account="alice")  # the same account under another nick
    join(alt, "#room", bob)
    e1 = say(bob, "#room", "one")
    alt.send("PRIVMSG #room :mine")  # its own: left out
    bob.expect(lambda l: l.params == ["#room", "mine"])
    e2 = say(bob, "#room", "\x01ACTION waves\x01")
    sync(alt)

    alice = login(srv, "alice")
    sync(alice)
    join(alice, "#room", bob, alt)
    since = catchup_head(alice, "#room", 2)
    assert re.fullmatch(r"\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d", since), since
    assert alice.expect_next(lambda l: True) == ":bob!bob@127.0.0.1 PRIVMSG #room :%sone" % seconds(e1.tags["time"])
    assert alice.expect_next(lambda l: True) == \
        ":bob!bob@127.0.0.1 PRIVMSG #room :\x01ACTION %swaves\x01" % seconds(e2.tags["time"])
    alice.expect_next(S + " NOTICE #room :— end of catch-up in #room —")
    quiet(alice)
    # The marker moved to the last message shown: a rejoin shows nothing.
    deadline = time.time() + 5
    want = ms(e2.tags["time"])
    while time.time() < deadline:
        rows = backend.query("SELECT time_ms FROM read_markers WHERE account_key = 'alice' AND target_key = '#room'")
        if rows and int(rows[0][0]) == want:
            break
        time.sleep(0.05)
    assert rows and int(rows[0][0]) == want, rows
    part(alice, "#room", bob, alt)
    assert rejoin(alice, "#room", bob, alt) == []


def test_catchup_with_server_time_and_limit(make_server, backend):
    srv = start(make_server, backend, replay_lines=2)
    bob = srv.connect("bob", caps=ECHO)
    alice = srv.connect("alice", caps=["batch", "server-time"])
    register(alice)
    join(bob, "#room")
    join(alice, "#room", bob)
    part(alice, "#room", bob)
    echoes = [say(bob, "#room", t) for t in ("a", "b", "c")]
    join(alice, "#room", bob)
    catchup_head(alice, "#room", 2, more=True)
    lines = read_batch(alice, "chathistory", "#room")  # with batch: inside a chathistory batch
    assert [(l.params, l.tags["time"]) for l in lines] == [(["#room", e.params[1]], e.tags["time"])
                                                          for e in echoes[1:]], lines
    alice.expect_next(S + " NOTICE #room :— end of catch-up in #room —")
    quiet(alice)


def test_catchup_starts_after_the_read_marker(make_server, backend):
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=ECHO)
    alice = srv.connect("alice", caps=["draft/read-marker"])
    register(alice)
    join(bob, "#room")
    join(alice, "#room", bob)
    part(alice, "#room", bob)
    e1 = say(bob, "#room", "read elsewhere")
    time.sleep(0.01)  # a marker covers its whole millisecond
    say(bob, "#room", "not read")
    alice.send("MARKREAD #room timestamp=" + e1.tags["time"])
    alice.expect_next("%s MARKREAD #room timestamp=%s" % (S, e1.tags["time"]))
    lines = join(alice, "#room", bob)
    assert "%s MARKREAD #room timestamp=%s" % (S, e1.tags["time"]) in lines, lines
    catchup_head(alice, "#room", 1)
    assert alice.expect_next(lambda l: True).endswith("] not read")
    alice.expect_next(S + " NOTICE #room :— end of catch-up in #room —")
    # the marker moves, and the session is told (it has draft/read-marker)
    alice.expect_next(lambda l: l.command == "MARKREAD" and l.params[0] == "#room")
    quiet(alice)


def test_no_catchup_for_a_chathistory_client_or_when_nothing_is_new(make_server, backend):
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=ECHO)
    alice = srv.connect("alice", caps=FULL)
    register(alice)
    plain = login(srv, "plain", as_account="alice")
    join(bob, "#room")
    say(bob, "#room", "before anyone")
    join(alice, "#room", bob)
    no_replay(alice)  # a CHATHISTORY client reads history itself
    # a logged-in plain client that never saw the room: the anonymous window, own lines out
    join(plain, "#room", bob, alice)
    catchup_head(plain, "#room", 1)
    assert plain.expect_next(lambda l: True).endswith("] before anyone")
    plain.expect_next(S + " NOTICE #room :— end of catch-up in #room —")
    quiet(plain)
    part(plain, "#room", bob, alice)
    assert rejoin(plain, "#room", bob, alice) == []  # nothing new: no notice at all
    wait_count(backend, "last_seen WHERE account_key = 'alice'", 1)


def test_anonymous_replay_unchanged(make_server, backend):
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=ECHO)
    join(bob, "#room")
    e = say(bob, "#room", "hello")
    anon = srv.connect("anon")
    join(anon, "#room", bob)
    assert anon.expect_next(lambda l: True) == ":bob!bob@127.0.0.1 PRIVMSG #room :%shello" % seconds(e.tags["time"])
    quiet(anon)
    part(anon, "#room", bob)
    join(anon, "#room", bob)  # a guest gets the same lines again: no marker, no header
    assert anon.expect_next(lambda l: True) == ":bob!bob@127.0.0.1 PRIVMSG #room :%shello" % seconds(e.tags["time"])
    quiet(anon)


# --------------------------------------------------------------------------------------
# Read markers at login


def test_markers_sent_at_login(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=["draft/read-marker"])
    register(alice)
    alice.send("MARKREAD #room timestamp=2024-01-02T03:04:05.678Z")
    alice.expect_next("%s MARKREAD #room timestamp=2024-01-02T03:04:05.678Z" % S)
    alice.send("MARKREAD bob timestamp=2024-01-03T00:00:00.000Z")
    alice.expect_next("%s MARKREAD bob timestamp=2024-01-03T00:00:00.000Z" % S)
    # SASL during registration: the markers follow the welcome, newest first, without a JOIN
    c = srv.client()
    c.send("CAP LS 302")
    c.send("NICK alice_")
    c.send("USER alice 0 * :x")
    c.send("CAP REQ :sasl draft/read-marker")
    c.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE +")
    c.send("AUTHENTICATE " + sasl_plain("alice", PASSWORD))
    c.expect(lambda l: l.command == "903")
    c.send("CAP END")
    c.read_until(lambda l: l.command in ("376", "422"))
    c.expect_next("%s MARKREAD bob timestamp=2024-01-03T00:00:00.000Z" % S)
    c.expect_next("%s MARKREAD #room timestamp=2024-01-02T03:04:05.678Z" % S)
    quiet(c)
    # without the capability: nothing
    plain = login(srv, "plain", as_account="alice")
    quiet(plain)


def test_last_seen_kept_at_shutdown_and_catchup_after_restart(make_server, backend):
    """A shutdown (SIGTERM) ends every session: where each logged-in member left its
    channels is stored before the storage thread stops, so after the restart the catch-up
    starts there."""
    srv = start(make_server, backend)
    alice = srv.connect("alice")
    register(alice)
    join(alice, "#room")
    srv.stop()
    assert int(backend.query("SELECT COUNT(*) FROM last_seen WHERE account_key = 'alice' "
                             "AND target_key = '#room'")[0][0]) == 1
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=ECHO)
    join(bob, "#room")
    e = say(bob, "#room", "after the restart")
    alice = login(srv, "alice")
    sync(alice)
    join(alice, "#room", bob)
    catchup_head(alice, "#room", 1)
    assert alice.expect_next(lambda l: True) == \
        ":bob!bob@127.0.0.1 PRIVMSG #room :%safter the restart" % seconds(e.tags["time"])
    alice.expect_next(S + " NOTICE #room :— end of catch-up in #room —")
    quiet(alice)
