"""Nobody reads or rewrites history that is not theirs (issue 13, part 3), on SQLite and
MariaDB:

* an unregistered channel's history lasts as long as the channel: whoever creates the
  name again (even after a restart) sees nothing of the earlier occupants, by replay on
  JOIN, CHATHISTORY, SEARCH or HistServ; a room registered with ChanServ keeps its own
  history, but registering never opens what the name's earlier lifetimes left, and after
  a DROP the next creator starts empty;
* a logged-out user's direct messages belong to the connection, not to the nick: whoever
  takes the nick later, or registers an account named like it (^carol folds to ~carol),
  reads nothing of them;
* CHATHISTORY TARGETS builds no LIKE pattern from a name (a user called ___1);
* EDIT, REDACT and HistServ DELETE of a logged-out user's message only from the session
  that sent it, not from the next holder of the nick;
* MARKREAD from a logged-out user for a channel it is not in is refused, and guests'
  markers are never stored, at most 128 per guest, gone when it quits.
"""

import re
import time

from chanutil import join, part, quiet
from conftest import SERVER_NAME, wait_for
from test_history import (ECHO, FULL, FUTURE, HS, PAST, REPLAY, chathistory, fail, identify, ids, insert_row,
                          no_replay, read_batch, register, row_count, say, seconds, settle, start, targets, texts)

S = ":" + SERVER_NAME
CS = ":ChanServ!ChanServ@services."
SEARCHER = FULL + ["soju.im/search", "draft/message-edit", "draft/message-redaction"]


def hs(c, text):
    """Sends text to HistServ, consuming c's echo-message copy of it (every client here
    that talks to HistServ has echo-message)."""
    c.send("PRIVMSG HistServ :" + text)
    c.expect_next(lambda l: l.command == "PRIVMSG" and l.params == ["HistServ", text])


def nothing_readable(c, chan, old_msgid, words):
    """c (with SEARCHER caps, a member of chan) can read nothing of the earlier messages,
    by any read path; returns nothing."""
    assert chathistory(c, "LATEST", chan, "*", 50) == []
    assert chathistory(c, "BEFORE", chan, FUTURE, 50) == []
    assert chathistory(c, "AFTER", chan, PAST, 50) == []
    assert chathistory(c, "BETWEEN", chan, PAST, FUTURE, 50) == []
    assert chathistory(c, "AROUND", chan, "msgid=" + old_msgid, 50) == []
    assert chathistory(c, "AROUND", chan, PAST, 50) == []
    assert chathistory(c, "AFTER", chan, "msgid=" + old_msgid, 50) == []
    assert targets(c, PAST, FUTURE, 50) == []
    c.send("SEARCH text=" + words)
    assert read_batch(c, "soju.im/search") == []
    c.send("SEARCH in=%s;text=%s" % (chan, words))
    assert read_batch(c, "soju.im/search") == []
    hs(c, "PLAY %s 10" % chan)
    c.expect_next("%s NOTICE %s :No messages found in %s." % (HS, c.nick, chan))
    hs(c, "SEARCH * " + words)
    c.expect_next("%s NOTICE %s :No messages found in *." % (HS, c.nick))
    hs(c, "SEARCH %s %s" % (chan, words))
    c.expect_next("%s NOTICE %s :No messages found in %s." % (HS, c.nick, chan))
    # Nor rewritten: for this lifetime, the message does not exist.
    c.send("EDIT %s %s :rewritten" % (chan, old_msgid))
    c.expect_next("%s FAIL EDIT UNKNOWN_MSGID %s %s :This message does not exist" % (S, chan, old_msgid))
    c.send("REDACT %s %s" % (chan, old_msgid))
    c.expect_next("%s FAIL REDACT UNKNOWN_MSGID %s %s :This message does not exist or is too old"
                  % (S, chan, old_msgid))


def emptied_room(srv, chan, modes):
    """alice creates chan with modes, says a secret and leaves (the channel ends); returns
    the secret's echo."""
    alice = srv.connect("alice", caps=ECHO)
    join(alice, chan)
    if modes:
        alice.send("MODE %s %s" % (chan, modes))
        alice.expect(lambda l: l.command == "MODE")
    secret = say(alice, chan, "the vault code is 1234")
    alice.send("QUIT")
    alice.expect_closed()
    return secret


