"""MODE: channel mode queries and changes, list modes (+b/+e/+I), member status,
parameter validation, and user modes."""

import re
import time

import pytest

from chanutil import S, expect_names, join, mask, num, quiet, set_modes, sync


def two(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    return alice, bob


# --- queries -------------------------------------------------------------------------------


def test_mode_query_324_329(server):
    alice, bob = two(server)
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +nt"))
    line = alice.expect_next(re.compile(r"^%s 329 alice #room (\d+)$" % re.escape(S)))
    assert abs(int(line.match.group(1)) - time.time()) < 30
    created = line.match.group(1)
    # the creation time does not change as members come and go
    bob.send("MODE #room")
    bob.expect_next(num("324", "bob", "#room +nt"))
    bob.expect_next(num("329", "bob", "#room " + created))


def test_mode_query_shows_key_and_limit_to_members_only(server):
    alice, bob = two(server)
    carol = server.connect("carol")
    set_modes(alice, "#room", "+kl secret 25", bob)
    for c in (alice, bob):
        c.send("MODE #room")
        c.expect_next(num("324", c.nick, "#room +ntkl secret 25"))
        c.expect_next(lambda l: l.command == "329")
    carol.send("MODE #room")
    carol.expect_next(num("324", "carol", "#room +ntkl"))
    carol.expect_next(lambda l: l.command == "329")


def test_mode_query_all_flags(server):
    alice, bob = two(server)
    set_modes(alice, "#room", "+imps", bob)
    set_modes(alice, "#room", "+R", bob)
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +Rimnpst"))


def test_mode_nonexistent_channel_403(server):
    alice = server.connect("alice")
    alice.send("MODE #nowhere")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))
    alice.send("MODE #nowhere +n")
    alice.expect_next(num("403", "alice", "#nowhere :No such channel"))


def test_mode_change_needs_op_482_or_membership_442(server):
    alice, bob = two(server)
    carol = server.connect("carol")
    bob.send("MODE #room +m")
    bob.expect_next(num("482", "bob", "#room :You're not channel operator"))
    carol.send("MODE #room +m")
    carol.expect_next(num("442", "carol", "#room :You're not on that channel"))
    quiet(bob, carol, alice)


# --- lists ---------------------------------------------------------------------------------


def list_entry_re(code, nick, chan, mask_, setter):
    return re.compile(r"^%s %s %s %s %s %s (\d+)$" % tuple(map(re.escape, (S, code, nick, chan, mask_, setter))))


@pytest.mark.parametrize("letter,item,end,end_text", [
    ("b", "367", "368", "End of channel ban list"),
    ("e", "348", "349", "End of channel exception list"),
    ("I", "346", "347", "End of channel invite list"),
])
def test_list_mode_queries(server, letter, item, end, end_text):
    alice, bob = two(server)
    for query in ("+" + letter, letter):
        alice.send("MODE #room " + query)
        alice.expect_next(num(end, "alice", "#room :" + end_text))
    set_modes(alice, "#room", "+%s%s first!*@* *!*@second.example" % (letter, letter), bob)
    # any member may read the lists, in the order they were set
    for c in (alice, bob):
        c.send("MODE #room +" + letter)
        for m in ("first!*@*", "*!*@second.example"):
            line = c.expect_next(list_entry_re(item, c.nick, "#room", m, "alice"))
            assert abs(int(line.match.group(1)) - time.time()) < 30
        c.expect_next(num(end, c.nick, "#room :" + end_text))
    set_modes(alice, "#room", "-%s first!*@*" % letter, bob)
    alice.send("MODE #room " + letter)
    alice.expect_next(list_entry_re(item, "alice", "#room", "*!*@second.example", "alice"))
    alice.expect_next(num(end, "alice", "#room :" + end_text))
    quiet(alice, bob)


@pytest.mark.parametrize("given,stored", [
    ("bob", "bob!*@*"),
    ("bob!user", "bob!user@*"),
    ("user@host.example", "*!user@host.example"),
    ("*@host.example", "*!*@host.example"),
    ("bob!*@*", "bob!*@*"),
    ("$a:someaccount", "$a:someaccount"),
])
def test_ban_mask_normalisation(server, given, stored):
    alice, bob = two(server)
    alice.send("MODE #room +b " + given)
    line = ":%s MODE #room +b %s" % (mask("alice"), stored)
    alice.expect_next(line)
    bob.expect_next(line)
    alice.send("MODE #room +b")
    alice.expect_next(list_entry_re("367", "alice", "#room", stored, "alice"))
    alice.expect_next(num("368", "alice", "#room :End of channel ban list"))
    # setting the same mask again changes nothing
    alice.send("MODE #room +b " + given)
    quiet(alice, bob)
    # removing by the short form works too
    alice.send("MODE #room -b " + given)
    alice.expect_next(":%s MODE #room -b %s" % (mask("alice"), stored))


