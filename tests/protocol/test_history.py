"""Message history (issue 6), on SQLite and MariaDB: replay on JOIN, every CHATHISTORY
subcommand and its errors, privacy, TAGMSG, REDACT, EDIT, SEARCH, HistServ, MARKREAD,
retention, a restart, and the order of a large burst.

The wire formats are the README's (section History) and the IRCv3 drafts it names:
draft/chathistory, draft/message-redaction, draft/read-marker, soju.im/search, and
draft/message-edit (ircv3-specifications pull request 425)."""

import calendar
import re
import time

from chanutil import isupport, join, mask, part, quiet, strip_tags, sync
from conftest import HOST, NICKSERV, SERVER_NAME, wait_for

S = ":" + SERVER_NAME
HS = ":HistServ!HistServ@services."
PASSWORD = "hunter2hunter2"

# A client that reads history with CHATHISTORY (and so gets no replay on JOIN).
FULL = ["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"]
# A client that wants the replay on JOIN as a batch.
REPLAY = ["batch", "server-time", "message-tags"]
# The sender in most tests: its echoes give the msgid and time of what it sent.
ECHO = ["server-time", "message-tags", "echo-message"]

PAST = "timestamp=2020-01-01T00:00:00.000Z"
FUTURE = "timestamp=2100-01-01T00:00:00.000Z"


# --------------------------------------------------------------------------------------
# Helpers


def start(make_server, backend, **history):
    """A server on backend with flood control off, cheap scrypt, and these history.*
    settings."""
    sections = {"accounts": {"scrypt_n": 1024}}
    if history:
        sections["history"] = history
    return make_server(backend=backend, flood_enabled=False, sections=sections)


def registered_server(make_server, backend, chan="#room", **history):
    """A server (as start) on which chan is a room registered with ChanServ and loaded at
    start: its history is all its own, including rows a test inserts, even old ones (its
    stored history floor is 0, as for a room registered before that column existed; a
    room registered now shows only the lifetime it was registered in, and an unregistered
    channel only what was said since it was created: test_history_privacy.py)."""
    srv = start(make_server, backend)
    founder = srv.connect("founder", caps=ECHO)
    register(founder)
    join(founder, chan)
    founder.send("PRIVMSG ChanServ :REGISTER " + chan)
    founder.expect(":ChanServ!ChanServ@services. NOTICE founder :%s is now registered to founder." % chan)
    founder.send("QUIT")
    founder.expect_closed()
    srv.stop()
    backend.query("UPDATE channels SET history_floor = 0")
    return start(make_server, backend, **history)


def say(c, target, text, command="PRIVMSG"):
    """c (with echo-message) sends text to target; returns the echo (msgid, time)."""
    c.send("%s %s :%s" % (command, target, text))
    return c.expect(lambda l: l.command == command and l.nick == c.nick and l.params == [target, text])


def burst(c, target, texts, *receivers):
    """c (with echo-message) sends every text in one write; returns the echoes. Each
    receiver consumes the copies it gets."""
    c.send_raw("".join("PRIVMSG %s :%s\r\n" % (target, t) for t in texts).encode())
    echoes = [c.expect(lambda l, t=t: l.command == "PRIVMSG" and l.nick == c.nick and l.params == [target, t],
                       timeout=15) for t in texts]
    for r in receivers:
        last = texts[-1]
        r.read_until(lambda l: l.command == "PRIVMSG" and l.params == [target, last], timeout=15)
    return echoes


def read_batch(c, kind, *params):
    """The next lines of c must be a batch of type kind (with params): returns the lines
    inside it, after checking each carries the batch tag."""
    head = c.expect_next(lambda l: l.command == "BATCH")
    assert head.source == SERVER_NAME and head.params[0].startswith("+"), head
    assert head.params[1:] == [kind] + list(params), head
    ref = head.params[0][1:]
    lines = c.read_until(lambda l: l.command == "BATCH" and l.params[0].startswith("-"), timeout=10)
    assert lines[-1].params == ["-" + ref] and lines[-1].source == SERVER_NAME, lines[-1]
    for l in lines[:-1]:
        assert l.tags.get("batch") == ref, l
    return lines[:-1]


def chathistory(c, *args, target=None):
    """Sends CHATHISTORY args; returns the lines of the chathistory batch."""
    c.send("CHATHISTORY " + " ".join(str(a) for a in args))
    return read_batch(c, "chathistory", target or args[1])


def ids(lines):
    return [l.tags.get("msgid") for l in lines]


def texts(lines):
    return [l.params[-1] for l in lines]


def seconds(time_tag):
    """"[YYYY-MM-DD HH:MM:SS] ", the replay prefix for a server-time value."""
    return "[%s %s] " % (time_tag[:10], time_tag[11:19])


def ms(time_tag):
    return calendar.timegm(time.strptime(time_tag[:19], "%Y-%m-%dT%H:%M:%S")) * 1000 + int(time_tag[20:23])