def test_channel_history_ends_with_the_channel(make_server, backend):
    srv = start(make_server, backend)
    for chan, modes in (("#open", None), ("#hidden", "+s"), ("#locked", "+ik sesame")):
        secret = emptied_room(srv, chan, modes)
        # The next creator is op of a new channel: no replay on JOIN...
        eve = srv.connect("eve", caps=REPLAY)
        lines = join(eve, chan)
        assert any(l.startswith(S + " 353 eve = %s :@eve" % chan) or l.startswith(S + " 353 eve @ %s :@eve" % chan)
                   for l in lines), lines
        no_replay(eve)
        # ... and nothing by any other read path.
        mallory = srv.connect("mallory", caps=SEARCHER)
        join(mallory, chan, eve)
        nothing_readable(mallory, chan, secret.tags["msgid"], "vault")
        # This lifetime's own messages are there.
        mine = say(mallory, chan, "a new vault")
        settle(eve)
        assert ids(chathistory(mallory, "LATEST", chan, "*", 50)) == ids([mine])
        assert ids(chathistory(mallory, "AROUND", chan, "msgid=" + secret.tags["msgid"], 50)) == []
        mallory.send("SEARCH text=vault")
        assert ids(read_batch(mallory, "soju.im/search")) == ids([mine])
        hs(mallory, "PLAY %s 10" % chan)
        mallory.expect_next(re.compile(r"^%s NOTICE mallory :\[[-0-9: ]+\] %s <mallory> a new vault \(%s\)$"
                                       % (re.escape(HS), re.escape(chan), mine.tags["msgid"])))
        mallory.expect_next("%s NOTICE mallory :End of 1 message." % HS)
        assert targets(mallory, PAST, FUTURE, 50) == [(chan, mine.tags["time"])]
        for c in (eve, mallory):
            c.send("QUIT")
            c.expect_closed()


def test_channel_history_ends_at_restart(make_server, backend):
    """The daemon restarting ends every unregistered channel: created again, it is a new
    lifetime, even for the same people."""
    srv = start(make_server, backend)
    secret = emptied_room(srv, "#room", "+s")
    srv.stop()
    srv = start(make_server, backend)
    alice = srv.connect("alice", caps=SEARCHER)
    join(alice, "#room")
    nothing_readable(alice, "#room", secret.tags["msgid"], "vault")
    quiet(alice)


def cs(c, text, notice):
    """c sends text to ChanServ and gets notice back (and its echo-message copy)."""
    c.send("PRIVMSG ChanServ :" + text)
    c.expect("%s NOTICE %s :%s" % (CS, c.nick, notice))
    settle(c)


def test_registered_room_keeps_only_its_own_history(make_server, backend):
    srv = start(make_server, backend)
    secret = emptied_room(srv, "#room", None)  # an earlier, unregistered lifetime
    bob = srv.connect("bob", caps=SEARCHER)
    register(bob)
    join(bob, "#room")
    before = say(bob, "#room", "said before registering")
    cs(bob, "REGISTER #room", "#room is now registered to bob.")
    # Registering keeps this lifetime's messages and opens nothing of the earlier one.
    assert ids(chathistory(bob, "LATEST", "#room", "*", 50)) == ids([before])
    after = say(bob, "#room", "said after registering")
    # Registered, the room outlives its members and a restart, with its history.
    part(bob, "#room")
    join(bob, "#room")
    settle(bob)  # ChanServ's op
    assert ids(chathistory(bob, "LATEST", "#room", "*", 50)) == ids([before, after])
    srv.stop()
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=SEARCHER)
    identify(bob, "bob")
    join(bob, "#room")
    settle(bob)
    assert ids(chathistory(bob, "LATEST", "#room", "*", 50)) == ids([before, after])
    bob.send("SEARCH text=vault")
    assert read_batch(bob, "soju.im/search") == []
    # Dropped, the room ends when it empties: the next creator starts empty.
    cs(bob, "DROP #room", "#room has been dropped.")
    bob.send("QUIT")
    bob.expect_closed()
    eve = srv.connect("eve", caps=SEARCHER)
    join(eve, "#room")
    nothing_readable(eve, "#room", before.tags["msgid"], "registering")
    assert chathistory(eve, "AROUND", "#room", "msgid=" + secret.tags["msgid"], 50) == []
    quiet(eve)


