"""The IRCv3 message layer on channels and private messages: echo-message, msgid,
server-time, labeled-response with echoes, client tags and TAGMSG, extended-join, bot
mode, account-tag and account-notify."""

import re

import pytest

from chanutil import (FAST_ACCOUNTS, S, check_time_tag, join, mask, num, quiet, register_account,
                      set_modes, strip_tags, sync)
from conftest import escape_tag_value

TAGS = ["message-tags"]
ALL = ["message-tags", "server-time", "echo-message"]


def room(server, specs):
    """specs: [(nick, caps)]; connects them and joins all to #room (first is op)."""
    clients = []
    for nick, caps in specs:
        c = server.connect(nick, caps=caps)
        join(c, "#room", *clients)
        clients.append(c)
    return clients


# --- msgid, server-time, echo-message ------------------------------------------------------


def test_msgid_identical_for_all_recipients_and_echo(server):
    alice, bob, carol, dave = room(server, [("alice", ALL), ("bob", TAGS), ("carol", ["message-tags", "server-time"]),
                                            ("dave", None)])
    alice.send("PRIVMSG #room :tagged hello")
    body = ":%s PRIVMSG #room :tagged hello" % mask("alice")
    echo = alice.expect_next(lambda l: strip_tags(l) == body)
    b = bob.expect_next(lambda l: strip_tags(l) == body)
    c = carol.expect_next(lambda l: strip_tags(l) == body)
    dave.expect_next(body)
    msgid = echo.tags["msgid"]
    assert re.fullmatch(r"[0-9A-Za-z_-]+", msgid) and len(msgid) >= 8, msgid
    assert b == "@msgid=%s %s" % (msgid, body)
    assert c.tags["msgid"] == msgid and set(c.tags) == {"msgid", "time"}
    assert echo.tags["time"] == c.tags["time"]
    assert set(echo.tags) == {"msgid", "time"}
    check_time_tag(c.tags["time"])
    quiet(alice, bob, carol, dave)


def test_msgid_unique_and_increasing(server):
    alice, bob = room(server, [("alice", None), ("bob", TAGS)])
    for i in range(20):
        alice.send("PRIVMSG #room :m%d" % i)
    ids = [bob.getline().tags["msgid"] for _ in range(20)]
    assert len(set(ids)) == 20
    assert ids == sorted(ids), ids


def test_server_time_keeps_up_with_a_burst(make_server):
    # a server with no connect block gives its msgids the whole 12-bit counter: thousands of
    # messages in a few milliseconds keep their real time (with 16 a millisecond, 3,000
    # would be stamped up to ~190 ms in the future)
    import calendar
    import time
    srv = make_server(flood_enabled=False)
    alice = srv.connect("alice", caps=ALL)
    join(alice, "#burst")
    n = 3000
    alice.send_raw("".join("PRIVMSG #burst :%d\r\n" % i for i in range(n)).encode())
    echoes = [alice.expect(lambda l: l.command == "PRIVMSG") for _ in range(n)]
    now = time.time()
    assert [l.params[1] for l in echoes] == [str(i) for i in range(n)]
    ids = [l.tags["msgid"] for l in echoes]
    assert len(set(ids)) == n and ids == sorted(ids)

    def stamp(value):
        return calendar.timegm(time.strptime(value[:19], "%Y-%m-%dT%H:%M:%S")) + int(value[20:23]) / 1000
    ahead = max(stamp(l.tags["time"]) for l in echoes) - now
    assert ahead < 0.03, "time tags ran %.3f s ahead of the clock" % ahead


def test_server_time_without_message_tags_has_no_msgid(server):
    alice, bob = room(server, [("alice", None), ("bob", ["server-time"])])
    alice.send("PRIVMSG #room :timed")
    line = bob.expect_next(lambda l: strip_tags(l) == ":%s PRIVMSG #room :timed" % mask("alice"))
    assert set(line.tags) == {"time"}
    assert re.fullmatch(r"@time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z :.*", line), line
    check_time_tag(line.tags["time"])


def test_server_time_on_join_part_and_other_events(server):
    alice, bob = room(server, [("alice", ["server-time"]), ("bob", None)])
    bob.send("PART #room :bye")
    line = alice.expect_next(lambda l: strip_tags(l) == ":%s PART #room :bye" % mask("bob"))
    check_time_tag(line.tags["time"])


@pytest.mark.parametrize("cmd", ["PRIVMSG", "NOTICE"])
def test_echo_message_to_user(server, cmd):
    alice = server.connect("alice", caps=["echo-message", "message-tags"])
    bob = server.connect("bob", caps=["message-tags"])
    alice.send("%s bob :private echo" % cmd)
    body = ":%s %s bob :private echo" % (mask("alice"), cmd)
    echo = alice.expect_next(lambda l: strip_tags(l) == body)
    got = bob.expect_next(lambda l: strip_tags(l) == body)
    assert echo.tags["msgid"] == got.tags["msgid"]
    quiet(alice, bob)