def stamp(milliseconds):
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(milliseconds // 1000))
    return "%s.%03dZ" % (s, milliseconds % 1000)


def fail(c, *params):
    """The next line is a FAIL whose parameters start with params (more context may
    follow) and end with a description; returns it."""
    line = c.expect_next(lambda l: l.command == "FAIL")
    assert line.source == SERVER_NAME and line.params[:len(params)] == list(params), line
    assert len(line.params) > len(params) and line.params[-1], line
    return line


def room(srv, specs, chan="#room"):
    """specs: [(nick, caps)]; connects them and joins all to chan (the first is op)."""
    clients = []
    for nick, caps in specs:
        c = srv.connect(nick, caps=caps)
        join(c, chan, *clients)
        clients.append(c)
    return clients


def ns(c, text):
    c.send("PRIVMSG NickServ :" + text)


def register(c):
    """Registers (and logs in) the account named after c's nick."""
    ns(c, "REGISTER " + PASSWORD)
    c.expect(lambda l: l.command == "900")
    sync(c)  # and the echo, with echo-message


def identify(c, account):
    ns(c, "IDENTIFY %s %s" % (account, PASSWORD))
    c.expect(lambda l: l.command == "900")
    c.expect(":%s NOTICE %s :You are now identified for %s." % (NICKSERV, c.nick, account))
    sync(c)


def insert_row(backend, target, sender, text, when_ms, counter=0, command="PRIVMSG"):
    """Inserts a message directly into the database; returns its msgid."""
    seq = (when_ms << 12) | counter
    msgid = "%016x" % seq
    backend.query("INSERT INTO messages (seq, msgid, target_key, target, sender, account, command, tags, text, "
                  "time) VALUES (%d, '%s', '%s', '%s', '%s', NULL, '%s', NULL, '%s', %d)"
                  % (seq, msgid, target.lower(), target, sender, command, text, when_ms))
    return msgid


def settle(*clients):
    """Consumes whatever each client has received so far (PING barriers)."""
    for c in clients:
        sync(c)


def no_replay(c):
    """Asserts c got no replay: a HistServ PLAY is a storage job too, queued after any
    replay of the JOIN before it, so its answer must be the next line."""
    c.send("PRIVMSG HistServ :PLAY nobodyhere")
    line = c.getline()
    if line.command == "PRIVMSG" and line.nick == c.nick:
        line = c.getline()  # its echo-message copy
    assert line == HS + " NOTICE %s :No messages found in nobodyhere." % c.nick, line


def row_count(backend, where="1=1"):
    return int(backend.query("SELECT COUNT(*) FROM messages WHERE " + where)[0][0])


# --------------------------------------------------------------------------------------
# Replay on JOIN


def test_replay_on_join(make_server, backend):
    srv = start(make_server, backend)
    (alice,) = room(srv, [("alice", ECHO)])
    sent = [say(alice, "#room", "first line"), say(alice, "#room", "second line"),
            say(alice, "#room", "a notice", command="NOTICE")]
    src = mask(alice)

    # batch + server-time + message-tags: one chathistory batch, original time and msgid.
    bob = srv.connect("bob", caps=REPLAY)
    join(bob, "#room", alice)
    lines = read_batch(bob, "chathistory", "#room")
    assert len(lines) == len(sent), lines
    for got, echo in zip(lines, sent):
        assert got.source == src and got.command == echo.command and got.params == echo.params, got
        assert got.tags["time"] == echo.tags["time"] and got.tags["msgid"] == echo.tags["msgid"], got
        assert set(got.tags) == {"batch", "time", "msgid"}, got

    # No capability: plain lines, the time in front of the text.
    carol = srv.connect("carol")
    join(carol, "#room", alice, bob)
    for echo in sent:
        carol.expect_next(":%s %s #room :%s%s" % (src, echo.command, seconds(echo.tags["time"]), echo.params[1]))

    # server-time without batch: the time tag, no batch, no prefix.
    erin = srv.connect("erin", caps=["server-time"])
    join(erin, "#room", alice, bob, carol)
    for echo in sent:
        erin.expect_next("@time=%s :%s %s #room :%s" % (echo.tags["time"], src, echo.command, echo.params[1]))

    # draft/chathistory: the client asks for history itself; nothing is replayed.
    dave = srv.connect("dave", caps=FULL)
    join(dave, "#room", alice, bob, carol, erin)
    no_replay(dave)
    quiet(dave, alice, bob, carol, erin)


def test_replay_keeps_actions_actions(make_server, backend):
    """The time prefix of a replayed CTCP ACTION goes inside it ("\x01ACTION [time]
    waves\x01"): in front of the \x01 it would turn the /me into a garbled line."""
    srv = start(make_server, backend)
    (alice,) = room(srv, [("alice", ECHO)])
    action = say(alice, "#room", "\x01ACTION waves\x01")
    carol = srv.connect("carol")
    join(carol, "#room", alice)
    carol.expect_next(":%s PRIVMSG #room :\x01ACTION %swaves\x01" % (mask(alice), seconds(action.tags["time"])))
    # With server-time, the ACTION as it was.
    erin = srv.connect("erin", caps=["batch", "server-time"])
    join(erin, "#room", alice, carol)
    assert [strip_tags(l) for l in read_batch(erin, "chathistory", "#room")] == [strip_tags(action)]


def test_replay_limits(make_server, backend):
    # replay_lines: only the newest lines; replay_hours: nothing older. (#room is
    # registered: its history outlives the restarts below.)
    srv = registered_server(make_server, backend, replay_lines=3)
    old = insert_row(backend, "#room", "old!old@%s" % HOST, "from two days ago",
                     int(time.time() * 1000) - 48 * 3600 * 1000)
    (alice,) = room(srv, [("alice", ECHO)])
    sent = [say(alice, "#room", "m%d" % i) for i in range(5)]
    bob = srv.connect("bob", caps=REPLAY)
    join(bob, "#room", alice)
    assert ids(read_batch(bob, "chathistory", "#room")) == ids(sent[2:])
    carol = srv.connect("carol")
    join(carol, "#room", alice, bob)
    for echo in sent[2:]:
        carol.expect_next(":%s PRIVMSG #room :%sm%s" % (mask(alice), seconds(echo.tags["time"]), echo.params[1][1:]))
    quiet(carol, bob)
    srv.stop()

    # replay_hours (24 by default): the old row is not replayed, the rest is.
    srv = start(make_server, backend)
    (alice,) = room(srv, [("alice", ECHO)])
    bob = srv.connect("bob", caps=REPLAY)
    join(bob, "#room", alice)
    got = ids(read_batch(bob, "chathistory", "#room"))
    assert got == ids(sent) and old not in got, got
    srv.stop()

    # replay_lines = 0: no replay at all.
    srv = start(make_server, backend, replay_lines=0)
    (alice,) = room(srv, [("alice", ECHO)])
    bob = srv.connect("bob", caps=REPLAY)
    carol = srv.connect("carol")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    no_replay(bob)
    no_replay(carol)
    quiet(bob, carol, alice)


# --------------------------------------------------------------------------------------
# CHATHISTORY


def test_chathistory_subcommands(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    m = []
    for i in range(10):
        m.append(say(alice, "#room", "msg %d" % i))
        time.sleep(0.003)  # distinct millisecond timestamps
    bob.read_until(lambda l: l.params[-1:] == ["msg 9"])
    t = [e.tags["time"] for e in m]
    mid = [e.tags["msgid"] for e in m]
    assert len(set(t)) == 10, t

    # Every returned line is the message as relayed, with its original tags.
    lines = chathistory(bob, "LATEST", "#room", "*", 100)  # limit larger than available
    assert ids(lines) == mid
    for got, echo in zip(lines, m):
        assert strip_tags(got) == strip_tags(echo), got
        assert got.tags["time"] == echo.tags["time"], got

    def check(args, want, target="#room"):
        got = chathistory(bob, *args, target=target)
        assert ids(got) == [mid[i] for i in want], (args, texts(got))

    check(("LATEST", "#room", "*", 3), [7, 8, 9])
    check(("LATEST", "#room", "msgid=" + mid[6], 100), [7, 8, 9])
    check(("LATEST", "#room", "msgid=" + mid[6], 2), [8, 9])
    check(("LATEST", "#room", "timestamp=" + t[6], 100), [7, 8, 9])
    check(("LATEST", "#room", "msgid=" + mid[9], 10), [])
    check(("BEFORE", "#room", "msgid=" + mid[5], 3), [2, 3, 4])
    check(("BEFORE", "#room", "timestamp=" + t[5], 100), [0, 1, 2, 3, 4])
    check(("BEFORE", "#room", "msgid=" + mid[0], 10), [])
    check(("AFTER", "#room", "msgid=" + mid[5], 2), [6, 7])
    check(("AFTER", "#room", "timestamp=" + t[5], 100), [6, 7, 8, 9])
    check(("AFTER", "#room", "msgid=" + mid[9], 10), [])
    check(("BETWEEN", "#room", "msgid=" + mid[2], "msgid=" + mid[8], 3), [3, 4, 5])
    check(("BETWEEN", "#room", "msgid=" + mid[8], "msgid=" + mid[2], 3), [5, 6, 7])  # backwards: the newest
    check(("BETWEEN", "#room", "msgid=" + mid[2], "msgid=" + mid[8], 100), [3, 4, 5, 6, 7])
    check(("BETWEEN", "#room", "msgid=" + mid[8], "msgid=" + mid[2], 100), [3, 4, 5, 6, 7])
    check(("BETWEEN", "#room", "timestamp=" + t[2], "msgid=" + mid[8], 100), [3, 4, 5, 6, 7])
    check(("BETWEEN", "#room", "timestamp=" + t[8], "timestamp=" + t[2], 2), [6, 7])
    check(("BETWEEN", "#room", PAST, FUTURE, 100), list(range(10)))

    # AROUND: at most limit messages, contiguous, around the selected one.
    for sel in ("msgid=" + mid[5], "timestamp=" + t[5]):
        got = ids(chathistory(bob, "AROUND", "#room", sel, 3))
        assert len(got) == 3 and got == mid[mid.index(got[0]):mid.index(got[0]) + 3], got
        assert mid[4] in got and mid[6] in got, (sel, got, mid)
    got = ids(chathistory(bob, "AROUND", "#room", "msgid=" + mid[5], 100))
    assert got == mid, got

    # Subcommands are case-insensitive.
    check(("latest", "#room", "*", 2), [8, 9])

    # An empty history is an empty batch.
    join(bob, "#empty")
    check(("LATEST", "#empty", "*", 10), [], target="#empty")
    quiet(bob, alice)


def test_batch_names_the_canonical_target(make_server, backend):
    """The chathistory batch's parameter is the channel's own spelling for a channel, and
    for a direct conversation the nick as the request spelled it (as irctest expects:
    "FOO" queried gives a batch for "FOO", not "foo")."""
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)], chan="#Room")
    m1 = say(alice, "#Room", "hi room")
    m2 = say(alice, "bob", "hi bob")
    settle(bob)
    assert ids(chathistory(bob, "LATEST", "#ROOM", "*", 10, target="#Room")) == ids([m1])
    assert ids(chathistory(bob, "LATEST", "ALICE", "*", 10, target="ALICE")) == ids([m2])
    assert ids(chathistory(bob, "LATEST", "aLiCe", "*", 10, target="aLiCe")) == ids([m2])


def test_chathistory_max(make_server, backend):
    """history.chathistory_max caps every request and is announced in ISUPPORT."""
    srv = start(make_server, backend, chathistory_max=5)
    alice = srv.client()
    lines = alice.register("alice", caps=ECHO)
    assert isupport(lines).get("CHATHISTORY") == "5", isupport(lines)
    bob = srv.client()
    bob.register("bob", caps=FULL)
    join(alice, "#room")
    join(bob, "#room", alice)
    m = burst(alice, "#room", ["chat n%02d" % i for i in range(12)], bob)
    mid = ids(m)
    assert ids(chathistory(bob, "LATEST", "#room", "*", 50)) == mid[7:]
    assert ids(chathistory(bob, "BEFORE", "#room", "msgid=" + mid[11], 1000)) == mid[6:11]
    assert ids(chathistory(bob, "AFTER", "#room", "msgid=" + mid[0], 6)) == mid[1:6]
    assert ids(chathistory(bob, "BETWEEN", "#room", PAST, FUTURE, 100)) == mid[:5]
    assert len(chathistory(bob, "AROUND", "#room", "msgid=" + mid[6], 100)) <= 5
    # SEARCH obeys the same maximum.
    bob.send("SEARCH in=#room;text=chat;limit=50")
    assert len(read_batch(bob, "soju.im/search")) == 5


def test_histserv_play_obeys_chathistory_max(make_server, backend):
    """history.chathistory_max is the most messages per request: HistServ PLAY too,
    with a count above it or with its default count (20)."""
    srv = start(make_server, backend, chathistory_max=5)
    alice, carol = room(srv, [("alice", ECHO), ("carol", None)])
    burst(alice, "#room", ["n%02d" % i for i in range(12)], carol)
    carol.send("PRIVMSG HistServ :PLAY #room 50")
    lines = carol.read_until(lambda l: "End of" in l.params[-1] or "No messages" in l.params[-1])
    assert len(lines) == 6 and lines[-1] == HS + " NOTICE carol :End of 5 messages.", lines
    carol.send("PRIVMSG HistServ :PLAY #room")  # the default count, 20, is capped too
    lines = carol.read_until(lambda l: "End of" in l.params[-1] or "No messages" in l.params[-1])
    assert len(lines) == 6 and lines[-1] == HS + " NOTICE carol :End of 5 messages.", lines