def test_removing_absent_ban_is_silent(server):
    alice, bob = two(server)
    alice.send("MODE #room -b nobody!*@*")
    quiet(alice, bob)


# --- changes -------------------------------------------------------------------------------


def test_several_modes_with_parameters_one_announcement(server):
    alice, bob = two(server)
    carol = server.connect("carol")
    join(carol, "#room", alice, bob)
    alice.send("MODE #room +kl-t+ov key 12 bob carol")
    line = ":%s MODE #room +kl-t+ov key 12 bob carol" % mask("alice")
    for c in (alice, bob, carol):
        c.expect_next(line)
    quiet(alice, bob, carol)
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +nkl key 12"))
    alice.expect_next(lambda l: l.command == "329")
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice", "@bob", "+carol"])


def test_mode_announcement_drops_changes_that_did_nothing(server):
    alice, bob = two(server)
    # +n and +t are already set; -m and -i are already unset
    alice.send("MODE #room +ntm-i")
    line = ":%s MODE #room +m" % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)
    alice.send("MODE #room +nt")
    quiet(alice, bob)


def test_modes_limit_six_parameters(server):
    alice, bob = two(server)
    masks = ["m%d!*@*" % i for i in range(1, 8)]
    alice.send("MODE #room +bbbbbbb " + " ".join(masks))
    line = ":%s MODE #room +bbbbbb %s" % (mask("alice"), " ".join(masks[:6]))
    alice.expect_next(line)
    bob.expect_next(line)
    quiet(alice, bob)
    alice.send("MODE #room b")
    for m in masks[:6]:
        alice.expect_next(list_entry_re("367", "alice", "#room", m, "alice"))
    alice.expect_next(num("368", "alice", "#room :End of channel ban list"))


def test_long_parameters_announced_in_full(server):
    alice, bob = two(server)
    masks = ["n%d%s!u@h" % (i, "x" * 70) for i in range(6)]
    alice.send("MODE #room +bbbbbb " + " ".join(masks))
    for c in (alice, bob):
        lines = sync(c)
        assert lines, "no MODE announcement"
        changes = []
        for l in lines:
            assert len(l.raw) <= 510, l
            assert l.source == mask("alice") and l.command == "MODE" and l.params[0] == "#room", l
            letters = l.params[1]
            assert re.fullmatch(r"\+b+", letters), l
            # every mode letter has its parameter, complete
            assert len(letters) - 1 == len(l.params) - 2, l
            changes += l.params[2:]
        assert changes == masks, lines
    alice.send("MODE #room +b")
    for m in masks:
        alice.expect_next(list_entry_re("367", "alice", "#room", m, "alice"))


def test_isupport_modes_6(server):
    from chanutil import isupport
    c = server.client()
    tokens = isupport(c.register("alice"))
    assert tokens["MODES"] == "6"
    assert tokens["CHANMODES"] == "beI,k,l,Rimnpst"
    assert tokens["PREFIX"] == "(ov)@+"
    assert tokens["STATUSMSG"] == "@+"
    assert tokens["EXCEPTS"] == "e" and tokens["INVEX"] == "I"
    assert tokens["MAXLIST"] == "beI:100"


@pytest.mark.parametrize("letter", ["X", "z", "Q"])
def test_unknown_channel_mode_472(server, letter):
    alice, bob = two(server)
    alice.send("MODE #room +%s" % letter)
    alice.expect_next(num("472", "alice", "%s :is unknown mode char to me" % letter))
    quiet(alice, bob)


def test_unknown_mode_among_known_ones(server):
    alice, bob = two(server)
    alice.send("MODE #room +mXs")
    alice.expect_next(num("472", "alice", "X :is unknown mode char to me"))
    line = ":%s MODE #room +ms" % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)


@pytest.mark.parametrize("key", ["a,b", "with:colon", "k" * 33])
def test_bad_key_696(server, key):
    alice, bob = two(server)
    alice.send("MODE #room +k " + key)
    alice.expect_next(num("696", "alice", "#room k * :Invalid key"))
    quiet(alice, bob)
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +nt"))


@pytest.mark.parametrize("limit", ["abc", "0", "-5", "12x"])
def test_bad_limit_696(server, limit):
    alice, bob = two(server)
    alice.send("MODE #room +l " + limit)
    alice.expect_next(num("696", "alice", "#room l %s :Invalid limit" % limit))
    quiet(alice, bob)