def test_echo_message_without_tags_is_plain(server):
    alice, bob = room(server, [("alice", ["echo-message"]), ("bob", None)])
    alice.send("PRIVMSG #room :plain echo")
    alice.expect_next(":%s PRIVMSG #room :plain echo" % mask("alice"))
    bob.expect_next(":%s PRIVMSG #room :plain echo" % mask("alice"))


def test_no_echo_when_message_refused(server):
    alice, bob = room(server, [("alice", None), ("bob", ["echo-message"])])
    set_modes(alice, "#room", "+m", bob)
    bob.send("PRIVMSG #room :muted")
    bob.expect_next(num("404", "bob", "#room :Cannot send to channel"))
    bob.send("PRIVMSG nobody :x")
    bob.expect_next(num("401", "bob", "nobody :No such nick/channel"))
    quiet(bob, alice)


def test_echo_message_statusmsg(server):
    alice, bob, carol = room(server, [("alice", None), ("bob", None), ("carol", ["echo-message"])])
    carol.send("PRIVMSG @#room :ops only")
    line = ":%s PRIVMSG @#room :ops only" % mask("carol")
    carol.expect_next(line)
    alice.expect_next(line)
    quiet(carol, alice, bob)


# --- labeled-response with messages --------------------------------------------------------


def test_labeled_privmsg_with_echo_is_the_labeled_line(server):
    alice, bob = room(server, [("alice", ["echo-message", "message-tags", "labeled-response", "batch"]),
                               ("bob", TAGS)])
    alice.send("@label=pm1 PRIVMSG #room :labeled")
    body = ":%s PRIVMSG #room :labeled" % mask("alice")
    echo = alice.expect_next(lambda l: strip_tags(l) == body)
    assert echo.tags == {"label": "pm1", "msgid": echo.tags["msgid"]}, echo
    got = bob.expect_next(lambda l: strip_tags(l) == body)
    # the recipient gets no label, and the same msgid
    assert got == "@msgid=%s %s" % (echo.tags["msgid"], body)
    quiet(alice, bob)


def test_labeled_privmsg_without_echo_gets_ack(server):
    alice, bob = room(server, [("alice", ["labeled-response", "batch"]), ("bob", None)])
    alice.send("@label=pm2 PRIVMSG #room :no echo")
    alice.expect_next("@label=pm2 %s ACK" % S)
    bob.expect_next(":%s PRIVMSG #room :no echo" % mask("alice"))
    quiet(alice, bob)


def test_labeled_privmsg_error(server):
    alice = server.connect("alice", caps=["labeled-response", "echo-message"])
    alice.send("@label=pm3 PRIVMSG nobody :x")
    alice.expect_next("@label=pm3 %s" % num("401", "alice", "nobody :No such nick/channel"))


def test_labeled_privmsg_to_away_user_is_a_batch(server):
    alice = server.connect("alice", caps=["labeled-response", "batch", "echo-message"])
    bob = server.connect("bob")
    bob.send("AWAY :afk")
    bob.expect(lambda l: l.command == "306")
    alice.send("@label=pm4 PRIVMSG bob :you there?")
    start = alice.expect_next(re.compile(r"^@label=pm4 %s BATCH \+(\S+) labeled-response$" % re.escape(S)))
    ref = start.match.group(1)
    lines = alice.read_until(lambda l: l.command == "BATCH")
    assert lines[-1] == "%s BATCH -%s" % (S, ref)
    assert sorted(lines[:-1]) == sorted([
        "@batch=%s %s" % (ref, num("301", "alice", "bob :afk")),
        "@batch=%s :%s PRIVMSG bob :you there?" % (ref, mask("alice")),
    ])
    bob.expect_next(":%s PRIVMSG bob :you there?" % mask("alice"))


def test_labeled_privmsg_to_self_delivered_copy_is_not_labeled(server):
    # labeled-response: "When a client sends a message to itself, the server MUST NOT
    # include the label tag, except for any acknowledgment sent with echo-message."
    alice = server.connect("alice", caps=["labeled-response", "batch"])
    alice.send("@label=self1 PRIVMSG alice :note to self")
    lines = sync(alice)
    assert sorted(lines) == sorted([
        "@label=self1 %s ACK" % S,
        ":%s PRIVMSG alice :note to self" % mask("alice"),
    ]), lines