def test_registered_while_empty_keeps_history(make_server, backend):
    """A room dropped while nobody is in it ends at once."""
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=SEARCHER)
    register(bob)
    join(bob, "#room")
    cs(bob, "REGISTER #room", "#room is now registered to bob.")
    said = say(bob, "#room", "registered words")
    part(bob, "#room")
    cs(bob, "DROP #room", "#room has been dropped.")
    eve = srv.connect("eve", caps=SEARCHER)
    join(eve, "#room")
    nothing_readable(eve, "#room", said.tags["msgid"], "registered")
    quiet(bob, eve)


def block_deletes(backend):
    """Makes every DELETE of messages fail (a trigger), as when the database goes away
    right after a commit: whatever depends on a later delete is exposed."""
    if backend.name == "sqlite":
        backend.query("CREATE TRIGGER keep_messages BEFORE DELETE ON messages "
                      "BEGIN SELECT RAISE(ABORT, 'kept'); END")
    else:
        backend.query("CREATE TRIGGER keep_messages BEFORE DELETE ON messages FOR EACH ROW "
                      "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'kept'")


def test_registration_stores_the_history_floor(make_server, backend):
    """REGISTER stores where the room's history starts, in its own transaction: killed
    right after "is now registered", and with the delete of the earlier lifetimes' rows
    failing, the restarted server still shows none of them (CHATHISTORY, replay on JOIN,
    SEARCH, HistServ), only the registered lifetime's messages."""
    srv = start(make_server, backend)
    old = insert_row(backend, "#room", "alice", "the vault code is 1234", int(time.time() * 1000) - 60000)
    block_deletes(backend)
    bob = srv.connect("bob", caps=SEARCHER)
    register(bob)
    join(bob, "#room")
    before = say(bob, "#room", "said before registering")
    # history is written behind its echo: stored before the kill
    wait_for(lambda: row_count(backend, "msgid = '%s'" % before.tags["msgid"]) == 1, what="the row stored")
    cs(bob, "REGISTER #room", "#room is now registered to bob.")
    srv.proc.kill()
    srv.proc.wait()
    assert row_count(backend, "msgid = '%s'" % old) == 1  # the cleanup did not happen
    srv.start()
    bob = srv.connect("bob", caps=SEARCHER)
    identify(bob, "bob")
    join(bob, "#room")
    settle(bob)  # ChanServ's op
    assert ids(chathistory(bob, "LATEST", "#room", "*", 50)) == ids([before])
    assert ids(chathistory(bob, "AFTER", "#room", PAST, 50)) == ids([before])
    assert chathistory(bob, "AROUND", "#room", "msgid=" + old, 50) == []
    bob.send("SEARCH text=vault")
    assert read_batch(bob, "soju.im/search") == []
    hs(bob, "SEARCH #room vault")
    bob.expect_next("%s NOTICE bob :No messages found in #room." % HS)
    hs(bob, "PLAY #room 10")
    bob.expect_next(re.compile(r"^%s NOTICE bob :\[[-0-9: ]+\] #room <bob> said before registering \(%s\)$"
                               % (re.escape(HS), before.tags["msgid"])))
    bob.expect_next("%s NOTICE bob :End of 1 message." % HS)
    eve = srv.connect("eve", caps=REPLAY)
    join(eve, "#room", bob)
    assert ids(read_batch(eve, "chathistory", "#room")) == ids([before])
    plain = srv.connect("plain")
    join(plain, "#room", bob, eve)
    plain.expect_next(":%s PRIVMSG #room :%s%s" % (before.source, seconds(before.tags["time"]), before.params[1]))
    no_replay(plain)
    quiet(bob, eve, plain)


def test_dropped_room_ends_across_restarts(make_server, backend):
    """After a DROP the room is an ordinary channel again: created after a restart (while
    the old rows are still there, and even though deletes fail), it shows nothing."""
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=SEARCHER)
    register(bob)
    join(bob, "#room")
    cs(bob, "REGISTER #room", "#room is now registered to bob.")
    said = say(bob, "#room", "registered words")
    wait_for(lambda: row_count(backend, "msgid = '%s'" % said.tags["msgid"]) == 1, what="the row stored")
    block_deletes(backend)
    cs(bob, "DROP #room", "#room has been dropped.")
    srv.proc.kill()
    srv.proc.wait()
    srv.start()
    eve = srv.connect("eve", caps=SEARCHER)
    join(eve, "#room")
    nothing_readable(eve, "#room", said.tags["msgid"], "registered")
    quiet(eve)
    # and a restart with the room created again by its founder: still nothing
    srv.stop()
    srv.start()
    bob = srv.connect("bob", caps=SEARCHER)
    identify(bob, "bob")
    join(bob, "#room")
    nothing_readable(bob, "#room", said.tags["msgid"], "registered")
    quiet(bob)