def test_equal_timestamps_in_a_burst(make_server, backend):
    """Many messages share a millisecond: msgids still order them, and a timestamp
    selector excludes every message of exactly that time."""
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    m = [say(alice, "#room", "before the burst")]
    time.sleep(0.005)
    m += burst(alice, "#room", ["b%03d" % i for i in range(60)])
    time.sleep(0.005)
    m.append(say(alice, "#room", "after the burst"))
    settle(bob)
    times = [e.tags["time"] for e in m]
    # the time most messages of the burst share
    T = max(set(times[1:-1]), key=times.count)
    group = [i for i, x in enumerate(times) if x == T]
    assert len(group) >= 2 and 0 < group[0] and group[-1] < len(m) - 1, times
    first, last = group[0], group[-1]
    mid = ids(m)
    assert mid == sorted(mid) and len(set(mid)) == len(mid)

    # msgid selectors step through the shared millisecond one message at a time.
    assert ids(chathistory(bob, "AFTER", "#room", "msgid=" + mid[first], 1)) == [mid[first + 1]]
    assert ids(chathistory(bob, "BEFORE", "#room", "msgid=" + mid[last], 1)) == [mid[last - 1]]
    between = chathistory(bob, "BETWEEN", "#room", "msgid=" + mid[first - 1], "msgid=" + mid[last + 1], 200)
    assert ids(between) == mid[first:last + 1]
    # "before and excluding the given timestamp" / "after and excluding" it: none of the
    # messages of that millisecond, on either side.
    before = chathistory(bob, "BEFORE", "#room", "timestamp=" + T, 100)
    assert ids(before) == mid[:first], (T, [l.tags["time"] for l in before[-3:]])
    after = chathistory(bob, "AFTER", "#room", "timestamp=" + T, 100)
    assert ids(after) == mid[last + 1:], (T, [l.tags["time"] for l in after[:3]], len(after))
    latest = chathistory(bob, "LATEST", "#room", "timestamp=" + T, 100)
    assert ids(latest) == mid[last + 1:], (T, [l.tags["time"] for l in latest[:3]], len(latest))
    between = chathistory(bob, "BETWEEN", "#room", "timestamp=" + T, FUTURE, 200)
    assert ids(between) == mid[last + 1:], (T, [l.tags["time"] for l in between[:3]], len(between))


def test_chathistory_unknown_msgid(make_server, backend):
    """A msgid the server does not know selects nothing: an empty batch or a FAIL,
    never messages placed by guessing where such an id would be."""
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    m = burst(alice, "#room", ["u%d" % i for i in range(6)], bob)
    unknown = "%016x" % (int(m[2].tags["msgid"][:16], 16) + 100000)  # between real messages, no such message
    for args in (("BEFORE", "#room", "msgid=" + unknown, 10), ("AFTER", "#room", "msgid=" + unknown, 10),
                 ("AROUND", "#room", "msgid=" + unknown, 10), ("LATEST", "#room", "msgid=" + unknown, 10),
                 ("BEFORE", "#room", "msgid=nosuchmessage", 10)):
        bob.send("CHATHISTORY " + " ".join(str(a) for a in args))
        head = bob.getline()
        if head.command == "FAIL":
            assert head.params[0] == "CHATHISTORY" and head.params[1] in (
                "INVALID_PARAMS", "MESSAGE_ERROR", "INVALID_MSGREFTYPE", "UNKNOWN_MSGID"), head
            continue
        bob.pending.appendleft(head)
        got = read_batch(bob, "chathistory", "#room")
        assert got == [], (args, texts(got))
    quiet(bob)


def test_chathistory_errors(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    say(alice, "#room", "hello")
    settle(bob)
    bad = [
        ("LATEST #room * 0", "LATEST"), ("LATEST #room * -5", "LATEST"), ("LATEST #room * ten", "LATEST"),
        ("LATEST #room foo=bar 10", "LATEST"), ("LATEST #room timestamp=yesterday 10", "LATEST"),
        ("LATEST #room msgid= 10", "LATEST"),
        ("BEFORE #room * 10", "BEFORE"), ("AFTER #room * 10", "AFTER"), ("AROUND #room * 10", "AROUND"),
        ("BETWEEN #room * " + FUTURE + " 10", "BETWEEN"), ("BETWEEN #room " + PAST + " * 10", "BETWEEN"),
        ("TARGETS * " + FUTURE + " 10", "TARGETS"), ("TARGETS " + PAST + " " + FUTURE + " x", "TARGETS"),
    ]
    for args, sub in bad:
        bob.send("CHATHISTORY " + args)
        fail(bob, "CHATHISTORY", "INVALID_PARAMS", sub)
    bob.send("CHATHISTORY FOO #room * 10")
    fail(bob, "CHATHISTORY", "INVALID_PARAMS", "FOO")

    for args, sub in (("LATEST #room *", "LATEST"), ("BETWEEN #room " + PAST + " 10", "BETWEEN"),
                      ("TARGETS " + PAST + " 10", "TARGETS"), ("AROUND #room", "AROUND")):
        bob.send("CHATHISTORY " + args)
        fail(bob, "CHATHISTORY", "NEED_MORE_PARAMS", sub)
    bob.send("CHATHISTORY LATEST")
    line = bob.expect_next(lambda l: True)
    assert line == "%s 461 bob CHATHISTORY :Not enough parameters" % S or (
        line.command == "FAIL" and line.params[:2] in (["CHATHISTORY", "NEED_MORE_PARAMS"],
                                                       ["CHATHISTORY", "INVALID_PARAMS"])), line

    # INVALID_TARGET names the subcommand and the target, whatever the reason.
    for sub, target, sel in (("LATEST", "#nosuchroom", "*"), ("BEFORE", "#nosuchroom", FUTURE),
                             ("AFTER", "#nosuchroom", PAST), ("AROUND", "#nosuchroom", PAST),
                             ("LATEST", "bad,nick", "*")):
        bob.send("CHATHISTORY %s %s %s 10" % (sub, target, sel))
        bob.expect_next(re.compile(r"^%s FAIL CHATHISTORY INVALID_TARGET %s %s :\S" % (
            re.escape(S), sub, re.escape(target))))
    bob.send("CHATHISTORY BETWEEN #nosuchroom %s %s 10" % (PAST, FUTURE))
    bob.expect_next(re.compile(r"^%s FAIL CHATHISTORY INVALID_TARGET BETWEEN #nosuchroom :\S" % re.escape(S)))
    quiet(bob)


def targets(c, *args):
    """CHATHISTORY TARGETS args: [(target, time)] from the draft/chathistory-targets batch."""
    c.send("CHATHISTORY TARGETS " + " ".join(str(a) for a in args))
    lines = read_batch(c, "draft/chathistory-targets")
    for l in lines:
        assert l.source == SERVER_NAME and l.command == "CHATHISTORY" and l.params[0] == "TARGETS", l
        assert len(l.params) == 3, l
    return [tuple(l.params[1:]) for l in lines]


def test_chathistory_targets_channels(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=FULL)
    bob = srv.connect("bob", caps=ECHO)
    for chan in ("#c", "#a", "#b"):  # joined in another order than they will be spoken in
        join(alice, chan)
        join(bob, chan, alice)
    join(bob, "#hidden")  # alice is not in it
    times = {}
    for chan in ("#a", "#b", "#c", "#hidden"):
        times[chan] = say(bob, chan, "in " + chan).tags["time"]
        time.sleep(0.005)
    settle(alice)
    want = [(chan, times[chan]) for chan in ("#a", "#b", "#c")]

    # Channels with visible history, oldest latest-message first.
    assert targets(alice, PAST, FUTURE, 100) == want
    assert targets(alice, PAST, FUTURE, 2) == want[:2]
    assert targets(alice, "timestamp=" + times["#a"], FUTURE, 100) == want[1:]  # bounds are exclusive
    assert targets(alice, "timestamp=" + times["#a"], "timestamp=" + times["#c"], 100) == want[1:2]
    # A target is matched on its latest message only.
    time.sleep(0.005)
    newer = say(bob, "#a", "again in #a").tags["time"]
    settle(alice)
    assert targets(alice, PAST, "timestamp=" + newer, 100) == want[1:]
    assert targets(alice, PAST, FUTURE, 100) == want[1:] + [("#a", newer)]
    assert targets(alice, FUTURE, PAST, 100) == want[1:] + [("#a", newer)]  # the bounds in either order
    assert targets(alice, FUTURE, FUTURE, 100) == []


def test_chathistory_targets_direct_messages(make_server, backend):
    """TARGETS also lists "users with which the user has exchanged direct messages"."""
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=FULL)
    bob = srv.connect("bob", caps=ECHO)
    carol = srv.connect("carol", caps=ECHO)
    dave = srv.connect("dave", caps=ECHO)
    join(alice, "#a")
    join(bob, "#a", alice)
    times = {}
    for key, sender, target, text in (("#a", bob, "#a", "in a"), ("bob", alice, "bob", "to bob"),
                                      ("carol", carol, "alice", "to alice"), ("dave", dave, "bob", "not alice's")):
        times[key] = say(sender, target, text).tags["time"]
        time.sleep(0.005)
    settle(alice)
    assert targets(alice, PAST, FUTURE, 100) == [("#a", times["#a"]), ("bob", times["bob"]),
                                                 ("carol", times["carol"])]
    assert targets(alice, "timestamp=" + times["#a"], FUTURE, 1) == [("bob", times["bob"])]


