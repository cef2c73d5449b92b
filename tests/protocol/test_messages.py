"""PRIVMSG and NOTICE: channels, users, several targets, STATUSMSG, the channel modes
that restrict speaking, error replies (and their absence for NOTICE), AWAY, UTF-8,
and ordering under a burst."""

import pytest

from chanutil import (FAST_ACCOUNTS, check_time_tag, isupport, join, mask, num, quiet, register_account,
                      set_modes, sync)


def room(server, *nicks, caps=None):
    """Connects nicks (the first is op) and joins them all to #room."""
    clients = []
    for n in nicks:
        c = server.connect(n, caps=caps)
        join(c, "#room", *clients)
        clients.append(c)
    return clients


# --- basic delivery ------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", ["PRIVMSG", "NOTICE"])
def test_message_to_channel(server, cmd):
    alice, bob, carol = room(server, "alice", "bob", "carol")
    outsider = server.connect("outsider")
    alice.send("%s #room :hello, everyone: how are you?" % cmd)
    line = ":%s %s #room :hello, everyone: how are you?" % (mask("alice"), cmd)
    bob.expect_next(line)
    carol.expect_next(line)
    # no echo without echo-message
    quiet(alice, bob, carol, outsider)


@pytest.mark.parametrize("cmd", ["PRIVMSG", "NOTICE"])
def test_message_to_user(server, cmd):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    alice.send("%s bob :psst" % cmd)
    bob.expect_next(":%s %s bob :psst" % (mask("alice"), cmd))
    quiet(alice, bob, carol)


def test_message_target_case_insensitive(server):
    alice, bob = room(server, "alice", "Bob[1]")
    alice.send("PRIVMSG bob{1} :nick in other case")
    # the target is written as the sender gave it
    bob.expect_next(":%s PRIVMSG bob{1} :nick in other case" % mask("alice"))
    alice.send("PRIVMSG #ROOM :channel in other case")
    bob.expect_next(":%s PRIVMSG #ROOM :channel in other case" % mask("alice"))


def test_message_to_self(server):
    alice = server.connect("alice")
    alice.send("PRIVMSG alice :note to self")
    alice.expect_next(":%s PRIVMSG alice :note to self" % mask("alice"))
    quiet(alice)


def test_message_single_word_without_colon(server):
    alice, bob = room(server, "alice", "bob")
    alice.send("PRIVMSG #room hello")
    bob.expect_next(":%s PRIVMSG #room :hello" % mask("alice"))


def test_message_several_targets_and_targmax(server):
    alice, bob, carol = room(server, "alice", "bob", "carol")
    dave = server.connect("dave")
    eve = server.connect("eve")
    alice.send("PRIVMSG dave,#room,eve :to all of you")
    dave.expect_next(":%s PRIVMSG dave :to all of you" % mask("alice"))
    eve.expect_next(":%s PRIVMSG eve :to all of you" % mask("alice"))
    for c in (bob, carol):
        c.expect_next(":%s PRIVMSG #room :to all of you" % mask("alice"))
    quiet(alice, bob, carol, dave, eve)
    # TARGMAX=PRIVMSG:4: the fifth target is refused with 407
    alice.send("PRIVMSG dave,eve,bob,carol,#room :five")
    for c in (dave, eve, bob, carol):
        c.expect_next(":%s PRIVMSG %s :five" % (mask("alice"), c.nick))
    alice.expect_next(num("407", "alice", "#room :Too many targets"))
    quiet(alice, bob, carol, dave, eve)


def test_isupport_targmax(server):
    c = server.client()
    tokens = isupport(c.register("alice"))
    targmax = dict(item.split(":") for item in tokens["TARGMAX"].split(","))
    assert targmax["PRIVMSG"] == "4" and targmax["NOTICE"] == "4" and targmax["TAGMSG"] == "4"
    assert tokens["MAXTARGETS"] == "4"


def test_long_message_is_cut_at_512_bytes(server):
    alice, bob = room(server, "alice", "bob")
    text = "x" * 490
    alice.send("PRIVMSG #room :" + text)
    line = bob.getline()
    full = ":%s PRIVMSG #room :%s" % (mask("alice"), text)
    assert line == full[:510]
    assert len(line.raw) == 510


def test_long_message_is_cut_on_a_character_boundary(server):
    alice, bob = room(server, "alice", "bob")
    text = "a" + "\U0001F600" * 123  # 493 bytes: the client's line fits in 512
    alice.send("PRIVMSG #room :" + text)
    line = bob.getline()
    line.raw.decode("utf-8")  # strict: no half character at the end
    assert line == ":%s PRIVMSG #room :a%s" % (mask("alice"), "\U0001F600" * 117)


# --- STATUSMSG -----------------------------------------------------------------------------