def test_labeled_privmsg_to_self_with_echo(server):
    alice = server.connect("alice", caps=["labeled-response", "batch", "echo-message", "message-tags"])
    alice.send("@label=self2 PRIVMSG alice :note to self")
    lines = sync(alice)
    body = ":%s PRIVMSG alice :note to self" % mask("alice")
    assert len(lines) == 2, lines
    echo = [l for l in lines if "label" in l.tags]
    delivered = [l for l in lines if "label" not in l.tags]
    assert len(echo) == 1 and len(delivered) == 1, lines
    msgid = delivered[0].tags.get("msgid")
    assert echo[0] == "@label=self2;msgid=%s %s" % (msgid, body), lines
    assert delivered[0] == "@msgid=%s %s" % (msgid, body), lines


# --- client tags and TAGMSG ----------------------------------------------------------------


def test_client_tags_relayed_only_with_message_tags(server):
    alice, bob, carol = room(server, [("alice", ALL), ("bob", TAGS), ("carol", None)])
    alice.send("@+draft/reply=abc123;+example.com/custom=a\\sb\\:c PRIVMSG #room :a reply")
    body = ":%s PRIVMSG #room :a reply" % mask("alice")
    echo = alice.expect_next(lambda l: strip_tags(l) == body)
    got = bob.expect_next(lambda l: strip_tags(l) == body)
    carol.expect_next(body)
    for l in (echo, got):
        assert l.tags["+draft/reply"] == "abc123"
        assert l.tags["+example.com/custom"] == "a b;c"
    assert got == "@msgid=%s;+draft/reply=abc123;+example.com/custom=a\\sb\\:c %s" % (got.tags["msgid"], body)
    quiet(alice, bob, carol)


def test_server_tags_from_clients_are_not_relayed(server):
    alice, bob = room(server, [("alice", TAGS), ("bob", TAGS)])
    alice.send("@msgid=forged;time=2000-01-01T00:00:00.000Z;account=admin;bot;foo=bar PRIVMSG #room :sneaky")
    got = bob.expect_next(lambda l: strip_tags(l) == ":%s PRIVMSG #room :sneaky" % mask("alice"))
    assert set(got.tags) == {"msgid"}, got
    assert got.tags["msgid"] != "forged"


def test_tagmsg_react_only_to_message_tags_clients(server):
    alice, bob, carol = room(server, [("alice", ALL), ("bob", TAGS), ("carol", None)])
    alice.send("PRIVMSG #room :react to me")
    target = bob.getline().tags["msgid"]
    alice.getline()
    carol.getline()
    react = "\U0001F44D"
    alice.send("@+draft/react=%s;+draft/reply=%s TAGMSG #room" % (react, target))
    body = ":%s TAGMSG #room" % mask("alice")
    echo = alice.expect_next(lambda l: strip_tags(l) == body)
    got = bob.expect_next(lambda l: strip_tags(l) == body)
    for l in (echo, got):
        assert l.tags["+draft/react"] == react
        assert l.tags["+draft/reply"] == target
    assert echo.tags["msgid"] == got.tags["msgid"] != target
    quiet(alice, bob, carol)


def test_tagmsg_to_user(server):
    alice = server.connect("alice", caps=TAGS)
    bob = server.connect("bob", caps=TAGS)
    carol = server.connect("carol")
    alice.send("@+typing=active TAGMSG bob")
    got = bob.expect_next(lambda l: strip_tags(l) == ":%s TAGMSG bob" % mask("alice"))
    assert got.tags["+typing"] == "active"
    # a client without message-tags never sees TAGMSG
    alice.send("@+typing=active TAGMSG carol")
    quiet(alice, bob, carol)


def test_tagmsg_errors(server):
    alice = server.connect("alice", caps=TAGS)
    alice.send("@+typing=active TAGMSG nobody")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))
    alice.send("@+typing=active TAGMSG")
    alice.expect_next(num("411", "alice", ":No recipient given (TAGMSG)"))


def test_client_tag_data_too_long_417(server):
    alice, bob = room(server, [("alice", TAGS), ("bob", TAGS)])
    alice.send("@+big=%s PRIVMSG #room :too much" % ("x" * 4100))
    alice.expect_next(num("417", "alice", ":Input line was too long"))
    quiet(alice, bob)


def test_emoji_in_tag_values(server):
    alice, bob = room(server, [("alice", TAGS), ("bob", TAGS)])
    value = "caf\u00e9 \U0001F389;done"
    alice.send("@+example/v=%s TAGMSG #room" % escape_tag_value(value))
    got = bob.expect_next(lambda l: l.command == "TAGMSG")
    assert got.tags["+example/v"] == value


# --- extended-join, bot, account-tag, account-notify ----------------------------------------


def test_extended_join(server):
    alice = server.connect("alice", caps=["extended-join"])
    plain = server.connect("plain")
    join(alice, "#room")
    join(plain, "#room", alice)
    bob = server.connect("bob", realname="Bob R. Name")
    bob.send("JOIN #room")
    alice.expect_next(":%s JOIN #room * :Bob R. Name" % mask("bob"))
    plain.expect_next(":%s JOIN #room" % mask("bob"))