# --------------------------------------------------------------------------------------
# Privacy


def test_channel_privacy(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)], chan="#secret")
    alice.send("MODE #secret +s")
    alice.expect(lambda l: l.command == "MODE")
    bob.expect(lambda l: l.command == "MODE")
    say(alice, "#secret", "the password is swordfish")
    settle(bob)
    assert texts(chathistory(bob, "LATEST", "#secret", "*", 10)) == ["the password is swordfish"]
    eve = srv.connect("eve", caps=["batch", "server-time", "message-tags", "draft/chathistory", "soju.im/search"])
    join(eve, "#lobby")

    # Not a member: the same answer for a +s channel as for one that does not exist.
    for target in ("#secret", "#SECRET", "#nosuchroom"):
        eve.send("CHATHISTORY LATEST %s * 10" % target)
        eve.expect_next(re.compile(r"^%s FAIL CHATHISTORY INVALID_TARGET LATEST %s :(.+)$"
                                   % (re.escape(S), re.escape(target))))
    eve.send("CHATHISTORY LATEST #secret * 10")
    secret_reason = eve.expect_next(lambda l: l.command == "FAIL").params[-1]
    eve.send("CHATHISTORY LATEST #nosuchroom * 10")
    assert eve.expect_next(lambda l: l.command == "FAIL").params[-1] == secret_reason
    eve.send("CHATHISTORY TARGETS %s %s 10" % (PAST, FUTURE))
    assert read_batch(eve, "draft/chathistory-targets") == []
    # SEARCH everywhere covers only eve's channels; naming the channel is refused.
    eve.send("SEARCH text=swordfish")
    assert read_batch(eve, "soju.im/search") == []
    eve.send("SEARCH in=#secret;text=swordfish")
    assert "swordfish" not in eve.expect_next(lambda l: True)  # (its form: test_refusals_name_the_command)
    # HistServ answers in NOTICEs, never with the history.
    eve.send("PRIVMSG HistServ :PLAY #secret")
    eve.expect_next(HS + " NOTICE eve :You are not in #secret.")
    eve.send("PRIVMSG HistServ :SEARCH #secret swordfish")
    assert "swordfish" not in eve.expect_next(lambda l: True)
    eve.send("PRIVMSG HistServ :SEARCH * swordfish")
    eve.expect_next(HS + " NOTICE eve :No messages found in *.")
    quiet(eve)

    # A member who leaves loses access; one who joins gets it.
    part(bob, "#secret", alice)
    bob.send("CHATHISTORY LATEST #secret * 10")
    fail(bob, "CHATHISTORY", "INVALID_TARGET", "LATEST", "#secret")
    join(bob, "#secret", alice)
    assert texts(chathistory(bob, "LATEST", "#secret", "*", 10)) == ["the password is swordfish"]


def test_refusals_name_the_command(make_server, backend):
    """A refused SEARCH is a FAIL SEARCH (not FAIL CHATHISTORY), and a refused HistServ
    SEARCH is a HistServ NOTICE, like a refused HistServ PLAY: irssi shows no FAIL."""
    srv = start(make_server, backend)
    (alice,) = room(srv, [("alice", ECHO)], chan="#secret")
    say(alice, "#secret", "swordfish")
    eve = srv.connect("eve", caps=["batch", "soju.im/search", "standard-replies"])
    eve.send("SEARCH in=#secret;text=swordfish")
    line = eve.expect_next(lambda l: True)
    assert line.command == "FAIL" and line.params[0] == "SEARCH", line
    eve.send("SEARCH in=bad,nick;text=swordfish")
    line = eve.expect_next(lambda l: True)
    assert line.command == "FAIL" and line.params[0] == "SEARCH", line
    irssi = srv.connect("irssi")
    irssi.send("PRIVMSG HistServ :SEARCH #secret swordfish")
    irssi.expect_next(HS + " NOTICE irssi :You are not in #secret.")
    irssi.send("PRIVMSG HistServ :PLAY bad,nick")
    line = irssi.expect_next(lambda l: True)
    assert line.source == HS[1:] and line.command == "NOTICE", line
    quiet(eve, irssi)


def test_direct_message_privacy(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=FULL)
    bob = srv.connect("bob", caps=FULL)
    carol = srv.connect("carol", caps=FULL)
    a1 = say(alice, "bob", "hi bob")
    b1 = say(bob, "alice", "hi alice")
    c1 = say(carol, "bob", "psst bob")
    settle(alice, bob, carol)

    got = chathistory(alice, "LATEST", "bob", "*", 10)
    assert ids(got) == ids([a1, b1]), got
    assert [strip_tags(l) for l in got] == [":%s PRIVMSG bob :hi bob" % mask(alice),
                                            ":%s PRIVMSG alice :hi alice" % mask(bob)]
    assert ids(chathistory(bob, "LATEST", "alice", "*", 10)) == ids([a1, b1])
    assert ids(chathistory(bob, "LATEST", "carol", "*", 10)) == ids([c1])
    # The third party sees only its own conversation with each side.
    assert ids(chathistory(carol, "LATEST", "bob", "*", 10)) == ids([c1])
    assert chathistory(carol, "LATEST", "alice", "*", 10) == []
    assert chathistory(alice, "LATEST", "carol", "*", 10) == []
    quiet(alice, bob, carol)


def test_direct_messages_by_account(make_server, backend):
    """Logged-in users' conversations belong to the accounts, not to the nicks."""
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=FULL)
    register(alice)
    bob = srv.connect("bob", caps=FULL)
    register(bob)
    a1 = say(alice, "bob", "account to account")
    b1 = say(bob, "alice", "right back")
    settle(alice)
    settle(bob)
    bob.send("QUIT")
    bob.expect_closed()

    # Someone else takes the nick bob without logging in: nothing of bob's.
    fake = srv.connect("bob", caps=FULL)
    assert chathistory(fake, "LATEST", "alice", "*", 10) == []
    # Nor does alice see bob's conversation under the nick now used by someone else.
    assert chathistory(alice, "LATEST", "bob", "*", 10) == []
    # bob, logged in under another nick, has it all; so does alice, asking by his nick.
    real = srv.connect("robert", caps=FULL)
    identify(real, "bob")
    assert ids(chathistory(real, "LATEST", "alice", "*", 10)) == ids([a1, b1])
    assert ids(chathistory(alice, "LATEST", "robert", "*", 10)) == ids([a1, b1])
    real.send("QUIT")
    real.expect_closed()
    # With nobody on the nick bob, the account name bob names the conversation.
    fake.send("QUIT")
    fake.expect_closed()
    assert ids(chathistory(alice, "LATEST", "bob", "*", 10)) == ids([a1, b1])


def test_direct_messages_not_stored_when_disabled(make_server, backend):
    srv = start(make_server, backend, direct_messages=False)
    alice, bob = room(srv, [("alice", FULL), ("bob", FULL)])
    say(alice, "bob", "private")
    say(alice, "#room", "public")
    settle(bob)
    assert chathistory(alice, "LATEST", "bob", "*", 10) == []
    assert texts(chathistory(alice, "LATEST", "#room", "*", 10)) == ["public"]
    assert backend.query("SELECT text FROM messages") == [("public",)]


# --------------------------------------------------------------------------------------
# TAGMSG