def dm_pair(srv):
    """alice and bob, not logged in, exchange direct messages; returns (alice, bob, echoes)."""
    alice = srv.connect("alice", caps=FULL)
    bob = srv.connect("bob", caps=FULL)
    a1 = say(alice, "bob", "my password is hunter2")
    b1 = say(bob, "alice", "mine is hunter3")
    settle(alice, bob)
    return alice, bob, [a1, b1]


def quit_all(*clients):
    for c in clients:
        c.send("QUIT")
        c.expect_closed()


def test_direct_messages_do_not_follow_the_nick(make_server, backend):
    srv = start(make_server, backend)
    alice, bob, sent = dm_pair(srv)
    # While connected, the two sessions read their conversation.
    assert ids(chathistory(alice, "LATEST", "bob", "*", 50)) == ids(sent)
    assert ids(chathistory(bob, "LATEST", "alice", "*", 50)) == ids(sent)
    assert [t for t, _ in targets(alice, PAST, FUTURE, 50)] == ["bob"]
    quit_all(alice, bob)

    # Whoever takes the nick afterwards reads nothing, whatever name the other side goes by.
    eve = srv.connect("alice", caps=SEARCHER)
    for name in ("bob", "^bob", "BOB"):
        assert chathistory(eve, "LATEST", name, "*", 50) == []
        eve.send("SEARCH in=%s;text=hunter2" % name)
        assert read_batch(eve, "soju.im/search") == []
        hs(eve, "PLAY %s 10" % name)
        eve.expect_next("%s NOTICE alice :No messages found in %s." % (HS, name))
        hs(eve, "SEARCH %s hunter2" % name)
        eve.expect_next("%s NOTICE alice :No messages found in %s." % (HS, name))
    eve.send("SEARCH text=hunter2")
    assert read_batch(eve, "soju.im/search") == []
    hs(eve, "SEARCH * hunter2")
    eve.expect_next("%s NOTICE alice :No messages found in *." % HS)
    assert targets(eve, PAST, FUTURE, 50) == []
    # Nor when someone takes bob too and they ask each other.
    mallory = srv.connect("bob", caps=FULL)
    assert chathistory(eve, "LATEST", "bob", "*", 50) == []
    assert chathistory(mallory, "LATEST", "alice", "*", 50) == []
    quiet(eve, mallory)


def test_account_name_is_not_a_logged_out_identity(make_server, backend):
    """REGISTER ^carol: ^carol folds to ~carol, which was how a logged-out carol's
    conversations were keyed."""
    srv = start(make_server, backend)
    carol = srv.connect("carol", caps=FULL)
    dave = srv.connect("dave", caps=FULL)
    c1 = say(carol, "dave", "meet at noon")
    settle(dave)
    assert ids(chathistory(carol, "LATEST", "dave", "*", 50)) == ids([c1])
    quit_all(carol, dave)
    mallory = srv.connect("mallory", caps=SEARCHER)
    mallory.send("REGISTER ^carol * password1234")
    mallory.expect(lambda l: l.command == "900")
    settle(mallory)
    for name in ("^dave", "dave"):
        assert chathistory(mallory, "LATEST", name, "*", 50) == []
        hs(mallory, "PLAY %s 10" % name)
        mallory.expect_next("%s NOTICE mallory :No messages found in %s." % (HS, name))
    mallory.send("SEARCH text=noon")
    assert read_batch(mallory, "soju.im/search") == []
    assert targets(mallory, PAST, FUTURE, 50) == []
    quiet(mallory)