def statusmsg_room(server):
    op, voiced, plain = room(server, "op", "voiced", "plain")
    set_modes(op, "#room", "+v voiced", voiced, plain)
    op2 = server.connect("op2")
    join(op2, "#room", op, voiced, plain)
    set_modes(op, "#room", "+o op2", voiced, plain, op2)
    return op, voiced, plain, op2


def test_statusmsg_ops(server):
    op, voiced, plain, op2 = statusmsg_room(server)
    plain.send("PRIVMSG @#room :for the ops")
    line = ":%s PRIVMSG @#room :for the ops" % mask("plain")
    op.expect_next(line)
    op2.expect_next(line)
    quiet(plain, op, op2, voiced)


def test_statusmsg_voiced_and_ops(server):
    op, voiced, plain, op2 = statusmsg_room(server)
    op.send("NOTICE +#room :for voiced and ops")
    line = ":%s NOTICE +#room :for voiced and ops" % mask("op")
    voiced.expect_next(line)
    op2.expect_next(line)
    quiet(op, voiced, op2, plain)


def test_statusmsg_nonexistent_channel(server):
    alice = server.connect("alice")
    alice.send("PRIVMSG @#nowhere :x")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))


# --- errors --------------------------------------------------------------------------------


def test_errors_401_403_411_412(server):
    alice = server.connect("alice")
    alice.send("PRIVMSG nobody :hi")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))
    alice.send("PRIVMSG #nowhere :hi")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))
    alice.send("PRIVMSG")
    alice.expect_next(num("411", "alice", ":No recipient given (PRIVMSG)"))
    alice.send("PRIVMSG :")
    alice.expect_next(num("411", "alice", ":No recipient given (PRIVMSG)"))
    alice.send("PRIVMSG alice")
    alice.expect_next(num("412", "alice", ":No text to send"))
    alice.send("PRIVMSG alice :")
    alice.expect_next(num("412", "alice", ":No text to send"))
    quiet(alice)


def test_error_for_one_target_does_not_stop_the_others(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    alice.send("PRIVMSG nobody,bob :hi")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))
    bob.expect_next(":%s PRIVMSG bob :hi" % mask("alice"))


def test_no_external_messages_404(server):
    alice, bob = room(server, "alice", "bob")
    outsider = server.connect("outsider")
    outsider.send("PRIVMSG #room :let me in")
    outsider.expect_next(num("404", "outsider", "#room :Cannot send to channel"))
    quiet(outsider, alice, bob)
    # -n: outsiders may speak
    set_modes(alice, "#room", "-n", bob)
    outsider.send("PRIVMSG #room :from outside")
    line = ":%s PRIVMSG #room :from outside" % mask("outsider")
    alice.expect_next(line)
    bob.expect_next(line)


def test_moderated_404_for_unvoiced(server):
    alice, bob, carol = room(server, "alice", "bob", "carol")
    set_modes(alice, "#room", "+m", bob, carol)
    set_modes(alice, "#room", "+v carol", bob, carol)
    bob.send("PRIVMSG #room :can I talk?")
    bob.expect_next(num("404", "bob", "#room :Cannot send to channel"))
    quiet(bob, alice, carol)
    carol.send("PRIVMSG #room :voiced")
    alice.expect_next(":%s PRIVMSG #room :voiced" % mask("carol"))
    bob.expect_next(":%s PRIVMSG #room :voiced" % mask("carol"))
    alice.send("PRIVMSG #room :op")
    bob.expect_next(":%s PRIVMSG #room :op" % mask("alice"))
    carol.expect_next(":%s PRIVMSG #room :op" % mask("alice"))


def test_moderated_blocks_outsiders_even_without_n(server):
    alice, bob = room(server, "alice", "bob")
    outsider = server.connect("outsider")
    set_modes(alice, "#room", "+m-n", bob)
    outsider.send("PRIVMSG #room :hi")
    outsider.expect_next(num("404", "outsider", "#room :Cannot send to channel"))


def test_banned_member_cannot_speak(server):
    alice, bob, carol = room(server, "alice", "bob", "carol")
    set_modes(alice, "#room", "+b bob!*@*", bob, carol)
    bob.send("PRIVMSG #room :am I muted?")
    bob.expect_next(num("404", "bob", "#room :Cannot send to channel"))
    quiet(bob, alice, carol)
    # voice overrides the ban
    set_modes(alice, "#room", "+v bob", bob, carol)
    bob.send("PRIVMSG #room :voiced now")
    carol.expect_next(":%s PRIVMSG #room :voiced now" % mask("bob"))
    # and so does an exception
    set_modes(alice, "#room", "-v bob", bob, carol)
    set_modes(alice, "#room", "+e bob!*@*", bob, carol)
    bob.send("PRIVMSG #room :excepted")
    carol.expect_next(":%s PRIVMSG #room :excepted" % mask("bob"))