def test_tagmsg_react(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    first = say(alice, "#room", "react to me")
    msgid = first.tags["msgid"]
    alice.send("@+draft/react=\U0001F44D;+draft/reply=%s TAGMSG #room" % msgid)
    react = alice.expect(lambda l: l.command == "TAGMSG")
    assert react.tags["+draft/react"] == "\U0001F44D"
    alice.send("TAGMSG #room")  # no client tags: nothing to keep
    settle(alice)  # the sender first: then bob has surely received what alice sent
    settle(bob)

    got = chathistory(bob, "LATEST", "#room", "*", 10)
    assert [l.command for l in got] == ["PRIVMSG", "TAGMSG"], got
    t = got[1]
    assert t.source == mask(alice) and t.params == ["#room"], t
    assert t.tags["+draft/react"] == "\U0001F44D" and t.tags["+draft/reply"] == msgid, t
    assert t.tags["msgid"] == react.tags["msgid"] and t.tags["time"] == react.tags["time"], t
    assert row_count(backend, "command = 'TAGMSG'") == 1

    # Replay on JOIN: the TAGMSG only for clients with message-tags.
    carol = srv.connect("carol", caps=REPLAY)
    join(carol, "#room", alice, bob)
    got = read_batch(carol, "chathistory", "#room")
    assert [l.command for l in got] == ["PRIVMSG", "TAGMSG"], got
    assert got[1].tags["+draft/react"] == "\U0001F44D"
    dave = srv.connect("dave", caps=["batch", "server-time"])
    join(dave, "#room", alice, bob, carol)
    got = read_batch(dave, "chathistory", "#room")
    assert [l.command for l in got] == ["PRIVMSG"], got
    erin = srv.connect("erin")
    join(erin, "#room", alice, bob, carol, dave)
    erin.expect_next(":%s PRIVMSG #room :%sreact to me" % (mask(alice), seconds(first.tags["time"])))
    quiet(erin, dave, carol)


def test_stored_rows(make_server, backend):
    """What a batch writes, field by field: emoji and quotes intact, client tags kept
    escaped, the account or NULL, in one batch of mixed rows (the batch timer is long, so
    the read below is what sends it to the database)."""
    srv = start(make_server, backend, batch_ms=10000)
    alice, bob = room(srv, [("alice", ECHO), ("bob", ECHO)])
    register(bob)
    a = say(alice, "#room", "caf\u00e9 \U0001F600 it's \\ \"quoted\"")
    bob.send("@+draft/react=\U0001F44D;+example/x=a\\sb TAGMSG #room")
    t = bob.expect(lambda l: l.command == "TAGMSG" and l.nick == "bob")
    b = say(bob, "#room", "a notice", command="NOTICE")
    settle(alice, bob)
    assert row_count(backend) == 0
    alice.send("PRIVMSG HistServ :PLAY #room 1")  # a read flushes the batch first
    alice.expect(lambda l: l.command == "NOTICE" and "a notice" in l.params[-1])
    rows = backend.query("SELECT msgid, target_key, target, sender, account, command, tags, text, time "
                         "FROM messages ORDER BY seq")
    assert [tuple(None if v is None else str(v) for v in r) for r in rows] == [
        (a.tags["msgid"], "#room", "#room", mask(alice), None, "PRIVMSG", None,
         "caf\u00e9 \U0001F600 it's \\ \"quoted\"", str(ms(a.tags["time"]))),
        (t.tags["msgid"], "#room", "#room", mask(bob), "bob", "TAGMSG", "+draft/react=\U0001F44D;+example/x=a\\sb",
         None, str(ms(t.tags["time"]))),
        (b.tags["msgid"], "#room", "#room", mask(bob), "bob", "NOTICE", None, "a notice", str(ms(b.tags["time"]))),
    ], rows


def test_one_large_batch(make_server, backend):
    """600 messages held in one batch (long timer, no row limit reached) and written by
    the read that flushes it: several statements inside one transaction (chunks of 256
    rows on MariaDB, 128 on SQLite), all stored once, in order."""
    srv = start(make_server, backend, batch_ms=10000, batch_rows=5000)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    texts = ["big batch %03d" % i for i in range(600)]
    burst(alice, "#room", texts, bob)
    assert row_count(backend) == 0
    got = chathistory(bob, "LATEST", "#room", "*", 100)
    assert [l.params[1] for l in got] == texts[-100:]
    rows = backend.query("SELECT text FROM messages ORDER BY seq")
    assert [r[0] for r in rows] == texts


# --------------------------------------------------------------------------------------
# REDACT


def test_redact(make_server, backend):
    srv = start(make_server, backend)
    RED = ECHO + ["draft/message-redaction", "batch", "draft/chathistory", "soju.im/search"]
    alice, bob, carol, dave = room(srv, [("alice", RED), ("bob", ECHO + ["draft/message-redaction"]),
                                         ("carol", None), ("dave", ["message-tags"])])
    others = (carol, dave)

    def redact_seen(c, who, msgid, reason=None):
        want = ":%s REDACT #room %s%s" % (mask(who), msgid, " :" + reason if reason else "")
        c.expect_next(lambda l: strip_tags(l) == want)

    def settle_all():
        settle(alice, bob, carol, dave)

    spam1 = say(bob, "#room", "spam one")
    spam2 = say(bob, "#room", "spam two")
    mine = say(alice, "#room", "alice speaking")
    dm = say(bob, "alice", "private spam")
    settle_all()

    def notice_seen(c, who, msg, reason=None):
        """A client without the capability gets a NOTICE from who naming the message's
        sender and time, not its text."""
        want = ":%s NOTICE #room :(deleted a message from %s sent at %s UTC%s)" % (
            mask(who), msg.nick, msg.tags["time"][11:19], ": " + reason if reason else "")
        c.expect_next(lambda l: strip_tags(l) == want)

    # The sender redacts its own message: clients with the capability get REDACT, the
    # others a NOTICE.
    bob.send("REDACT #room " + spam1.tags["msgid"])
    redact_seen(bob, bob, spam1.tags["msgid"])
    redact_seen(alice, bob, spam1.tags["msgid"])
    carol.expect_next(":%s NOTICE #room :(deleted a message from bob sent at %s UTC)"
                      % (mask(bob), spam1.tags["time"][11:19]))
    notice_seen(dave, bob, spam1)
    quiet(bob, alice, *others)

    # A channel operator redacts someone else's message, with a reason.
    alice.send("REDACT #room %s :not here please" % spam2.tags["msgid"])
    redact_seen(alice, alice, spam2.tags["msgid"], "not here please")
    redact_seen(bob, alice, spam2.tags["msgid"], "not here please")
    for c in others:
        notice_seen(c, alice, spam2, "not here please")
    quiet(alice, bob, *others)

    # Anyone else is refused, and nobody hears of it.
    bob.send("REDACT #room " + mine.tags["msgid"])
    bob.expect_next("%s FAIL REDACT REDACT_FORBIDDEN #room %s :You are not allowed to redact this message"
                    % (S, mine.tags["msgid"]))
    quiet(bob, alice, *others)
    # An unknown (or already redacted) msgid.
    for msgid in ("0000000000000001", "nosuchmessage", spam1.tags["msgid"]):
        bob.send("REDACT #room " + msgid)
        bob.expect_next("%s FAIL REDACT UNKNOWN_MSGID #room %s :This message does not exist or is too old"
                        % (S, msgid))
    # Not a member of the channel.
    carol.send("REDACT #elsewhere " + mine.tags["msgid"])
    line = carol.expect_next(lambda l: l.command == "FAIL")
    assert line.params[:3] == ["REDACT", "INVALID_TARGET", "#elsewhere"], line
    # A message in the wrong channel is unknown there.
    join(bob, "#other")
    bob.send("REDACT #other " + mine.tags["msgid"])
    fail(bob, "REDACT", "UNKNOWN_MSGID", "#other", mine.tags["msgid"])

    # A direct message, by its sender.
    bob.send("REDACT alice " + dm.tags["msgid"])
    redact_seen_dm = ":%s REDACT alice %s" % (mask(bob), dm.tags["msgid"])
    bob.expect_next(lambda l: strip_tags(l) == redact_seen_dm)
    alice.expect_next(lambda l: strip_tags(l) == redact_seen_dm)
    quiet(bob, alice, *others)

    # Gone from CHATHISTORY, replay, SEARCH and HistServ; the rest stays.
    assert texts(chathistory(alice, "LATEST", "#room", "*", 10)) == ["alice speaking"]
    assert chathistory(alice, "LATEST", "bob", "*", 10) == []
    alice.send("SEARCH in=#room;text=spam")
    assert read_batch(alice, "soju.im/search") == []
    erin = srv.connect("erin")
    join(erin, "#room", alice, bob, carol, dave)
    erin.expect_next(":%s PRIVMSG #room :%salice speaking" % (mask(alice), seconds(mine.tags["time"])))
    quiet(erin)
    erin.send("PRIVMSG HistServ :SEARCH #room spam")
    erin.expect_next(HS + " NOTICE erin :No messages found in #room.")
    quiet(erin, alice)


def test_redact_by_account(make_server, backend):
    """A logged-in sender may redact from another session, under another nick; someone
    who merely takes the nick may not."""
    srv = start(make_server, backend)
    CAPS = ECHO + ["draft/message-redaction"]
    op = srv.connect("op", caps=CAPS)
    join(op, "#room")
    alice = srv.connect("alice", caps=CAPS)
    register(alice)
    join(alice, "#room", op)
    bob = srv.connect("bob", caps=CAPS)
    join(bob, "#room", op, alice)
    a1 = say(alice, "#room", "by the account")
    a2 = say(alice, "#room", "also by the account")
    b1 = say(bob, "#room", "by a nick")
    for c in (op, alice, bob):
        settle(c)
    alice.send("QUIT")
    alice.expect_closed()
    bob.send("NICK bob_")
    bob.expect(lambda l: l.command == "NICK")
    # bob (not logged in) takes the nick alice: it is not alice's account.
    bob.send("NICK alice")
    bob.expect(lambda l: l.command == "NICK")
    bob.nick = "alice"
    settle(bob, op)
    bob.send("REDACT #room " + a1.tags["msgid"])
    fail(bob, "REDACT", "REDACT_FORBIDDEN", "#room", a1.tags["msgid"])
    # Nor may it redact what it sent as bob: it is no longer bob.
    bob.send("REDACT #room " + b1.tags["msgid"])
    fail(bob, "REDACT", "REDACT_FORBIDDEN", "#room", b1.tags["msgid"])
    # The account, from a session named differently.
    other = srv.connect("ally", caps=CAPS)
    identify(other, "alice")
    join(other, "#room", op, bob)
    other.send("REDACT #room " + a2.tags["msgid"])
    want = ":%s REDACT #room %s" % (mask(other), a2.tags["msgid"])
    other.expect(lambda l: strip_tags(l) == want)
    op.expect(lambda l: strip_tags(l) == want)


# --------------------------------------------------------------------------------------
# EDIT (draft/message-edit)


def test_edit(make_server, backend):
    srv = start(make_server, backend)
    EDIT = ECHO + ["draft/message-edit", "batch", "draft/chathistory"]
    alice, bob, carol, dave = room(srv, [("alice", EDIT), ("bob", ["message-tags", "draft/message-edit"] + ECHO),
                                         ("carol", None), ("dave", ["message-tags"])])
    orig = say(alice, "#room", "helo wrold")
    msgid = orig.tags["msgid"]
    for c in (bob, carol, dave):
        c.expect(lambda l: l.params[-1:] == ["helo wrold"])

    alice.send("EDIT #room %s :hello world" % msgid)
    edit = ":%s EDIT #room %s :hello world" % (mask(alice), msgid)
    alice.expect_next(lambda l: strip_tags(l) == edit)
    bob.expect_next(lambda l: strip_tags(l) == edit)
    carol.expect_next(":%s PRIVMSG #room :(edited) hello world" % mask(alice))
    dave.expect_next(lambda l: strip_tags(l) == ":%s PRIVMSG #room :(edited) hello world" % mask(alice))
    quiet(alice, bob, carol, dave)

    # History: the same msgid and time, the new text, marked edited.
    got = chathistory(alice, "LATEST", "#room", "*", 10)
    assert len(got) == 1 and got[0].tags["msgid"] == msgid and got[0].params == ["#room", "hello world"], got
    assert got[0].tags["time"] == orig.tags["time"] and got[0].tags.get("+draft/edited") == "", got
    erin = srv.connect("erin", caps=REPLAY)
    join(erin, "#room", alice, bob, carol, dave)
    got = read_batch(erin, "chathistory", "#room")
    assert len(got) == 1 and "+draft/edited" in got[0].tags and got[0].params[-1] == "hello world", got
    # Without message-tags: "(edited) " in front of the text.
    fred = srv.connect("fred")
    join(fred, "#room", alice, bob, carol, dave, erin)
    fred.expect_next(":%s PRIVMSG #room :%s(edited) hello world" % (mask(alice), seconds(orig.tags["time"])))
    fred.send("PRIVMSG HistServ :SEARCH #room hello")
    fred.expect_next(re.compile(r"^%s NOTICE fred :\[[-0-9: ]+\] #room <alice> .*hello world \(%s\)$"
                                % (re.escape(HS), msgid)))
    fred.expect_next(HS + " NOTICE fred :End of 1 message.")
    # Edited again: still one message.
    alice.send("EDIT #room %s :hello, world" % msgid)
    alice.expect_next(lambda l: l.command == "EDIT")
    assert texts(chathistory(alice, "LATEST", "#room", "*", 10)) == ["hello, world"]
    for c in (bob, carol, dave, erin, fred):
        settle(c)

    # Only the sender: not another member, not even a channel operator.
    bob_msg = say(bob, "#room", "bob's words")
    for c in (alice, carol, dave, erin, fred):
        c.expect(lambda l: l.params[-1:] == ["bob's words"])
    bob.send("EDIT #room %s :hijacked" % msgid)
    bob.expect_next("%s FAIL EDIT EDIT_FORBIDDEN #room %s :Only the sender may edit a message" % (S, msgid))
    alice.send("EDIT #room %s :hijacked by the op" % bob_msg.tags["msgid"])
    fail(alice, "EDIT", "EDIT_FORBIDDEN", "#room", bob_msg.tags["msgid"])
    alice.send("EDIT #room 00000000000000aa :nothing")
    fail(alice, "EDIT", "UNKNOWN_MSGID", "#room", "00000000000000aa")
    alice.send("EDIT #room %s :" % msgid)
    fail(alice, "EDIT", "INVALID_TEXT", "#room")
    alice.send("EDIT #nosuchroom %s :x" % msgid)
    fail(alice, "EDIT", "INVALID_TARGET", "#nosuchroom")
    quiet(alice, bob, carol, dave, erin, fred)
    assert texts(chathistory(alice, "LATEST", "#room", "*", 10)) == ["hello, world", "bob's words"]


def test_edit_and_redact_in_plain_clients(make_server, backend):
    """Direct messages and actions: a client without draft/message-edit gets the new
    text marked "(edited) " (inside the ACTION), one without draft/message-redaction a
    NOTICE naming the deleted message; capable clients get EDIT and REDACT, exactly."""
    srv = start(make_server, backend)
    CAPS = ECHO + ["draft/message-edit", "draft/message-redaction"]
    alice, bob, carol = room(srv, [("alice", CAPS), ("bob", CAPS), ("carol", None)])
    act = say(alice, "#room", "\x01ACTION waves\x01")
    dm = say(alice, "carol", "hi carol")
    dm2 = say(alice, "bob", "hi bob")
    settle(bob, carol)
    alice.send("EDIT #room %s :\x01ACTION waves back\x01" % act.tags["msgid"])
    for c in (alice, bob):
        c.expect_next(lambda l: strip_tags(l) == ":%s EDIT #room %s :\x01ACTION waves back\x01"
                      % (mask(alice), act.tags["msgid"]))
    carol.expect_next(":%s PRIVMSG #room :\x01ACTION (edited) waves back\x01" % mask(alice))
    alice.send("EDIT carol %s :hello carol" % dm.tags["msgid"])
    alice.expect_next(lambda l: strip_tags(l) == ":%s EDIT carol %s :hello carol" % (mask(alice), dm.tags["msgid"]))
    carol.expect_next(":%s PRIVMSG carol :(edited) hello carol" % mask(alice))
    alice.send("EDIT bob %s :hello bob" % dm2.tags["msgid"])
    for c in (alice, bob):
        c.expect_next(lambda l: strip_tags(l) == ":%s EDIT bob %s :hello bob" % (mask(alice), dm2.tags["msgid"]))
    alice.send("REDACT carol " + dm.tags["msgid"])
    alice.expect_next(lambda l: strip_tags(l) == ":%s REDACT carol %s" % (mask(alice), dm.tags["msgid"]))
    carol.expect_next(":%s NOTICE carol :(deleted a message from alice sent at %s UTC)"
                      % (mask(alice), dm.tags["time"][11:19]))
    quiet(alice, bob, carol)


def test_histserv_shows_lines_as_plain_clients_do(make_server, backend):
    """HistServ PLAY: "* nick text" for an action, "-nick- text" for a NOTICE, "<nick>
    text" otherwise, and "(edited) " before an edited text."""
    srv = start(make_server, backend)
    alice, carol = room(srv, [("alice", ECHO + ["draft/message-edit"]), ("carol", None)])
    said = say(alice, "#room", "helo")
    say(alice, "#room", "\x01ACTION waves\x01")
    say(alice, "#room", "heads up", command="NOTICE")
    alice.send("EDIT #room %s :hello" % said.tags["msgid"])
    alice.expect_next(lambda l: l.command == "EDIT")
    settle(carol)
    carol.send("PRIVMSG HistServ :PLAY #room")
    for text in ["<alice> (edited) hello", "* alice waves", "-alice- heads up"]:
        carol.expect_next(re.compile(r"^%s NOTICE carol :\[[-0-9: ]+\] #room %s \([0-9a-f]+[0-9A-Z]*\)$"
                                     % (re.escape(HS), re.escape(text))))
    carol.expect_next(HS + " NOTICE carol :End of 3 messages.")
    quiet(alice, carol)


# --------------------------------------------------------------------------------------
# SEARCH (soju.im/search)


def test_search(make_server, backend):
    srv = start(make_server, backend)
    SEARCH = ["batch", "server-time", "message-tags", "soju.im/search"]
    alice, bob = room(srv, [("alice", ECHO), ("bob", SEARCH + ["echo-message"])])
    join(alice, "#other")
    join(bob, "#other", alice)
    m = []
    for sender, target, text in ((alice, "#room", "the quick brown fox"), (bob, "#room", "a lazy dog"),
                                 (alice, "#room", "another fox appears"), (alice, "#other", "fox in the other room")):
        m.append(say(sender, target, text))
        time.sleep(0.003)  # distinct milliseconds, for after= and before=
    m1, m2, m3, m4 = m
    settle(alice, bob)

    def search(attrs):
        bob.send("SEARCH " + attrs)
        return read_batch(bob, "soju.im/search")

    got = search("in=#room;text=fox")
    assert ids(got) == ids([m1, m3]), got
    assert strip_tags(got[0]) == strip_tags(m1) and got[0].tags["time"] == m1.tags["time"], got
    assert ids(search("in=#room;text=quick brown")) == ids([m1])
    assert search("in=#room;text=cat") == []
    assert ids(search("text=fox")) == ids([m1, m3, m4])  # every channel of bob's
    assert ids(search("in=#room;text=fox;limit=1")) in (ids([m1]), ids([m3]))
    assert ids(search("in=#room;text=fox;after=" + m1.tags["time"])) == ids([m3])
    assert ids(search("in=#room;text=fox;before=" + m3.tags["time"])) == ids([m1])
    # Without batch: the results as plain tagged lines.
    carol = srv.connect("carol", caps=["server-time", "soju.im/search"])
    join(carol, "#room", alice, bob)
    carol.read_until(lambda l: l.params[-1:] == ["another fox appears"])
    carol.send("SEARCH in=#room;text=dog")
    carol.expect_next("@time=%s %s" % (m2.tags["time"], strip_tags(m2)))
    quiet(carol)

    for attrs in ("in=#room", "in=#room;text=", "text=fox;limit=0", "text=fox;limit=x", "text=fox;bogus=1",
                  "fox", "text=fox;after=yesterday", "text=fox;before=x"):
        bob.send("SEARCH " + attrs)
        fail(bob, "SEARCH", "INVALID_PARAMS")
    bob.send("SEARCH")
    line = bob.expect_next(lambda l: True)
    assert line == "%s 461 bob SEARCH :Not enough parameters" % S or line.params[:2] in (
        ["SEARCH", "NEED_MORE_PARAMS"], ["SEARCH", "INVALID_PARAMS"]), line
    quiet(bob)


def test_search_whole_words(make_server, backend):
    """SEARCH matches whole words, newest first, on both backends (on MariaDB a short
    search is answered from the newest messages without the full-text index, and must
    match like it)."""
    srv = start(make_server, backend)
    SEARCH = ["batch", "server-time", "message-tags", "soju.im/search"]
    alice, bob = room(srv, [("alice", ECHO), ("bob", SEARCH + ["echo-message"])])
    m1 = say(alice, "#room", "a cat sat here")
    say(alice, "#room", "concatenate strings")
    say(alice, "#room", "category theory (c.a.t)")
    settle(alice, bob)
    bob.send("SEARCH in=#room;text=cat;limit=1")  # not "concatenate", not "category"
    assert ids(read_batch(bob, "soju.im/search")) == ids([m1])
    bob.send("SEARCH in=#room;text=concat;limit=1")
    assert read_batch(bob, "soju.im/search") == []
    bob.send("SEARCH in=#room;text=theory;limit=5")
    got = read_batch(bob, "soju.im/search")
    assert [l.params[-1] for l in got] == ["category theory (c.a.t)"]


def test_search_from(make_server, backend):
    """soju.im/search's from= attribute: only messages from that sender."""
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", ["batch", "server-time", "message-tags", "soju.im/search"]
                                               + ["echo-message"])])
    m1 = say(alice, "#room", "one fox")
    m2 = say(bob, "#room", "two fox")
    m3 = say(alice, "#room", "three fox")
    settle(alice, bob)
    for attrs, want in (("in=#room;text=fox;from=bob", [m2]), ("in=#room;text=fox;from=alice", [m1, m3]),
                        ("in=#room;text=fox;from=ALICE", [m1, m3]), ("text=fox;from=nobody", [])):
        bob.send("SEARCH " + attrs)
        assert ids(read_batch(bob, "soju.im/search")) == ids(want), attrs


