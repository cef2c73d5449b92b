"""Channels: JOIN, PART, TOPIC, NAMES, LIST, INVITE, KICK, the join refusals, and how
NICK and QUIT reach the members of common channels."""

import re
import time

import pytest

from chanutil import (FAST_ACCOUNTS, S, expect_names, join, mask, num, part, quiet, register_account,
                      set_modes, sync)
from conftest import HOST


def now_close(value, slack=30):
    return abs(int(value) - time.time()) < slack


# --- JOIN ----------------------------------------------------------------------------------


def test_join_creates_channel_first_joiner_is_op(server):
    alice = server.connect("alice")
    alice.send("JOIN #room")
    alice.expect_next(":%s JOIN #room" % mask("alice"))
    # no topic: no 331/332, straight to NAMES
    alice.expect_next(num("353", "alice", "= #room :@alice"))
    alice.expect_next(num("366", "alice", "#room :End of /NAMES list"))
    quiet(alice)


def test_new_channel_is_nt(server):
    alice = server.connect("alice")
    join(alice, "#room")
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +nt"))
    line = alice.expect_next(re.compile(r"^%s 329 alice #room (\d+)$" % re.escape(S)))
    assert now_close(line.match.group(1)), line


def test_second_joiner_gets_names_and_members_see_join(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    bob.send("JOIN #room")
    bob.expect_next(":%s JOIN #room" % mask("bob"))
    expect_names(bob, "#room", ["@alice", "bob"])
    alice.expect_next(":%s JOIN #room" % mask("bob"))
    quiet(bob, alice)


def test_join_sends_topic_332_333_before_names(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    alice.send("TOPIC #room :The topic of the day")
    alice.expect(":%s TOPIC #room :The topic of the day" % mask("alice"))
    bob.send("JOIN #room")
    bob.expect_next(":%s JOIN #room" % mask("bob"))
    bob.expect_next(num("332", "bob", "#room :The topic of the day"))
    line = bob.expect_next(re.compile(r"^%s 333 bob #room %s (\d+)$" % (re.escape(S), re.escape(mask("alice")))))
    assert now_close(line.match.group(1))
    expect_names(bob, "#room", ["@alice", "bob"])


def test_join_channel_name_is_case_insensitive(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#Room")
    bob.send("JOIN #ROOM")
    # the channel keeps the spelling of its creator
    bob.expect_next(":%s JOIN #Room" % mask("bob"))
    expect_names(bob, "#Room", ["@alice", "bob"])
    alice.expect_next(":%s JOIN #Room" % mask("bob"))


def test_join_several_channels_in_one_command(server):
    alice = server.connect("alice")
    alice.send("JOIN #one,#two,#three")
    for chan in ("#one", "#two", "#three"):
        alice.expect_next(":%s JOIN %s" % (mask("alice"), chan))
        alice.expect_next(num("353", "alice", "= %s :@alice" % chan))
        alice.expect_next(num("366", "alice", "%s :End of /NAMES list" % chan))
    quiet(alice)


def test_join_several_channels_with_keys(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    for chan, key in (("#k1", "one"), ("#k2", "two")):
        join(alice, chan)
        set_modes(alice, chan, "+k " + key)
    join(alice, "#open")
    # keys are matched to channels in order; a keyless channel at the end needs none
    bob.send("JOIN #k1,#k2,#open one,two")
    for chan in ("#k1", "#k2", "#open"):
        bob.expect_next(":%s JOIN %s" % (mask("bob"), chan))
        expect_names(bob, chan, ["@alice", "bob"])
    quiet(bob)


def test_join_several_channels_one_wrong_key(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    for chan, key in (("#k1", "one"), ("#k2", "two")):
        join(alice, chan)
        set_modes(alice, chan, "+k " + key)
    bob.send("JOIN #k1,#k2,#k1x one,wrong")
    bob.expect_next(":%s JOIN #k1" % mask("bob"))
    expect_names(bob, "#k1", ["@alice", "bob"])
    bob.expect_next(num("475", "bob", "#k2 :Cannot join channel (+k)"))
    # the third channel did not exist: bob creates it
    bob.expect_next(":%s JOIN #k1x" % mask("bob"))
    expect_names(bob, "#k1x", ["@bob"])
    quiet(bob)


def test_join_already_member_is_silent(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("JOIN #room")
    quiet(bob, alice)


@pytest.mark.parametrize("name", ["room", "#", "&room", "#" + "x" * 64])
def test_join_bad_channel_name_403(server, name):
    alice = server.connect("alice")
    alice.send("JOIN " + name)
    alice.expect_next(num("403", "alice", "%s :No such channel" % name))
    quiet(alice)


def test_join_list_with_a_bad_name(server):
    alice = server.connect("alice")
    alice.send("JOIN #good,bad,#fine")
    alice.expect_next(":%s JOIN #good" % mask("alice"))
    expect_names(alice, "#good", ["@alice"])
    alice.expect_next(num("403", "alice", "bad :No such channel"))
    alice.expect_next(":%s JOIN #fine" % mask("alice"))
    expect_names(alice, "#fine", ["@alice"])
    quiet(alice)


def test_join_without_params_461(server):
    alice = server.connect("alice")
    alice.send("JOIN")
    alice.expect_next(num("461", "alice", "JOIN :Not enough parameters"))


def test_join_too_many_channels_405(server):
    alice = server.connect("alice")
    for start in (0, 50):
        alice.send("JOIN " + ",".join("#c%d" % i for i in range(start, start + 50)))
    lines = alice.read_until(lambda l: l.command == "366" and l.params[1] == "#c99")
    assert len(lines) == 300, lines
    alice.send("JOIN #c100,#c1")
    alice.expect_next(num("405", "alice", "#c100 :You have joined too many channels"))
    # already on #c1: nothing
    quiet(alice)
    part(alice, "#c5")
    join(alice, "#c100")


def test_join_0_parts_every_channel(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#a")
    join(alice, "#b")
    join(bob, "#a", alice)
    join(bob, "#b", alice)
    bob.send("JOIN 0")
    got = [bob.getline(), bob.getline()]
    assert sorted(got) == [":%s PART #a" % mask("bob"), ":%s PART #b" % mask("bob")]
    got = [alice.getline(), alice.getline()]
    assert sorted(got) == [":%s PART #a" % mask("bob"), ":%s PART #b" % mask("bob")]
    quiet(bob, alice)
    bob.send("WHOIS bob")
    bob.expect_next(num("311", "bob", "bob bob %s * :Parley Tester" % HOST))
    # no 319: bob is on no channel any more
    bob.expect_next(lambda l: l.command == "312")


def test_join_0_with_no_channels_is_silent(server):
    alice = server.connect("alice")
    alice.send("JOIN 0")
    quiet(alice)


# --- PART ----------------------------------------------------------------------------------


def test_part_with_reason(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("PART #room :off to lunch, bye")
    line = ":%s PART #room :off to lunch, bye" % mask("bob")
    bob.expect_next(line)
    alice.expect_next(line)
    quiet(bob, alice)
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice"])


def test_part_without_reason(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("PART #room")
    bob.expect_next(":%s PART #room" % mask("bob"))
    alice.expect_next(":%s PART #room" % mask("bob"))
    bob.send("PART #room :")
    bob.expect_next(num("442", "bob", "#room :You're not on that channel"))


def test_part_several_channels(server):
    alice = server.connect("alice")
    join(alice, "#a")
    join(alice, "#b")
    alice.send("PART #a,#b :done")
    alice.expect_next(":%s PART #a :done" % mask("alice"))
    alice.expect_next(":%s PART #b :done" % mask("alice"))


def test_part_errors(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    bob.send("PART #nowhere")
    bob.expect_next(num("403", "bob", "#nowhere :No such channel"))
    bob.send("PART #room")
    bob.expect_next(num("442", "bob", "#room :You're not on that channel"))
    bob.send("PART")
    bob.expect_next(num("461", "bob", "PART :Not enough parameters"))
    quiet(bob, alice)


def test_last_part_destroys_channel(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    alice.send("TOPIC #room :old topic")
    alice.expect(lambda l: l.command == "TOPIC")
    set_modes(alice, "#room", "+k key")
    part(alice, "#room")
    bob.send("MODE #room")
    bob.expect_next(num("403", "bob", "#room :No such channel"))
    # recreated fresh: bob is op, no key, no topic
    bob.send("JOIN #room")
    bob.expect_next(":%s JOIN #room" % mask("bob"))
    bob.expect_next(num("353", "bob", "= #room :@bob"))


# --- TOPIC ---------------------------------------------------------------------------------


def test_topic_query_set_and_clear(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("TOPIC #room")
    bob.expect_next(num("331", "bob", "#room :No topic is set"))
    alice.send("TOPIC #room :Welcome: all  spaces kept ")
    line = ":%s TOPIC #room :Welcome: all  spaces kept " % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)
    bob.send("TOPIC #room")
    bob.expect_next(num("332", "bob", "#room :Welcome: all  spaces kept "))
    l333 = bob.expect_next(re.compile(r"^%s 333 bob #room %s (\d+)$" % (re.escape(S), re.escape(mask("alice")))))
    assert now_close(l333.match.group(1))
    # clearing
    alice.send("TOPIC #room :")
    alice.expect_next(":%s TOPIC #room :" % mask("alice"))
    bob.expect_next(":%s TOPIC #room :" % mask("alice"))
    bob.send("TOPIC #room")
    bob.expect_next(num("331", "bob", "#room :No topic is set"))
    quiet(alice, bob)


def test_topic_plus_t_needs_op_482(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("TOPIC #room :mine now")
    bob.expect_next(num("482", "bob", "#room :You're not channel operator"))
    quiet(bob, alice)
    # -t: any member may set it
    set_modes(alice, "#room", "-t", bob)
    bob.send("TOPIC #room :mine now")
    bob.expect_next(":%s TOPIC #room :mine now" % mask("bob"))
    alice.expect_next(":%s TOPIC #room :mine now" % mask("bob"))


def test_topic_non_member(server):
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(alice, "#room")
    alice.send("TOPIC #room :public topic")
    alice.expect_next(":%s TOPIC #room :public topic" % mask("alice"))
    carol.send("TOPIC #room :hijack")
    carol.expect_next(num("442", "carol", "#room :You're not on that channel"))
    # a public channel's topic can be read from outside
    carol.send("TOPIC #room")
    carol.expect_next(num("332", "carol", "#room :public topic"))
    carol.expect_next(lambda l: l.command == "333")
    # ... a secret one's cannot
    set_modes(alice, "#room", "+s")
    carol.send("TOPIC #room")
    carol.expect_next(num("442", "carol", "#room :You're not on that channel"))
    carol.send("TOPIC #nowhere")
    carol.expect_next(num("403", "carol", "#nowhere :No such channel"))
    quiet(carol, alice)


def test_topic_is_truncated_to_topiclen(server):
    alice = server.connect("alice")
    join(alice, "#room")
    alice.send("TOPIC #room :" + "x" * 400)
    alice.expect_next(":%s TOPIC #room :%s" % (mask("alice"), "x" * 390))


# --- NAMES ---------------------------------------------------------------------------------


def names_channel(server, caps=None):
    """alice (op), bob (op and voice), carol (voice), dave (plain) on #room; returns
    an observer client eve with caps, who joined last."""
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    dave = server.connect("dave")
    join(alice, "#room")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    join(dave, "#room", alice, bob, carol)
    set_modes(alice, "#room", "+ovv bob bob carol", bob, carol, dave)
    eve = server.connect("eve", caps=caps)
    return eve


def test_names_plain(server):
    eve = names_channel(server)
    eve.send("NAMES #room")
    expect_names(eve, "#room", ["@alice", "@bob", "+carol", "dave"])
    eve.send("JOIN #room")
    eve.expect_next(":%s JOIN #room" % mask("eve"))
    expect_names(eve, "#room", ["@alice", "@bob", "+carol", "dave", "eve"])


def test_names_multi_prefix(server):
    eve = names_channel(server, caps=["multi-prefix"])
    eve.send("NAMES #room")
    expect_names(eve, "#room", ["@alice", "@+bob", "+carol", "dave"])


def test_names_userhost_in_names(server):
    eve = names_channel(server, caps=["userhost-in-names"])
    eve.send("NAMES #room")
    expect_names(eve, "#room", ["@" + mask("alice"), "@" + mask("bob"), "+" + mask("carol"), mask("dave")])


def test_names_multi_prefix_and_userhost_in_names(server):
    eve = names_channel(server, caps=["multi-prefix", "userhost-in-names"])
    eve.send("JOIN #room")
    eve.expect_next(":%s JOIN #room" % mask("eve"))
    expect_names(eve, "#room", ["@" + mask("alice"), "@+" + mask("bob"), "+" + mask("carol"),
                                mask("dave"), mask("eve")])


def test_names_without_channel(server):
    alice = server.connect("alice")
    alice.send("NAMES")
    alice.expect_next(num("366", "alice", "* :End of /NAMES list"))
    alice.send("NAMES #nowhere")
    alice.expect_next(num("366", "alice", "#nowhere :End of /NAMES list"))
    quiet(alice)


@pytest.mark.parametrize("mode,symbol", [("s", "@"), ("p", "*")])
def test_names_secret_private_hidden_from_outsiders(server, mode, symbol):
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(alice, "#hidden")
    set_modes(alice, "#hidden", "+" + mode)
    alice.send("NAMES #hidden")
    expect_names(alice, "#hidden", ["@alice"], symbol=symbol)
    carol.send("NAMES #hidden")
    carol.expect_next(num("366", "carol", "#hidden :End of /NAMES list"))
    quiet(carol)
    # members see the channel symbol in the join burst too
    carol.send("JOIN #hidden")
    carol.expect_next(":%s JOIN #hidden" % mask("carol"))
    expect_names(carol, "#hidden", ["@alice", "carol"], symbol=symbol)


def test_names_hides_invisible_users_from_outsiders(server):
    alice = server.connect("alice")
    ghost = server.connect("ghost")
    carol = server.connect("carol")
    ghost.send("MODE ghost +i")
    ghost.expect_next(":%s MODE ghost :+i" % mask("ghost"))
    join(alice, "#room")
    join(ghost, "#room", alice)
    carol.send("NAMES #room")
    expect_names(carol, "#room", ["@alice"])
    # members see everyone
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice", "ghost"])
    carol.send("JOIN #room")
    carol.expect_next(":%s JOIN #room" % mask("carol"))
    expect_names(carol, "#room", ["@alice", "ghost", "carol"])


def test_names_many_members_split_in_lines(make_server):
    srv = make_server(flood_enabled=False)
    op = srv.connect("op")
    join(op, "#big")
    nicks = ["member_with_a_long_nick_%02d" % i for i in range(30)]
    for n in nicks:
        c = srv.connect(n)
        c.send("JOIN #big")
        c.expect(lambda l: l.command == "366")
    sync(op)
    op.drain()
    op.send("NAMES #big")
    lines = expect_names(op, "#big", ["@op"] + nicks)
    assert len(lines) > 2, "30 long nicks cannot fit one 353 line"
    for l in lines:
        assert len(l.raw) + 2 <= 512, l


# --- LIST ----------------------------------------------------------------------------------


def list_reply(c, spec=None):
    """Sends LIST [spec]; checks 321 and 323 and returns the set of 322 lines."""
    c.send("LIST" + (" " + spec if spec is not None else ""))
    c.expect_next(num("321", c, "Channel :Users  Name"))
    lines = c.read_until(lambda l: l.command == "323")
    assert lines[-1] == num("323", c, ":End of /LIST")
    body = lines[:-1]
    assert all(l.command == "322" for l in body), body
    assert len(body) == len(set(body)), body
    return set(body)


def list_line(c, chan, users, topic="", modes="+nt"):
    return num("322", c, "%s %d :[%s] %s" % (chan, users, modes, topic))


def list_setup(server):
    """#one (1 user, topic), #two (2 users), #three (3 users, topic); returns the
    clients (a, b, c) and an outsider x."""
    a = server.connect("a")
    b = server.connect("b")
    c = server.connect("c")
    x = server.connect("x")
    join(a, "#one")
    a.send("TOPIC #one :first topic")
    a.expect(lambda l: l.command == "TOPIC")
    join(a, "#two")
    join(b, "#two", a)
    join(a, "#three")
    join(b, "#three", a)
    join(c, "#three", a, b)
    a.send("TOPIC #three :third topic")
    for m in (a, b, c):
        m.expect(lambda l: l.command == "TOPIC")
    return a, b, c, x


def test_list_all(server):
    a, b, c, x = list_setup(server)
    assert list_reply(x) == {list_line(x, "#one", 1, "first topic"), list_line(x, "#two", 2),
                             list_line(x, "#three", 3, "third topic")}


def test_isupport_elist(server):
    c = server.client()
    lines = c.register("alice")
    from chanutil import isupport
    tokens = isupport(lines)
    assert tokens["ELIST"] == "CMNTU"
    assert "SAFELIST" in tokens


def test_list_user_count_filters(server):
    a, b, c, x = list_setup(server)
    assert list_reply(x, ">1") == {list_line(x, "#two", 2), list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, ">2") == {list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, "<2") == {list_line(x, "#one", 1, "first topic")}
    assert list_reply(x, "<3") == {list_line(x, "#one", 1, "first topic"), list_line(x, "#two", 2)}
    assert list_reply(x, ">1,<3") == {list_line(x, "#two", 2)}
    assert list_reply(x, ">3") == set()


def test_list_mask_filters(server):
    a, b, c, x = list_setup(server)
    assert list_reply(x, "#t*") == {list_line(x, "#two", 2), list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, "#TWO") == {list_line(x, "#two", 2)}
    assert list_reply(x, "#one,#two") == {list_line(x, "#one", 1, "first topic"), list_line(x, "#two", 2)}
    assert list_reply(x, "!#t*") == {list_line(x, "#one", 1, "first topic")}
    assert list_reply(x, "#*,!#two") == {list_line(x, "#one", 1, "first topic"),
                                        list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, "#nothing*") == set()


def test_list_creation_and_topic_time_filters(server):
    a, b, c, x = list_setup(server)
    everything = {list_line(x, "#one", 1, "first topic"), list_line(x, "#two", 2),
                  list_line(x, "#three", 3, "third topic")}
    # all were created less than 5 minutes ago, none more than 5 minutes ago
    assert list_reply(x, "C<5") == everything
    assert list_reply(x, "C>5") == set()
    # topics set less than 5 minutes ago; #two has none
    assert list_reply(x, "T<5") == {list_line(x, "#one", 1, "first topic"),
                                    list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, "T>5") == set()
    assert list_reply(x, "T<5,>1") == {list_line(x, "#three", 3, "third topic")}


@pytest.mark.parametrize("mode", ["s", "p"])
def test_list_hides_secret_and_private_channels(server, mode):
    a, b, c, x = list_setup(server)
    set_modes(a, "#two", "+" + mode, b)
    assert list_reply(x) == {list_line(x, "#one", 1, "first topic"), list_line(x, "#three", 3, "third topic")}
    assert list_reply(x, "#two") == set()
    # members see it, with its modes
    assert list_line(b, "#two", 2, modes="+n%st" % mode) in list_reply(b)


def test_list_shows_key_and_limit_letters(server):
    a, b, c, x = list_setup(server)
    set_modes(a, "#two", "+kl sekrit 10", b)
    assert list_reply(x, "#two") == {list_line(x, "#two", 2, modes="+ntkl")}


# --- INVITE --------------------------------------------------------------------------------


def test_invite_basic(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    join(bob, "#room", alice)
    bob.send("INVITE carol #room")
    bob.expect_next(num("341", "bob", "carol #room"))
    carol.expect_next(":%s INVITE carol #room" % mask("bob"))
    # without invite-notify the op hears nothing
    quiet(bob, alice, carol)


def test_invite_lets_user_past_plus_i_once(server):
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(alice, "#room")
    set_modes(alice, "#room", "+i")
    carol.send("JOIN #room")
    carol.expect_next(num("473", "carol", "#room :Cannot join channel (+i)"))
    alice.send("INVITE carol #room")
    alice.expect_next(num("341", "alice", "carol #room"))
    carol.expect_next(":%s INVITE carol #room" % mask("alice"))
    join(carol, "#room", alice)
    part(carol, "#room", alice)
    # the invite was used up
    carol.send("JOIN #room")
    carol.expect_next(num("473", "carol", "#room :Cannot join channel (+i)"))


def test_invite_lets_user_past_limit_and_ban(server):
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(alice, "#room")
    set_modes(alice, "#room", "+l 1")
    set_modes(alice, "#room", "+b carol!*@*")
    alice.send("INVITE carol #room")
    alice.expect_next(num("341", "alice", "carol #room"))
    carol.expect_next(":%s INVITE carol #room" % mask("alice"))
    join(carol, "#room", alice)


def test_join_with_key_to_keyless_channel(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice, key="anything")


def test_invite_plus_i_needs_op_482(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    join(bob, "#room", alice)
    set_modes(alice, "#room", "+i", bob)
    bob.send("INVITE carol #room")
    bob.expect_next(num("482", "bob", "#room :You're not channel operator"))
    quiet(bob, carol, alice)
    carol.send("JOIN #room")
    carol.expect_next(num("473", "carol", "#room :Cannot join channel (+i)"))


def test_invite_errors(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    join(bob, "#room", alice)
    alice.send("INVITE bob #room")
    alice.expect_next(num("443", "alice", "bob #room :is already on channel"))
    alice.send("INVITE nobody #room")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))
    alice.send("INVITE carol #nowhere")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))
    carol.send("INVITE bob #room")
    carol.expect_next(num("442", "carol", "#room :You're not on that channel"))
    alice.send("INVITE carol")
    alice.expect_next(num("461", "alice", "INVITE :Not enough parameters"))
    quiet(alice, bob, carol)


def test_invite_notify_to_ops_with_cap(server):
    alice = server.connect("alice", caps=["invite-notify"])  # op, cap
    bob = server.connect("bob")  # op, no cap
    dave = server.connect("dave", caps=["invite-notify"])  # inviter
    carol = server.connect("carol", caps=["invite-notify"])  # target
    join(alice, "#room")
    join(bob, "#room", alice)
    join(dave, "#room", alice, bob)
    set_modes(alice, "#room", "+oo bob dave", bob, dave)
    set_modes(alice, "#room", "+i", bob, dave)
    dave.send("INVITE carol #room")
    dave.expect_next(num("341", "dave", "carol #room"))
    line = ":%s INVITE carol #room" % mask("dave")
    carol.expect_next(line)
    alice.expect_next(line)
    quiet(dave, carol, alice, bob)


def test_invite_to_away_user_gets_301(server):
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(alice, "#room")
    carol.send("AWAY :gone fishing")
    carol.expect_next(num("306", "carol", ":You have been marked as being away"))
    alice.send("INVITE carol #room")
    alice.expect_next(num("341", "alice", "carol #room"))
    alice.expect_next(num("301", "alice", "carol :gone fishing"))
    carol.expect_next(":%s INVITE carol #room" % mask("alice"))


# --- KICK ----------------------------------------------------------------------------------


def kick_setup(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    return alice, bob, carol


def test_kick_with_reason_seen_by_all(server):
    alice, bob, carol = kick_setup(server)
    alice.send("KICK #room bob :behave yourself")
    line = ":%s KICK #room bob :behave yourself" % mask("alice")
    for c in (alice, bob, carol):
        c.expect_next(line)
    quiet(alice, bob, carol)
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice", "carol"])
    # bob is out: he can rejoin (nothing bans him)
    join(bob, "#room", alice, carol)


def test_kick_default_reason_is_kicker_nick(server):
    alice, bob, carol = kick_setup(server)
    alice.send("KICK #room bob")
    line = ":%s KICK #room bob :alice" % mask("alice")
    for c in (alice, bob, carol):
        c.expect_next(line)


def test_kick_several_users(server):
    alice, bob, carol = kick_setup(server)
    alice.send("KICK #room bob,carol :both of you")
    for c in (alice,):
        c.expect_next(":%s KICK #room bob :both of you" % mask("alice"))
        c.expect_next(":%s KICK #room carol :both of you" % mask("alice"))
    bob.expect_next(":%s KICK #room bob :both of you" % mask("alice"))
    # bob has left: he does not see carol's kick
    carol.expect_next(":%s KICK #room bob :both of you" % mask("alice"))
    carol.expect_next(":%s KICK #room carol :both of you" % mask("alice"))
    quiet(alice, bob, carol)
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice"])


def test_kick_needs_op_482(server):
    alice, bob, carol = kick_setup(server)
    bob.send("KICK #room carol :no")
    bob.expect_next(num("482", "bob", "#room :You're not channel operator"))
    quiet(bob, alice, carol)


def test_kick_errors(server):
    alice, bob, carol = kick_setup(server)
    dave = server.connect("dave")
    alice.send("KICK #room dave")
    alice.expect_next(num("441", "alice", "dave #room :They aren't on that channel"))
    alice.send("KICK #nowhere bob")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))
    dave.send("KICK #room bob")
    dave.expect_next(num("442", "dave", "#room :You're not on that channel"))
    alice.send("KICK #room")
    alice.expect_next(num("461", "alice", "KICK :Not enough parameters"))
    quiet(alice, bob, carol, dave)


def test_op_kicks_op(server):
    alice, bob, carol = kick_setup(server)
    set_modes(alice, "#room", "+o bob", bob, carol)
    bob.send("KICK #room alice :coup")
    line = ":%s KICK #room alice :coup" % mask("bob")
    for c in (alice, bob, carol):
        c.expect_next(line)
    bob.send("NAMES #room")
    expect_names(bob, "#room", ["@bob", "carol"])


def test_kick_self(server):
    alice, bob, carol = kick_setup(server)
    alice.send("KICK #room alice :bye me")
    line = ":%s KICK #room alice :bye me" % mask("alice")
    for c in (alice, bob, carol):
        c.expect_next(line)


# --- join refusals and exceptions ----------------------------------------------------------


def test_banned_474(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    set_modes(alice, "#room", "+b bob!*@*")
    bob.send("JOIN #room")
    bob.expect_next(num("474", "bob", "#room :Cannot join channel (+b)"))
    quiet(bob, alice)


def test_ban_by_host_mask(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    set_modes(alice, "#room", "+b *!*@%s" % HOST)
    bob.send("JOIN #room")
    bob.expect_next(num("474", "bob", "#room :Cannot join channel (+b)"))


def test_invite_only_473(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    set_modes(alice, "#room", "+i")
    bob.send("JOIN #room")
    bob.expect_next(num("473", "bob", "#room :Cannot join channel (+i)"))
    quiet(bob, alice)


def test_key_475(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    set_modes(alice, "#room", "+k sesame")
    bob.send("JOIN #room")
    bob.expect_next(num("475", "bob", "#room :Cannot join channel (+k)"))
    bob.send("JOIN #room wrong")
    bob.expect_next(num("475", "bob", "#room :Cannot join channel (+k)"))
    bob.send("JOIN #room SESAME")
    bob.expect_next(num("475", "bob", "#room :Cannot join channel (+k)"))
    quiet(bob, alice)
    join(bob, "#room", alice, key="sesame")


def test_full_471(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    set_modes(alice, "#room", "+l 2")
    join(bob, "#room", alice)
    carol.send("JOIN #room")
    carol.expect_next(num("471", "carol", "#room :Cannot join channel (+l)"))
    quiet(carol, alice, bob)
    part(bob, "#room", alice)
    join(carol, "#room", alice)


def test_registered_only_477(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    join(alice, "#room")
    set_modes(alice, "#room", "+R")
    bob.send("JOIN #room")
    bob.expect_next(num("477", "bob", "#room :Cannot join channel (+R) - you need to be logged into your account"))
    quiet(bob, alice)
    register_account(bob)
    join(bob, "#room", alice)


def test_ban_exception_lets_banned_user_in(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    set_modes(alice, "#room", "+b *!*@%s" % HOST)
    set_modes(alice, "#room", "+e bob!*@*")
    join(bob, "#room", alice)
    carol.send("JOIN #room")
    carol.expect_next(num("474", "carol", "#room :Cannot join channel (+b)"))


def test_account_extban(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    carol = srv.connect("carol")
    register_account(bob)
    join(alice, "#room")
    set_modes(alice, "#room", "+b $a:bob")
    bob.send("JOIN #room")
    bob.expect_next(num("474", "bob", "#room :Cannot join channel (+b)"))
    join(carol, "#room", alice)
    # $a alone: every logged-in user
    set_modes(alice, "#room", "-b+b $a:bob $a", carol)
    bob.send("JOIN #room")
    bob.expect_next(num("474", "bob", "#room :Cannot join channel (+b)"))
    quiet(bob, alice)


def test_invite_exception_lets_user_past_plus_i(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    join(alice, "#room")
    set_modes(alice, "#room", "+i")
    set_modes(alice, "#room", "+I bob!*@*")
    join(bob, "#room", alice)
    carol.send("JOIN #room")
    carol.expect_next(num("473", "carol", "#room :Cannot join channel (+i)"))


# --- NICK and QUIT fan-out ---------------------------------------------------------------------


def test_nick_change_seen_once_by_each_common_member(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    outsider = server.connect("outsider")
    join(alice, "#a")
    join(alice, "#b")
    join(bob, "#a", alice)
    join(bob, "#b", alice)
    join(carol, "#b", alice, bob)
    join(outsider, "#c")
    alice.send("NICK alicia")
    line = ":%s NICK :alicia" % mask("alice")
    for c in (alice, bob, carol):
        c.expect_next(line)
    quiet(alice, bob, carol, outsider)
    # the new nick is in the channels
    bob.send("NAMES #b")
    expect_names(bob, "#b", ["@alicia", "bob", "carol"])


def test_quit_seen_once_by_each_common_member(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    carol = server.connect("carol")
    outsider = server.connect("outsider")
    join(alice, "#a")
    join(alice, "#b")
    join(bob, "#a", alice)
    join(bob, "#b", alice)
    join(carol, "#b", alice, bob)
    join(outsider, "#c")
    alice.send("QUIT :see you all")
    alice.expect_error_close("Quit: see you all")
    line = ":%s QUIT :Quit: see you all" % mask("alice")
    for c in (bob, carol):
        c.expect_next(line)
    quiet(bob, carol, outsider)
    bob.send("NAMES #a")
    expect_names(bob, "#a", ["bob"])
    bob.send("NAMES #b")
    expect_names(bob, "#b", ["bob", "carol"])


def test_connection_close_is_a_quit(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    alice.close()
    bob.expect_next(":%s QUIT :Remote host closed the connection" % mask("alice"))
    quiet(bob)


def test_kick_reason_is_cut_to_kicklen(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    alice.send("KICK #room bob :" + "r" * 420)
    bob.expect_next(":%s KICK #room bob :%s" % (mask("alice"), "r" * 390))


def test_quit_of_lone_member_destroys_channel(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    alice.send("QUIT")
    alice.expect_error_close("Quit: ")
    bob.send("LIST")
    bob.expect_next(num("321", "bob", "Channel :Users  Name"))
    bob.expect_next(num("323", "bob", ":End of /LIST"))