def test_key_and_limit_removal(server):
    alice, bob = two(server)
    set_modes(alice, "#room", "+k sesame", bob)
    set_modes(alice, "#room", "+l 5", bob)
    # -k takes the key as parameter, and the announcement hides it
    alice.send("MODE #room -k sesame")
    line = ":%s MODE #room -k *" % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)
    set_modes(alice, "#room", "-l", bob)
    alice.send("MODE #room")
    alice.expect_next(num("324", "alice", "#room +nt"))


def test_limit_missing_parameter_461(server):
    alice, bob = two(server)
    alice.send("MODE #room +l")
    alice.expect_next(num("461", "alice", "MODE :Not enough parameters"))
    quiet(alice, bob)


def test_op_and_voice(server):
    alice, bob = two(server)
    set_modes(alice, "#room", "+v bob", bob)
    set_modes(alice, "#room", "+o bob", bob)
    alice.send("NAMES #room")
    expect_names(alice, "#room", ["@alice", "@bob"])
    set_modes(bob, "#room", "-o alice", alice)
    set_modes(bob, "#room", "-ov bob bob", alice)
    bob.send("NAMES #room")
    expect_names(bob, "#room", ["alice", "bob"])
    # nobody is op any more
    bob.send("MODE #room +m")
    bob.expect_next(num("482", "bob", "#room :You're not channel operator"))


def test_op_target_errors(server):
    alice, bob = two(server)
    carol = server.connect("carol")
    alice.send("MODE #room +o nobody")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))
    alice.send("MODE #room +v carol")
    alice.expect_next(num("441", "alice", "carol #room :They aren't on that channel"))
    quiet(alice, bob, carol)


def test_op_nick_case_is_canonical(server):
    alice, bob = two(server)
    alice.send("MODE #room +o BOB")
    line = ":%s MODE #room +o bob" % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)


# --- user modes ----------------------------------------------------------------------------


def test_user_mode_query_221(server):
    alice = server.connect("alice")
    alice.send("MODE alice")
    alice.expect_next(num("221", "alice", "+"))
    alice.send("MODE alice +iw")
    alice.expect_next(":%s MODE alice :+iw" % mask("alice"))
    alice.send("MODE alice")
    alice.expect_next(num("221", "alice", "+iw"))
    alice.send("MODE alice -w+B")
    alice.expect_next(":%s MODE alice :-w+B" % mask("alice"))
    alice.send("MODE alice")
    alice.expect_next(num("221", "alice", "+Bi"))


def test_user_mode_R(server):
    alice = server.connect("alice")
    alice.send("MODE alice +R")
    alice.expect_next(":%s MODE alice :+R" % mask("alice"))
    alice.send("MODE alice")
    alice.expect_next(num("221", "alice", "+R"))
    alice.send("MODE alice -R")
    alice.expect_next(":%s MODE alice :-R" % mask("alice"))


def test_user_mode_no_change_is_silent(server):
    alice = server.connect("alice")
    alice.send("MODE alice -i")
    alice.send("MODE alice +i")
    alice.expect_next(":%s MODE alice :+i" % mask("alice"))
    alice.send("MODE alice +i")
    quiet(alice)


def test_user_mode_of_other_user_502(server):
    alice = server.connect("alice")
    server.connect("bob")
    alice.send("MODE bob +i")
    alice.expect_next(num("502", "alice", ":Cant change mode for other users"))
    alice.send("MODE bob")
    alice.expect_next(num("502", "alice", ":Cant change mode for other users"))
    alice.send("MODE nobody")
    alice.expect_next(num("401", "alice", "nobody :No such nick/channel"))


def test_user_mode_unknown_501(server):
    alice = server.connect("alice")
    alice.send("MODE alice +z")
    alice.expect_next(num("501", "alice", ":Unknown MODE flag"))
    # known flags in the same line still apply
    alice.send("MODE alice +zi")
    alice.expect_next(num("501", "alice", ":Unknown MODE flag"))
    alice.expect_next(":%s MODE alice :+i" % mask("alice"))
    quiet(alice)


def test_user_cannot_set_oper_or_snomask(server):
    alice = server.connect("alice")
    alice.send("MODE alice +os")
    quiet(alice)
    alice.send("MODE alice")
    alice.expect_next(num("221", "alice", "+"))


def test_invisible_counts_in_lusers(server):
    alice = server.connect("alice")
    alice.send("MODE alice +i")
    alice.expect_next(":%s MODE alice :+i" % mask("alice"))
    alice.send("LUSERS")
    alice.expect_next(num("251", "alice", ":There are 0 users and 1 invisible on 1 servers"))