# --------------------------------------------------------------------------------------
# HistServ (clients without any capability)


def test_histserv(make_server, backend):
    srv = start(make_server, backend)
    op = srv.connect("op", caps=ECHO + ["draft/message-redaction"])
    join(op, "#room")
    alice = srv.connect("alice")
    join(alice, "#room", op)
    bob = srv.connect("bob")
    join(bob, "#room", op, alice)
    bob.send("PRIVMSG #room :hello world")
    bob.send("PRIVMSG #room :second line")
    sync(bob)
    alice.send("PRIVMSG bob :a private word")
    sync(alice)
    for c in (op, alice, bob):
        settle(c)
    line_re = r"^%s NOTICE %s :\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\] %s <%s> %s \(([0-9a-f]+[0-9A-Z]*)\)$"

    def hs(c, text):
        c.send("PRIVMSG HistServ :" + text)

    def entries(c, target, expected):
        """The NOTICE lines for expected [(nick, text)], then End of N; returns msgids."""
        found = []
        for nick, text in expected:
            line = c.expect_next(re.compile(line_re % (re.escape(HS), c.nick, re.escape(target), nick,
                                                       re.escape(text))))
            when = calendar.timegm(time.strptime(line.match.group(1), "%Y-%m-%d %H:%M:%S"))
            assert abs(when - time.time()) < 60, line
            found.append(line.match.group(2))
        c.expect_next("%s NOTICE %s :End of %d message%s." % (HS, c.nick, len(expected),
                                                              "" if len(expected) == 1 else "s"))
        return found

    hs(alice, "PLAY #room")
    hello, second = entries(alice, "#room", [("bob", "hello world"), ("bob", "second line")])
    hs(alice, "PLAY #room 1")
    assert entries(alice, "#room", [("bob", "second line")]) == [second]
    hs(alice, "SEARCH #room hello")
    assert entries(alice, "#room", [("bob", "hello world")]) == [hello]
    hs(alice, "SEARCH * second")
    assert entries(alice, "#room", [("bob", "second line")]) == [second]
    hs(alice, "SEARCH #room zebra crossing")
    alice.expect_next(HS + " NOTICE alice :No messages found in #room.")
    hs(alice, "PLAY bob")  # a direct conversation, named by the other side
    entries(alice, "bob", [("alice", "a private word")])
    hs(bob, "PLAY alice")
    entries(bob, "bob", [("alice", "a private word")])
    hs(alice, "PLAY #elsewhere")
    alice.expect_next(HS + " NOTICE alice :You are not in #elsewhere.")

    # DELETE: one's own messages (or any, for a channel operator).
    hs(alice, "DELETE #room " + hello)
    alice.expect_next(HS + " NOTICE alice :You may only delete your own messages.")
    hs(bob, "DELETE #room " + hello)
    bob.expect_next(HS + " NOTICE bob :Message %s deleted." % hello)
    op.expect_next(lambda l: strip_tags(l) == ":%s REDACT #room %s" % (mask(bob), hello))
    alice.expect_next(re.compile(r"^:%s NOTICE #room :\(deleted a message from bob sent at \d\d:\d\d:\d\d UTC\)$"
                                 % re.escape(mask(bob))))
    hs(bob, "DELETE #room " + hello)
    bob.expect_next(HS + " NOTICE bob :No such message.")
    hs(bob, "DELETE #elsewhere " + second)
    bob.expect_next(HS + " NOTICE bob :You are not in #elsewhere.")
    hs(alice, "PLAY #room")
    entries(alice, "#room", [("bob", "second line")])

    # Usage.
    hs(alice, "HELP")
    lines = alice.read_until(lambda l: l.params[-1].startswith("  HELP"))
    assert lines[0] == HS + " NOTICE alice :HistServ commands:", lines
    assert all(l.source == HS[1:] and l.command == "NOTICE" for l in lines), lines
    hs(alice, "FROB")
    alice.expect_next(HS + " NOTICE alice :Unknown command or missing arguments. Use HELP for a list.")
    hs(alice, "SEARCH #room")
    alice.expect_next(HS + " NOTICE alice :Unknown command or missing arguments. Use HELP for a list.")
    quiet(alice, bob, op)