def test_extended_join_own_join(server):
    alice = server.connect("alice", caps=["extended-join"])
    alice.send("JOIN #room")
    alice.expect_next(":%s JOIN #room * :Parley Tester" % mask("alice"))


def test_extended_join_with_account(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice", caps=["extended-join"])
    join(alice, "#room")
    bob = srv.connect("bob")
    register_account(bob)
    bob.send("JOIN #room")
    alice.expect_next(":%s JOIN #room bob :Parley Tester" % mask("bob"))


def test_bot_tag(server):
    alice, bob, carol = room(server, [("robot", None), ("bob", TAGS), ("carol", None)])
    alice.send("MODE robot +B")
    alice.expect_next(":%s MODE robot :+B" % mask("robot"))
    alice.send("PRIVMSG #room :beep boop")
    body = ":%s PRIVMSG #room :beep boop" % mask("robot")
    got = bob.expect_next(lambda l: strip_tags(l) == body)
    assert got.tags == {"msgid": got.tags["msgid"], "bot": ""}, got
    carol.expect_next(body)
    alice.send("NOTICE bob :beep")
    got = bob.expect_next(lambda l: strip_tags(l) == ":%s NOTICE bob :beep" % mask("robot"))
    assert "bot" in got.tags
    # not a bot any more
    alice.send("MODE robot -B")
    alice.expect_next(":%s MODE robot :-B" % mask("robot"))
    alice.send("PRIVMSG #room :human again")
    got = bob.expect_next(lambda l: strip_tags(l) == ":%s PRIVMSG #room :human again" % mask("robot"))
    assert "bot" not in got.tags


def test_account_tag(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice, bob, carol = room(srv, [("alice", None), ("bob", ["account-tag"]),
                                   ("carol", ["account-tag", "message-tags"])])
    alice.send("PRIVMSG #room :before login")
    bob.expect_next(":%s PRIVMSG #room :before login" % mask("alice"))
    got = carol.expect_next(lambda l: l.command == "PRIVMSG")
    assert "account" not in got.tags
    register_account(alice)
    alice.send("PRIVMSG #room :after login")
    body = ":%s PRIVMSG #room :after login" % mask("alice")
    bob.expect_next("@account=alice " + body)
    got = carol.expect_next(lambda l: strip_tags(l) == body)
    assert got.tags == {"account": "alice", "msgid": got.tags["msgid"]}
    alice.send("PRIVMSG bob :private")
    bob.expect_next("@account=alice :%s PRIVMSG bob :private" % mask("alice"))


def test_account_tag_on_every_command_of_a_logged_in_user(make_server):
    # account-tag: "The tag MUST be added by the ircd to all commands sent by a user
    # (e.g. PRIVMSG, MODE, NOTICE, and all others)."
    srv = make_server(sections=FAST_ACCOUNTS)
    watcher = srv.connect("watcher", caps=["account-tag"])
    bob = srv.connect("bob")
    register_account(bob)
    join(watcher, "#room")
    bob.send("JOIN #room")
    watcher.expect_next("@account=bob :%s JOIN #room" % mask("bob"))
    bob.read_until(lambda l: l.command == "366")
    set_modes(watcher, "#room", "+o bob", bob)
    bob.send("TOPIC #room :tagged topic")
    watcher.expect_next("@account=bob :%s TOPIC #room :tagged topic" % mask("bob"))
    bob.send("MODE #room +m")
    watcher.expect_next("@account=bob :%s MODE #room +m" % mask("bob"))
    bob.send("NICK bobby")
    watcher.expect_next("@account=bob :%s NICK :bobby" % mask("bob"))
    bob.send("PART #room :leaving")
    watcher.expect_next("@account=bob :%s PART #room :leaving" % mask("bobby", user="bob"))


def test_account_notify(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice, bob, carol = room(srv, [("alice", ["account-notify"]), ("bob", ["account-notify"]), ("carol", None)])
    outsider = srv.connect("outsider", caps=["account-notify"])
    bob.send("PRIVMSG NickServ :REGISTER hunter2hunter2")
    line = ":%s ACCOUNT bob" % mask("bob")
    lines = bob.read_until(lambda l: l.command == "ACCOUNT")
    assert lines == [
        ":NickServ!NickServ@services. NOTICE bob :Account bob registered. You are now logged in.",
        num("900", "bob", "%s bob :You are now logged in as bob" % mask("bob")),
        line,
    ]
    alice.expect_next(line)
    quiet(bob, alice, carol, outsider)


def test_caps_advertised(server):
    c = server.client()
    caps = c.cap_ls()
    for name in ("message-tags", "server-time", "echo-message", "labeled-response", "batch", "multi-prefix",
                 "userhost-in-names", "extended-join", "away-notify", "account-notify", "account-tag",
                 "invite-notify", "setname"):
        assert name in caps, name