def test_targets_builds_no_pattern_from_a_name(make_server, backend):
    srv = start(make_server, backend)
    abc1 = srv.connect("abc1", caps=FULL)
    bob = srv.connect("bob", caps=FULL)
    say(abc1, "bob", "between us")
    say(bob, "abc1", "indeed")
    settle(abc1, bob)
    for nick in ("___1", "____", "a_c1"):
        eve = srv.connect(nick, caps=FULL)
        assert targets(eve, PAST, FUTURE, 50) == []
        quit_all(eve)
    # The participants see each other.
    assert [t for t, _ in targets(abc1, PAST, FUTURE, 50)] == ["bob"]
    assert [t for t, _ in targets(bob, PAST, FUTURE, 50)] == ["abc1"]


def test_targets_of_accounts(make_server, backend):
    """Accounts' conversations are found from either side of the key, and logged-out
    senders show under their nick."""
    srv = start(make_server, backend)
    zed = srv.connect("zed", caps=FULL)
    register(zed)
    amy = srv.connect("amy", caps=FULL)
    register(amy)
    guest = srv.connect("guest", caps=FULL)
    t1 = say(amy, "zed", "from amy").tags["time"]
    t2 = say(guest, "zed", "from a guest").tags["time"]
    settle(zed, amy, guest)
    assert targets(zed, PAST, FUTURE, 50) == [("amy", t1), ("guest", t2)]
    assert targets(amy, PAST, FUTURE, 50) == [("zed", t1)]
    assert targets(guest, PAST, FUTURE, 50) == [("zed", t2)]


EDITOR = ECHO + ["draft/message-edit", "draft/message-redaction", "batch", "draft/chathistory"]


def test_edit_and_redact_only_by_the_session(make_server, backend):
    srv = start(make_server, backend)
    bob = srv.connect("bob", caps=EDITOR)
    join(bob, "#room")  # keeps the room alive
    alice = srv.connect("alice", caps=EDITOR)
    join(alice, "#room", bob)
    chan_msg = say(alice, "#room", "I wrote this")
    dm = say(alice, "bob", "and this")
    settle(bob)
    # The session itself may edit (and, below, its successor may not).
    alice.send("EDIT #room %s :I wrote this, edited" % chan_msg.tags["msgid"])
    alice.expect_next(lambda l: l.command == "EDIT")
    settle(bob)
    quit_all(alice)
    settle(bob)  # alice's QUIT

    eve = srv.connect("alice", caps=EDITOR)
    join(eve, "#room", bob)
    msgid = chan_msg.tags["msgid"]
    eve.send("EDIT #room %s :eve was here" % msgid)
    eve.expect_next("%s FAIL EDIT EDIT_FORBIDDEN #room %s :Only the sender may edit a message" % (S, msgid))
    eve.send("REDACT #room %s" % msgid)
    eve.expect_next("%s FAIL REDACT REDACT_FORBIDDEN #room %s :You are not allowed to redact this message"
                    % (S, msgid))
    hs(eve, "DELETE #room %s" % msgid)
    eve.expect_next("%s NOTICE alice :You may only delete your own messages." % HS)
    # The direct message is not even hers to find.
    eve.send("EDIT bob %s :eve was here" % dm.tags["msgid"])
    eve.expect_next("%s FAIL EDIT UNKNOWN_MSGID bob %s :This message does not exist" % (S, dm.tags["msgid"]))
    eve.send("REDACT bob %s" % dm.tags["msgid"])
    eve.expect_next("%s FAIL REDACT UNKNOWN_MSGID bob %s :This message does not exist or is too old"
                    % (S, dm.tags["msgid"]))
    quiet(eve, bob)
    assert texts(chathistory(bob, "LATEST", "#room", "*", 10)) == ["I wrote this, edited"]
    # Her own message she may edit and redact.
    own = say(eve, "#room", "eve's own")
    eve.send("EDIT #room %s :eve's own, edited" % own.tags["msgid"])
    eve.expect_next(lambda l: l.command == "EDIT")
    eve.send("REDACT #room %s" % own.tags["msgid"])
    eve.expect_next(lambda l: l.command == "REDACT")
    settle(bob)
    assert texts(chathistory(bob, "LATEST", "#room", "*", 10)) == ["I wrote this, edited"]