def test_histserv_counts_what_it_shows(make_server, backend):
    """Reactions (TAGMSG) are not shown in NOTICEs, so "End of N messages." must not
    count them, and a history of reactions only has "No messages found"."""
    srv = start(make_server, backend)
    op, irssi = room(srv, [("op", ECHO), ("irssi", None)])
    hello = say(op, "#room", "hello")
    op.send("@+draft/react=x;+draft/reply=%s TAGMSG #room" % hello.tags["msgid"])
    settle(op, irssi)
    join(op, "#reacts")
    join(irssi, "#reacts", op)
    op.send("@+draft/react=y TAGMSG #reacts")
    settle(op, irssi)
    irssi.send("PRIVMSG HistServ :PLAY #room")
    irssi.expect_next(re.compile(r" NOTICE irssi :\[.*\] #room <op> hello \(%s\)$" % hello.tags["msgid"]))
    irssi.expect_next(HS + " NOTICE irssi :End of 1 message.")
    irssi.send("PRIVMSG HistServ :PLAY #reacts")
    irssi.expect_next(HS + " NOTICE irssi :No messages found in #reacts.")
    quiet(irssi)


# --------------------------------------------------------------------------------------
# MARKREAD (draft/read-marker)


def test_markread_sessions(make_server, backend):
    srv = start(make_server, backend)
    CAPS = ["draft/read-marker"]
    s1 = srv.connect("alice", caps=CAPS)
    register(s1)
    s2 = srv.connect("alice2", caps=CAPS)
    identify(s2, "alice")
    s3 = srv.connect("alice3")  # the same account, without the capability
    identify(s3, "alice")
    bob = srv.connect("bob", caps=CAPS)
    register(bob)

    # On JOIN, before the end of NAMES: no marker yet.
    lines = join(s1, "#room")
    assert "%s MARKREAD #room *" % S in lines, lines
    lines = join(s2, "#room", s1)
    assert "%s MARKREAD #room *" % S in lines, lines

    t1, t0, t2 = "2024-03-01T10:00:00.500Z", "2024-02-01T00:00:00.000Z", "2024-03-01T10:00:01.000Z"
    s1.send("MARKREAD #room timestamp=" + t1)
    for c in (s1, s2):
        c.expect_next("%s MARKREAD #room timestamp=%s" % (S, t1))
    quiet(s1, s2, s3, bob)
    s2.send("MARKREAD #room")
    s2.expect_next("%s MARKREAD #room timestamp=%s" % (S, t1))
    s2.send("MARKREAD #ROOM")  # the target is the same under casemapping
    s2.expect_next("%s MARKREAD #ROOM timestamp=%s" % (S, t1))
    # Only forward: an older or equal marker gets the stored one back, and nobody else hears.
    for older in (t0, t1):
        s1.send("MARKREAD #room timestamp=" + older)
        s1.expect_next("%s MARKREAD #room timestamp=%s" % (S, t1))
    quiet(s1, s2, s3)
    s2.send("MARKREAD #room timestamp=" + t2)
    for c in (s2, s1):
        c.expect_next("%s MARKREAD #room timestamp=%s" % (S, t2))
    # Markers are per account: bob has none.
    bob.send("MARKREAD #room")
    bob.expect_next("%s MARKREAD #room *" % S)
    # A direct-message target.
    s1.send("MARKREAD bob timestamp=" + t1)
    for c in (s1, s2):
        c.expect_next("%s MARKREAD bob timestamp=%s" % (S, t1))
    quiet(s1, s2, s3, bob)

    # Rejoining tells the stored marker before the end of NAMES; a new session too.
    part(s1, "#room", s2)
    lines = join(s1, "#room", s2)
    assert "%s MARKREAD #room timestamp=%s" % (S, t2) in lines, lines
    s4 = srv.connect("alice4", caps=CAPS)
    identify(s4, "alice")
    lines = join(s4, "#room", s1, s2)
    assert "%s MARKREAD #room timestamp=%s" % (S, t2) in lines, lines
    quiet(s1, s2, s3, s4)

    # Errors.
    s1.send("MARKREAD #room *")
    fail(s1, "MARKREAD", "INVALID_PARAMS")
    s1.send("MARKREAD #room timestamp=soon")
    fail(s1, "MARKREAD", "INVALID_PARAMS")
    s1.send("MARKREAD")
    line = s1.expect_next(lambda l: True)
    assert line.command == "FAIL" and line.params[:2] == ["MARKREAD", "NEED_MORE_PARAMS"], line
    # Someone not logged in never sees nor moves the account's marker.
    anon = srv.connect("anon", caps=CAPS)
    anon.send("MARKREAD #room")
    line = anon.expect_next(lambda l: True)
    assert line in ("%s MARKREAD #room *" % S,) or line.command == "FAIL", line
    anon.send("MARKREAD #room timestamp=" + t0)
    line = anon.expect_next(lambda l: True)
    assert line in ("%s MARKREAD #room timestamp=%s" % (S, t0),) or line.command == "FAIL", line
    quiet(s1, s2, s3, s4, anon)
    s1.send("MARKREAD #room")
    s1.expect_next("%s MARKREAD #room timestamp=%s" % (S, t2))