def test_notice_never_gets_error_replies(server):
    alice, bob = room(server, "alice", "bob")
    outsider = server.connect("outsider")
    set_modes(alice, "#room", "+m", bob)
    for line in ("NOTICE nobody :hi", "NOTICE #nowhere :hi", "NOTICE", "NOTICE :", "NOTICE bob",
                 "NOTICE bob :", "NOTICE @#nowhere :x"):
        outsider.send(line)
    outsider.send("NOTICE #room :outside")
    bob.send("NOTICE #room :unvoiced")
    quiet(outsider, bob, alice)


def test_notice_beyond_targmax_gets_no_407(server):
    alice = server.connect("alice")
    targets = [server.connect("t%d" % i) for i in range(5)]
    alice.send("NOTICE t0,t1,t2,t3,t4 :five")
    for t in targets[:4]:
        t.expect_next(":%s NOTICE %s :five" % (mask("alice"), t.nick))
    # NOTICE never causes an error reply, ERR_TOOMANYTARGETS included
    quiet(alice, *targets)


def test_message_to_plus_R_user_needs_account(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    alice.send("MODE alice +R")
    alice.expect_next(":%s MODE alice :+R" % mask("alice"))
    bob.send("PRIVMSG alice :hello?")
    bob.expect_next(num("531", "bob", "alice :You must be logged into an account to send messages to this user"))
    bob.send("NOTICE alice :hello?")
    quiet(bob, alice)
    register_account(bob)
    bob.send("PRIVMSG alice :logged in now")
    alice.expect_next(":%s PRIVMSG alice :logged in now" % mask("bob"))


# --- AWAY ----------------------------------------------------------------------------------


def test_away_301_305_306(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    bob.send("AWAY :out to lunch")
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    alice.send("PRIVMSG bob :are you there?")
    bob.expect_next(":%s PRIVMSG bob :are you there?" % mask("alice"))
    alice.expect_next(num("301", "alice", "bob :out to lunch"))
    # NOTICE does not trigger the away reply
    alice.send("NOTICE bob :fyi")
    bob.expect_next(":%s NOTICE bob :fyi" % mask("alice"))
    quiet(alice)
    bob.send("AWAY")
    bob.expect_next(num("305", "bob", ":You are no longer marked as being away"))
    alice.send("PRIVMSG bob :back?")
    bob.expect_next(":%s PRIVMSG bob :back?" % mask("alice"))
    quiet(alice)
    bob.send("AWAY :again")
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    bob.send("AWAY :")
    bob.expect_next(num("305", "bob", ":You are no longer marked as being away"))


def test_away_message_cut_to_awaylen(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    bob.send("AWAY :" + "a" * 400)
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    alice.send("PRIVMSG bob :hi")
    alice.expect_next(num("301", "alice", "bob :" + "a" * 390))


def test_away_not_sent_for_channel_messages(server):
    alice, bob = room(server, "alice", "bob")
    bob.send("AWAY :busy")
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    alice.send("PRIVMSG #room :hi all")
    bob.expect_next(":%s PRIVMSG #room :hi all" % mask("alice"))
    quiet(alice)


def test_away_notify(server):
    alice = server.connect("alice", caps=["away-notify"])
    bob = server.connect("bob")
    carol = server.connect("carol", caps=["away-notify"])
    plain = server.connect("plain")
    join(alice, "#room")
    join(bob, "#room", alice)
    join(plain, "#room", alice, bob)
    bob.send("AWAY :gone")
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    alice.expect_next(":%s AWAY :gone" % mask("bob"))
    quiet(bob, alice, plain, carol)
    bob.send("AWAY")
    bob.expect_next(num("305", "bob", ":You are no longer marked as being away"))
    alice.expect_next(":%s AWAY" % mask("bob"))
    quiet(bob, alice, plain, carol)
    # an away user joining: away-notify members learn it right after the JOIN
    bob.send("AWAY :still gone")
    bob.expect_next(num("306", "bob", ":You have been marked as being away"))
    alice.expect_next(":%s AWAY :still gone" % mask("bob"))
    join(carol, "#room", alice, bob, plain)
    join(bob, "#other")
    join(alice, "#other", bob)
    join(carol, "#other", alice, bob)
    bob.send("PART #other")
    bob.expect_next(":%s PART #other" % mask("bob"))
    alice.expect_next(":%s PART #other" % mask("bob"))
    carol.expect_next(":%s PART #other" % mask("bob"))
    bob.send("JOIN #other")
    alice.expect_next(":%s JOIN #other" % mask("bob"))
    alice.expect_next(":%s AWAY :still gone" % mask("bob"))
    carol.expect_next(":%s JOIN #other" % mask("bob"))
    carol.expect_next(":%s AWAY :still gone" % mask("bob"))
    bob.read_until(lambda l: l.command == "366")
    quiet(bob, alice, carol, plain)


# --- UTF-8 ---------------------------------------------------------------------------------


def test_emoji_round_trip(server):
    alice, bob = room(server, "alice", "bob")
    text = "h\u00e9llo \U0001F44B\U0001F3FD \u4e16\u754c \u0645\u0631\u062d\u0628\u0627 \U0001F469\u200d\U0001F4BB"
    alice.send("PRIVMSG #room :" + text)
    line = bob.expect_next(":%s PRIVMSG #room :%s" % (mask("alice"), text))
    assert line.raw == (":%s PRIVMSG #room :%s" % (mask("alice"), text)).encode("utf-8")
    alice.send("PRIVMSG bob :" + text)
    bob.expect_next(":%s PRIVMSG bob :%s" % (mask("alice"), text))


@pytest.mark.parametrize("raw", [b"caf\xe9", b"\xff\xfe", b"bad \xc3", b"\xed\xa0\x80 surrogate",
                                 b"\xc0\xaf overlong"])
def test_invalid_utf8_rejected(server, raw):
    alice, bob = room(server, "alice", "bob")
    alice.send_raw(b"PRIVMSG #room :" + raw + b"\r\n")
    alice.expect_next(":irc.parley.test FAIL PRIVMSG INVALID_UTF8 :Message rejected, your IRC software "
                      "MUST use UTF-8 encoding on this network")
    alice.send_raw(b"PRIVMSG bob :" + raw + b"\r\n")
    alice.expect_next(lambda l: l.startswith(":irc.parley.test FAIL PRIVMSG INVALID_UTF8 "))
    quiet(alice, bob)


def test_invalid_utf8_notice_not_relayed(server):
    alice, bob = room(server, "alice", "bob")
    alice.send_raw(b"NOTICE #room :caf\xe9\r\n")
    sync(alice)
    quiet(bob)


@pytest.mark.parametrize("command", [
    b"TOPIC #room :caf\xe9",
    b"PART #room :caf\xe9",
    b"QUIT :caf\xe9",
    b"AWAY :caf\xe9",
    b"KICK #room carol :caf\xe9",
    b"SETNAME :caf\xe9",
    b"JOIN #caf\xe9",
])
def test_utf8only_no_invalid_utf8_relayed(server, command):
    # UTF8ONLY: "Servers publishing this token MUST NOT relay content (such as PRIVMSG
    # or NOTICE message data, channel topics, or realnames) containing non-UTF-8 data"
    caps = ["away-notify", "setname"]
    alice = server.connect("alice", caps=caps)
    bob = server.connect("bob", caps=caps)
    carol = server.connect("carol", caps=caps)
    join(alice, "#room")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    alice.send_raw(command + b"\r\n")
    if command.startswith(b"QUIT"):
        alice.expect_closed()
    else:
        sync(alice)
    bob.send("LIST")
    bob.send("TOPIC #room")
    for line in sync(bob):
        try:
            line.raw.decode("utf-8")
        except UnicodeDecodeError:
            raise AssertionError("non-UTF-8 content relayed after %r: %r" % (command, line))


# --- ordering under load -------------------------------------------------------------------


def test_burst_of_1000_to_50_members_in_order(make_server):
    srv = make_server(flood_enabled=False)
    tagged_caps = ["message-tags", "server-time"]
    sender = srv.connect("sender", caps=["echo-message", "message-tags", "server-time"])
    join(sender, "#burst")
    members = []
    for i in range(50):
        caps = tagged_caps if i % 2 == 0 else None
        c = srv.connect("m%02d" % i, caps=caps)
        c.send("JOIN #burst")
        c.expect(lambda l: l.command == "366")
        members.append(c)
    sync(sender)
    sender.drain()
    for c in members:
        sync(c)
        c.drain()
    n = 1000
    sender.send_raw("".join("PRIVMSG #burst :message %04d\r\n" % i for i in range(n)).encode())
    prefix = ":%s PRIVMSG #burst :message " % mask("sender")
    echo = [sender.getline(timeout=10) for _ in range(n)]
    ids = []
    for i, l in enumerate(echo):
        assert l.source == mask("sender") and l.params == ["#burst", "message %04d" % i], l
        ids.append(l.tags["msgid"])
        check_time_tag(l.tags["time"])
    assert len(set(ids)) == n
    for c, caps in zip(members, [tagged_caps if i % 2 == 0 else None for i in range(50)]):
        got = [c.getline(timeout=10) for _ in range(n)]
        for i, l in enumerate(got):
            if caps:
                assert l.startswith("@"), l
                assert l.tags["msgid"] == ids[i], (c, i, l)
                assert set(l.tags) == {"msgid", "time"}, l
                assert l.split(" ", 1)[1] == prefix + "%04d" % i, (c, i, l)
            else:
                assert l == prefix + "%04d" % i, (c, i, l)
    quiet(sender, *members)