def test_markread_of_guests(make_server, backend):
    srv = start(make_server, backend)
    CAPS = ["draft/read-marker"]
    bob = srv.connect("bob", caps=CAPS)
    join(bob, "#room")
    anon = srv.connect("anon", caps=CAPS)
    stamp = "timestamp=2024-01-02T03:04:05.678Z"
    # Not in the channel: refused, set or get.
    for args in ("#room " + stamp, "#nowhere " + stamp):
        anon.send("MARKREAD " + args)
        chan = args.split()[0]
        anon.expect_next("%s FAIL MARKREAD INVALID_PARAMS %s :You are not in that channel" % (S, chan))
    # Reading is harmless: a guest only ever reads what its own connection set (as
    # irctest's testGetNoReadMarker expects of any target without a marker).
    anon.send("MARKREAD #room")
    anon.expect_next("%s MARKREAD #room *" % S)
    # In it: the marker lasts for the connection, and is never stored.
    lines = join(anon, "#room", bob)
    assert "%s MARKREAD #room *" % S in lines, lines
    anon.send("MARKREAD #room " + stamp)
    anon.expect_next("%s MARKREAD #room %s" % (S, stamp))
    anon.send("MARKREAD bob " + stamp)
    anon.expect_next("%s MARKREAD bob %s" % (S, stamp))
    quiet(anon, bob)
    quit_all(anon)
    settle(bob)  # anon's QUIT
    later = srv.connect("anon", caps=CAPS)
    lines = join(later, "#room", bob)
    assert "%s MARKREAD #room *" % S in lines, lines
    later.send("MARKREAD bob")
    later.expect_next("%s MARKREAD bob *" % S)
    assert backend.query("SELECT account_key, target_key FROM read_markers") == []
    quiet(later, bob)


def test_markread_of_guests_is_bounded(make_server, backend):
    """A guest keeps at most 128 markers (the least recently set is forgotten first), so
    naming nick after nick cannot fill the server's memory; they go when it quits."""
    srv = start(make_server, backend)
    CAPS = ["draft/read-marker"]
    anon = srv.connect("anon", caps=CAPS)
    stamp = "timestamp=2024-01-02T03:04:05.678Z"
    names = ["n%d" % i for i in range(129)]
    anon.send_raw("".join("MARKREAD %s %s\r\n" % (n, stamp) for n in names).encode())
    for n in names:
        anon.expect_next("%s MARKREAD %s %s" % (S, n, stamp))
    anon.send("MARKREAD n0")
    anon.expect_next("%s MARKREAD n0 *" % S)
    for n in ("n1", "N128"):
        anon.send("MARKREAD " + n)
        anon.expect_next("%s MARKREAD %s %s" % (S, n, stamp))
    # reading n1 did not refresh it: setting n0 again forgets n1, the least recently set
    anon.send("MARKREAD n0 " + stamp)
    anon.expect_next("%s MARKREAD n0 %s" % (S, stamp))
    anon.send("MARKREAD n1")
    anon.expect_next("%s MARKREAD n1 *" % S)
    anon.send("MARKREAD n2")
    anon.expect_next("%s MARKREAD n2 %s" % (S, stamp))
    quit_all(anon)
    later = srv.connect("anon", caps=CAPS)
    for n in ("n0", "n128"):
        later.send("MARKREAD " + n)
        later.expect_next("%s MARKREAD %s *" % (S, n))
    quiet(later)


def test_search_from_is_no_pattern(make_server, backend):
    """SEARCH from=a_c: '_' is a LIKE wildcard, and abc is someone else. A repro on both
    backends: before the pattern was escaped (ecdad00^), from=a_c returned abc's message
    too, on SQLite (FTS5 join, `m.sender LIKE 'a_c!%'`) as on MariaDB."""
    srv = start(make_server, backend)
    abc = srv.connect("abc", caps=ECHO)
    join(abc, "#room")
    a_c = srv.connect("a_c", caps=SEARCHER)
    join(a_c, "#room", abc)
    say(abc, "#room", "lunch by abc")
    mine = say(a_c, "#room", "lunch by a_c")
    settle(abc, a_c)
    for who, want in (("a_c", [mine]), ("A_C", [mine]), ("a%", []), ("___", [])):
        a_c.send("SEARCH in=#room;from=%s;text=lunch" % who)
        line = a_c.expect_next(lambda l: True)
        if line.command == "FAIL":  # not a nick at all
            assert who == "a%" and line.params[:2] == ["SEARCH", "INVALID_PARAMS"], line
            continue
        assert line.command == "BATCH", line
        rest = a_c.read_until(lambda l: l.command == "BATCH")
        assert ids(rest[:-1]) == ids(want), (who, rest)