def test_markread_on_join_without_account(make_server, backend):
    """The spec's MUST: a client with the capability gets MARKREAD (here "*") for a
    channel it joins, before RPL_ENDOFNAMES, logged in or not."""
    srv = start(make_server, backend)
    c = srv.connect("anon", caps=["draft/read-marker"])
    lines = join(c, "#room")
    assert "%s MARKREAD #room *" % S in lines, lines
    quiet(c)


def test_markread_persists(make_server, backend):
    srv = start(make_server, backend)
    s1 = srv.connect("alice", caps=["draft/read-marker"])
    register(s1)
    s1.send("MARKREAD #room timestamp=2024-01-02T03:04:05.678Z")
    s1.expect_next("%s MARKREAD #room timestamp=2024-01-02T03:04:05.678Z" % S)
    srv.stop()
    srv = start(make_server, backend)
    s1 = srv.connect("alice", caps=["draft/read-marker"])
    ns(s1, "IDENTIFY alice " + PASSWORD)
    s1.expect(lambda l: l.command == "900")
    s1.expect(":%s NOTICE alice :You are now identified for alice." % NICKSERV)
    # the login tells the account's markers (issue 16), before the next command's answer
    s1.expect_next("%s MARKREAD #room timestamp=2024-01-02T03:04:05.678Z" % S)
    lines = join(s1, "#room")
    assert "%s MARKREAD #room timestamp=2024-01-02T03:04:05.678Z" % S in lines, lines
    assert backend.query("SELECT account_key, target_key FROM read_markers") == [("alice", "#room")]


# --------------------------------------------------------------------------------------
# Retention, restart, order


def test_retention(make_server, backend):
    srv = registered_server(make_server, backend, max_age_days=1)  # the inserted rows are #room's own
    began = time.monotonic()
    now = int(time.time() * 1000)
    old = insert_row(backend, "#room", "old!old@%s" % HOST, "two days old", now - 2 * 86400 * 1000)
    older = insert_row(backend, "#room", "old!old@%s" % HOST, "a year old", now - 365 * 86400 * 1000, counter=3)
    recent = insert_row(backend, "#room", "new!new@%s" % HOST, "twelve hours old", now - 12 * 3600 * 1000)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    live = say(alice, "#room", "just now")
    wait_for(lambda: row_count(backend) == 4, what="the live message stored")
    # The purge runs 5 s after start, then every minute.
    deadline = began + 15
    while row_count(backend, "msgid IN ('%s', '%s')" % (old, older)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert row_count(backend, "msgid IN ('%s', '%s')" % (old, older)) == 0, "expired rows still stored after 15 s"
    settle(bob)
    assert ids(chathistory(bob, "LATEST", "#room", "*", 10)) == [recent, live.tags["msgid"]]


def test_restart_keeps_history(make_server, backend):
    """A registered room's history and accounts' conversations outlive a restart (an
    unregistered channel's and logged-out users' do not: test_history_privacy.py)."""
    srv = registered_server(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", ECHO)])
    register(alice)
    register(bob)
    sent = [say(alice, "#room", "before restart %d" % i) for i in range(3)]
    sent.append(say(bob, "alice", "a private one"))
    sent.append(say(bob, "#room", "the very last"))  # stop at once: it is still in the pending batch
    srv.stop()
    assert srv.proc.returncode == 0

    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", FULL), ("bob", FULL)])
    identify(alice, "alice")
    identify(bob, "bob")
    got = chathistory(alice, "LATEST", "#room", "*", 100)
    want = [e for e in sent if e.params[0] == "#room"]
    assert ids(got) == ids(want) and texts(got) == texts(want)
    assert [l.tags["time"] for l in got] == [e.tags["time"] for e in want]
    assert ids(chathistory(alice, "LATEST", "bob", "*", 10)) == ids([sent[3]])
    # New messages sort after the old ones.
    new = say(alice, "#room", "after restart")
    settle(bob)
    assert ids(chathistory(bob, "LATEST", "#room", "*", 2)) == ids([sent[4], new])


def test_burst_of_1000_in_order(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = room(srv, [("alice", ECHO), ("bob", FULL)])
    n = 1000
    words = ["burst %04d" % i for i in range(n)]
    alice.send_raw("".join("PRIVMSG #room :%s\r\n" % w for w in words).encode())
    relayed = []
    while len(relayed) < n:
        l = bob.getline(timeout=15)
        assert l.command == "PRIVMSG" and l.params == ["#room", words[len(relayed)]], l
        relayed.append(l.tags["msgid"])
    assert relayed == sorted(relayed) and len(set(relayed)) == n
    settle(alice)

    # Backwards in pages of 100 (the default maximum) from the newest...
    pages, got = 0, []
    page = chathistory(bob, "LATEST", "#room", "*", 100)
    while page:
        pages += 1
        got = page + got
        page = chathistory(bob, "BEFORE", "#room", "msgid=" + page[0].tags["msgid"], 100)
    assert pages == 10
    assert texts(got) == words and ids(got) == relayed
    # ...and forwards from the oldest.
    fwd = chathistory(bob, "AFTER", "#room", PAST, 100)
    while len(fwd) < n:
        page = chathistory(bob, "AFTER", "#room", "msgid=" + fwd[-1].tags["msgid"], 100)
        assert page, len(fwd)
        fwd += page
    assert ids(fwd) == relayed
    assert row_count(backend) == n
    rows = backend.query("SELECT msgid, text FROM messages ORDER BY seq")
    assert [r[0] for r in rows] == relayed and [r[1] for r in rows] == words
