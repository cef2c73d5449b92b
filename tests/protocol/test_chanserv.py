"""ChanServ (issue 5): REGISTER, INFO, ACCESS, automatic +o/+v, OP/DEOP/VOICE/DEVOICE,
INVITE, AKICK, SET RESTRICTED/MLOCK/TOPICLOCK/DESCRIPTION, TRANSFER, DROP, and
persistence across a restart on the same database. Every test runs on SQLite and on
MariaDB (the backend fixture)."""

import re

from conftest import accounts_section, register_account, wait_for
from operutil import (CHANSERV, S, connect_from, cs, cs_mode, cs_notice, join, mask, oper_block,
                      oper_up, operators_text, quiet, sync)

PW = "hunter2hunter2"
KICK = ":%s KICK %%s %%s :%%s" % CHANSERV


def start(make_server, backend, opers=False):
    kw = {"backend": backend, "sections": {"accounts": accounts_section()}}
    if opers:
        kw["extra"] = operators_text(oper_block())
    return make_server(**kw)


def accounts(srv, *names):
    for name in names:
        register_account(srv, name, PW)


def user(srv, nick, account=None):
    """A client registered as nick, logged in to account (PASS account:password)."""
    if account is None:
        return srv.connect(nick)
    c = srv.client()
    lines = c.register(nick, password="%s:%s" % (account, PW))
    assert any(l.command == "900" for l in lines), lines
    return c


def kick_line(chan, nick, reason):
    return KICK % (chan, nick, reason)


def founded(srv, chan="#room", founder="alice", description=None):
    """founder (an account of the same name) creates chan and registers it; returns its
    client."""
    c = user(srv, founder, founder)
    join(c, chan)
    cs(c, "REGISTER %s%s" % (chan, " " + description if description else ""))
    c.expect_next(cs_notice(c, "%s is now registered to %s." % (chan, founder)))
    return c


def list_entry(lines, chan):
    """(users, set of mode letters, text after the modes) of chan's 322 in lines."""
    for l in lines:
        if l.command == "322" and l.params[1] == chan:
            m = re.fullmatch(r"\[\+([A-Za-z]*)\] ?(.*)", l.params[3])
            assert m, l
            return int(l.params[2]), set(m.group(1)), m.group(2)
    return None


def ask(c, text, until="End of "):
    """Sends text to ChanServ; returns the notices' texts up to one starting with until."""
    cs(c, text)
    lines = c.read_until(lambda l: l.command == "NOTICE" and l.source == CHANSERV
                         and l.params[1].startswith(until))
    assert all(l.source == CHANSERV and l.command == "NOTICE" for l in lines), lines
    return [l.params[1] for l in lines]


# --------------------------------------------------------------------------------------
# REGISTER and INFO


def test_register_and_info(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "carol")
    alice = founded(srv, "#room", "alice", "A place to talk")
    info = ask(alice, "INFO #room")
    assert info[0] == "Information on #room:"
    assert info[1] == "Founder: alice"
    assert re.fullmatch(r"Registered: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", info[2]), info
    assert info[3:] == ["Description: A place to talk",
                        "Settings: MLOCK (none), TOPICLOCK OFF, KEEPTOPIC ON, RESTRICTED OFF",
                        "End of info."]
    # anyone may ask
    bob = user(srv, "bob")
    assert ask(bob, "INFO #ROOM")[1] == "Founder: alice"
    cs(bob, "INFO #nowhere")
    bob.expect_next(cs_notice(bob, "#nowhere is not registered."))
    # the row is in the database
    rows = wait_for(lambda: backend.query("SELECT name, founder, description FROM channels"),
                    what="the channels row")
    assert rows == [("#room", "alice", "A place to talk")]
    quiet(alice, bob)


def test_register_refusals(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "carol")
    alice = founded(srv, "#room", "alice")
    # not logged in
    bob = user(srv, "bob")
    join(bob, "#mine")
    cs(bob, "REGISTER #mine")
    bob.expect_next(cs_notice(bob, "You must be logged in to register a channel."))
    # logged in but not an operator of the channel
    carol = user(srv, "carol", "carol")
    join(carol, "#mine", bob)
    cs(carol, "REGISTER #mine")
    carol.expect_next(cs_notice(carol, "You must be a channel operator in #mine to register it."))
    # nor a member of it
    cs(carol, "REGISTER #empty")
    carol.expect_next(cs_notice(carol, "You must be a channel operator in #empty to register it."))
    # already registered, even for its founder
    cs(alice, "REGISTER #room")
    alice.expect_next(cs_notice(alice, "#room is already registered."))
    cs(alice, "REGISTER")
    alice.expect_next(cs_notice(alice, "Syntax: REGISTER <#channel> [description]"))
    cs(alice, "FROBNICATE #room")
    alice.expect_next(cs_notice(alice, "Unknown command FROBNICATE. Use HELP for a list."))
    # carol may register a channel she operates
    join(carol, "#carols")
    cs(carol, "REGISTER #carols")
    carol.expect_next(cs_notice(carol, "#carols is now registered to carol."))
    quiet(alice, bob, carol)


# --------------------------------------------------------------------------------------
# ACCESS


def test_access_add_del_list(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "carol", "dave", "eve")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD bob op")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as op."))
    cs(alice, "ACCESS #room ADD carol voice")
    alice.expect_next(cs_notice(alice, "carol added to the access list of #room as voice."))
    cs(alice, "ACCESS #room ADD dave member")
    alice.expect_next(cs_notice(alice, "dave added to the access list of #room as member."))
    lines = ask(alice, "ACCESS #room LIST")
    assert lines[0] == "Access list of #room:" and lines[-1] == "End of access list."
    assert lines[1] == "  %-20s founder" % "alice"
    assert sorted(lines[2:-1]) == sorted(["  %-20s op" % "bob", "  %-20s voice" % "carol",
                                          "  %-20s member" % "dave"]), lines
    cs(alice, "ACCESS #room ADD eve boss")
    alice.expect_next(cs_notice(alice, "Unknown level boss: use op, voice (or halfop) or member."))
    cs(alice, "ACCESS #room DEL eve")
    alice.expect_next(cs_notice(alice, "eve is not on the access list of #room."))
    cs(alice, "ACCESS #room ADD eve")
    alice.expect_next(lambda l: l.source == CHANSERV and l.params[1].startswith("Syntax: ACCESS"))
    # who may change what: ops manage the levels below op
    bob = user(srv, "bob", "bob")
    cs(bob, "ACCESS #room ADD eve voice")
    bob.expect_next(cs_notice(bob, "eve added to the access list of #room as voice."))
    cs(bob, "ACCESS #room ADD eve member")
    bob.expect_next(cs_notice(bob, "eve added to the access list of #room as member."))
    cs(bob, "ACCESS #room ADD eve op")
    bob.expect_next(cs_notice(bob, "You may not change that entry of #room."))
    cs(bob, "ACCESS #room DEL bob")
    bob.expect_next(cs_notice(bob, "You may not change that entry of #room."))
    cs(bob, "ACCESS #room DEL eve")
    bob.expect_next(cs_notice(bob, "eve removed from the access list of #room."))
    # voice and member see the list but change nothing
    carol = user(srv, "carol", "carol")
    assert ask(carol, "ACCESS #room LIST")[0] == "Access list of #room:"
    cs(carol, "ACCESS #room ADD eve member")
    carol.expect_next(cs_notice(carol, "You may not change that entry of #room."))
    dave = user(srv, "dave", "dave")
    cs(dave, "ACCESS #room DEL carol")
    dave.expect_next(cs_notice(dave, "You may not change that entry of #room."))
    # nobody else sees it
    eve = user(srv, "eve", "eve")
    cs(eve, "ACCESS #room LIST")
    eve.expect_next(cs_notice(eve, "You need member access on #room for that."))
    anon = user(srv, "anon")
    cs(anon, "ACCESS #room LIST")
    anon.expect_next(cs_notice(anon, "You need member access on #room for that."))
    # the founder changes anything
    cs(alice, "ACCESS #room ADD bob voice")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as voice."))
    cs(alice, "ACCESS #room DEL bob")
    alice.expect_next(cs_notice(alice, "bob removed from the access list of #room."))
    lines = ask(alice, "ACCESS #room LIST")
    assert sorted(lines[2:-1]) == sorted(["  %-20s voice" % "carol", "  %-20s member" % "dave"]), lines
    rows = wait_for(lambda: sorted(backend.query("SELECT account, level FROM channel_access")) == [
        ("carol", "voice"), ("dave", "member")], what="the channel_access rows")
    assert rows
    quiet(alice, bob, carol, dave, eve, anon)


def test_auto_op_and_voice(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "carol", "dave")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD bob op")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as op."))
    cs(alice, "ACCESS #room ADD carol voice")
    alice.expect_next(cs_notice(alice, "carol added to the access list of #room as voice."))
    cs(alice, "ACCESS #room ADD dave op")
    alice.expect_next(cs_notice(alice, "dave added to the access list of #room as op."))
    # on join
    bob = user(srv, "bob", "bob")
    join(bob, "#room", alice)
    for c in (alice, bob):
        c.expect_next(cs_mode("#room", "+o bob"))
    carol = user(srv, "carol", "carol")
    join(carol, "#room", alice, bob)
    for c in (alice, bob, carol):
        c.expect_next(cs_mode("#room", "+v carol"))
    # on login while present
    dave = user(srv, "dave")
    join(dave, "#room", alice, bob, carol)
    quiet(dave, alice)
    dave.send("PRIVMSG NickServ :IDENTIFY dave " + PW)
    dave.expect(lambda l: l.command == "900")
    dave.expect(":NickServ!NickServ@services. NOTICE dave :You are now identified for dave.")
    for c in (alice, bob, carol, dave):
        c.expect(cs_mode("#room", "+o dave"))
    # voice likewise: nothing while erin is not logged in, +v once she is
    register_account(srv, "erin", PW)
    erin = user(srv, "erin")
    join(erin, "#room", alice, bob, carol, dave)
    cs(alice, "ACCESS #room ADD erin voice")
    alice.expect_next(cs_notice(alice, "erin added to the access list of #room as voice."))
    quiet(alice, bob, carol, dave, erin)
    erin.send("PRIVMSG NickServ :IDENTIFY erin " + PW)
    erin.expect(lambda l: l.command == "900")
    erin.expect(":NickServ!NickServ@services. NOTICE erin :You are now identified for erin.")
    for c in (alice, bob, carol, dave, erin):
        c.expect(cs_mode("#room", "+v erin"))
    # on ADD while present and logged in
    register_account(srv, "frank", PW)
    frank = user(srv, "frank", "frank")
    join(frank, "#room", alice, bob, carol, dave, erin)
    cs(alice, "ACCESS #room ADD frank op")
    alice.expect(cs_notice(alice, "frank added to the access list of #room as op."))
    for c in (alice, bob, carol, dave, erin, frank):
        c.expect(cs_mode("#room", "+o frank"))
    # NAMES agrees
    erin.send("NAMES #room")
    names = erin.read_until(lambda l: l.command == "366")
    members = " ".join(l.params[-1] for l in names if l.command == "353").split()
    assert sorted(members) == sorted(["@alice", "@bob", "+carol", "@dave", "+erin", "@frank"]), names
    quiet(alice, bob, carol, dave, erin, frank)


def test_founder_gets_op_in_empty_registered_channel(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice")
    alice = founded(srv)
    alice.send("PART #room")
    alice.expect(lambda l: l.command == "PART")
    # the first to join an empty registered channel gets no +o from the server...
    bob = user(srv, "bob")
    lines = join(bob, "#room")
    assert [l.params[-1] for l in lines if l.command == "353"] == ["bob"], lines
    # ...the founder gets it from ChanServ
    join(alice, "#room", bob)
    for c in (alice, bob):
        c.expect_next(cs_mode("#room", "+o alice"))
    quiet(alice, bob)


def test_op_deop_voice_devoice(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "vic")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD vic voice")
    alice.expect_next(cs_notice(alice, "vic added to the access list of #room as voice."))
    bob = user(srv, "bob")
    join(bob, "#room", alice)
    for cmd, modes in (("OP", "+o"), ("DEOP", "-o"), ("VOICE", "+v"), ("DEVOICE", "-v")):
        cs(alice, "%s #room bob" % cmd)
        for c in (alice, bob):
            c.expect_next(cs_mode("#room", "%s bob" % modes))
    cs(alice, "DEOP #room")
    for c in (alice, bob):
        c.expect_next(cs_mode("#room", "-o alice"))
    cs(alice, "OP #room")
    for c in (alice, bob):
        c.expect_next(cs_mode("#room", "+o alice"))
    cs(alice, "OP #room nobody")
    alice.expect_next(cs_notice(alice, "nobody is not on #room."))
    # bob has no access
    cs(bob, "VOICE #room")
    bob.expect_next(cs_notice(bob, "You need voice access on #room for that."))
    cs(bob, "OP #room")
    bob.expect_next(cs_notice(bob, "You need op access on #room for that."))
    # vic (voice) voices and devoices itself, nothing more
    vic = user(srv, "vic", "vic")
    join(vic, "#room", alice, bob)
    for c in (alice, bob, vic):
        c.expect_next(cs_mode("#room", "+v vic"))
    cs(vic, "DEVOICE #room")
    for c in (alice, bob, vic):
        c.expect_next(cs_mode("#room", "-v vic"))
    cs(vic, "VOICE #room")
    for c in (alice, bob, vic):
        c.expect_next(cs_mode("#room", "+v vic"))
    cs(vic, "VOICE #room bob")
    vic.expect_next(cs_notice(vic, "You need op access on #room for that."))
    cs(vic, "OP #room")
    vic.expect_next(cs_notice(vic, "You need op access on #room for that."))
    cs(alice, "OP #elsewhere")
    alice.expect_next(cs_notice(alice, "#elsewhere is not registered."))
    quiet(alice, bob, vic)


def test_invite(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "carol")
    alice = founded(srv)
    alice.send("MODE #room +i")
    alice.expect_next(":%s MODE #room +i" % mask("alice"))
    cs(alice, "ACCESS #room ADD bob member")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as member."))
    bob = user(srv, "bob", "bob")
    # the access entry alone lets bob in (test_access_entry_passes_invite_key_and_limit);
    # INVITE is still there for clients that want an invitation first
    enters(bob, "#room", alice)
    cs(bob, "INVITE #room")
    bob.expect_next(":%s INVITE bob #room" % CHANSERV)
    bob.expect_next(cs_notice(bob, "You have been invited to #room."))
    join(bob, "#room", alice)
    # no access, no invitation
    carol = user(srv, "carol", "carol")
    cs(carol, "INVITE #room")
    carol.expect_next(cs_notice(carol, "You need member access on #room for that."))
    carol.send("JOIN #room")
    carol.expect_next("%s 473 carol #room :Cannot join channel (+i)" % S)
    quiet(alice, bob, carol)


# --------------------------------------------------------------------------------------
# AKICK


def test_akick_account(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "carol", "bob")
    alice = founded(srv)
    carol = user(srv, "carol", "carol")
    join(carol, "#room", alice)
    other = user(srv, "other")
    join(other, "#room", alice, carol)
    # a bare name is an account; present members are kicked on ADD
    cs(alice, "AKICK #room ADD carol Go away")
    alice.expect(cs_notice(alice, "$a:carol added to the AKICK list of #room."))
    for c in (alice, carol, other):
        c.expect(kick_line("#room", "carol", "Go away"))
    # and on join
    carol.send("JOIN #room")
    carol.expect_next(":%s JOIN #room" % mask("carol"))
    carol.expect(kick_line("#room", "carol", "Go away"))
    for c in (alice, other):
        c.expect_next(":%s JOIN #room" % mask("carol"))
        c.expect_next(kick_line("#room", "carol", "Go away"))
    # the nick "carol" without the account is not affected
    carol.send("QUIT")
    carol.expect_closed()
    nick_only = user(srv, "carol")
    join(nick_only, "#room", alice, other)
    quiet(nick_only)
    lines = ask(alice, "AKICK #room LIST")
    assert lines == ["AKICK list of #room:", "  $a:carol (Go away) by alice", "End of AKICK list."]
    cs(alice, "AKICK #room ADD carol")
    alice.expect_next(cs_notice(alice, "$a:carol is already on the AKICK list of #room."))
    # DEL
    cs(alice, "AKICK #room DEL carol")
    alice.expect_next(cs_notice(alice, "$a:carol removed from the AKICK list of #room."))
    cs(alice, "AKICK #room DEL carol")
    alice.expect_next(cs_notice(alice, "$a:carol is not on the AKICK list of #room."))
    carol = user(srv, "carol2", "carol")
    join(carol, "#room", alice, other, nick_only)
    quiet(carol, alice, other)
    assert ask(alice, "AKICK #room LIST") == ["AKICK list of #room:", "End of AKICK list."]
    # only ops
    bob = user(srv, "bob", "bob")
    cs(bob, "AKICK #room LIST")
    bob.expect_next(cs_notice(bob, "You need op access on #room for that."))
    quiet(alice, bob)


def test_akick_mask(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "opguy")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD opguy op")
    alice.expect_next(cs_notice(alice, "opguy added to the access list of #room as op."))
    cs(alice, "AKICK #room ADD *!*@127.0.0.2")
    alice.expect_next(cs_notice(alice, "*!*@127.0.0.2 added to the AKICK list of #room."))
    cs(alice, "AKICK #room ADD troll!*@* no trolls")
    alice.expect_next(cs_notice(alice, "troll!*@* added to the AKICK list of #room."))
    # default reason
    far = connect_from(srv, "127.0.0.2")
    far.register("far")
    far.send("JOIN #room")
    far.read_until(kick_line("#room", "far", "You are banned from this channel"))
    alice.expect_next(":far!far@127.0.0.2 JOIN #room")
    alice.expect_next(kick_line("#room", "far", "You are banned from this channel"))
    troll = user(srv, "troll")
    troll.send("JOIN #room")
    troll.read_until(kick_line("#room", "troll", "no trolls"))
    alice.expect_next(":%s JOIN #room" % mask("troll"))
    alice.expect_next(kick_line("#room", "troll", "no trolls"))
    # the access list wins over AKICK
    opfar = connect_from(srv, "127.0.0.2")
    opfar.register("opfar", password="opguy:" + PW)
    join(opfar, "#room", alice)
    for c in (alice, opfar):
        c.expect_next(cs_mode("#room", "+o opfar"))
    lines = ask(alice, "AKICK #room LIST")
    assert sorted(lines[1:-1]) == sorted(["  *!*@127.0.0.2 (You are banned from this channel) by alice",
                                          "  troll!*@* (no trolls) by alice"]), lines
    cs(alice, "AKICK #room DEL troll!*@*")
    alice.expect(cs_notice(alice, "troll!*@* removed from the AKICK list of #room."))
    join(troll, "#room", alice, opfar)
    quiet(troll, alice, opfar)


# --------------------------------------------------------------------------------------
# SET


def test_set_restricted(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "carol")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD bob member")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as member."))
    bob = user(srv, "bob", "bob")
    carol = user(srv, "carol", "carol")
    anon = user(srv, "anon")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    join(anon, "#room", alice, bob, carol)
    reason = "This channel is restricted to its access list"
    # only the founder sets
    cs(bob, "SET #room RESTRICTED ON")
    bob.expect_next(cs_notice(bob, "You need founder access on #room for that."))
    cs(alice, "SET #room RESTRICTED ON")
    alice.expect(cs_notice(alice, "RESTRICTED of #room is now ON."))
    for c in (alice, bob):
        kicks = [c.expect(lambda l: l.command == "KICK") for _ in range(2)]
        assert sorted(kicks) == sorted([kick_line("#room", "carol", reason),
                                        kick_line("#room", "anon", reason)]), kicks
    # each kicked user saw its own KICK (and perhaps the other's, if it came first)
    for c in (carol, anon):
        c.expect(kick_line("#room", c.nick, reason))
        rest = sync(c)
        assert all(l.source == CHANSERV and l.command == "KICK" for l in rest), rest
    # kept out
    carol.send("JOIN #room")
    carol.expect_next(":%s JOIN #room" % mask("carol"))
    carol.read_until(lambda l: l.command == "366")
    carol.expect_next(kick_line("#room", "carol", reason))
    for c in (alice, bob):
        c.expect_next(":%s JOIN #room" % mask("carol"))
        c.expect_next(kick_line("#room", "carol", reason))
    quiet(carol, alice, bob, anon)
    # OFF again
    cs(alice, "SET #room RESTRICTED OFF")
    alice.expect(cs_notice(alice, "RESTRICTED of #room is now OFF."))
    sync(alice)
    alice.pending.clear()
    sync(bob)
    bob.pending.clear()
    join(carol, "#room", alice, bob)
    quiet(carol, alice, bob)
    assert "RESTRICTED OFF" in ask(alice, "INFO #room")[4]


def test_set_mlock(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob")
    alice = founded(srv)
    bob = user(srv, "bob", "bob")
    join(bob, "#room", alice)
    alice.send("MODE #room +o bob")
    for c in (alice, bob):
        c.expect_next(":%s MODE #room +o bob" % mask("alice"))
    cs(alice, "SET #room MLOCK +ntR")
    alice.expect(cs_notice(alice, "MLOCK of #room is now +ntR."))
    for c in (alice, bob):
        c.expect(cs_mode("#room", "+R"))
    # an op removes a locked mode: ChanServ puts it back
    bob.send("MODE #room -R")
    for c in (alice, bob):
        c.expect_next(":%s MODE #room -R" % mask("bob"))
        c.expect_next(cs_mode("#room", "+R"))
    bob.send("MODE #room -t")
    for c in (alice, bob):
        c.expect_next(":%s MODE #room -t" % mask("bob"))
        c.expect_next(cs_mode("#room", "+t"))
    # unlocked modes stay as set
    bob.send("MODE #room +m")
    for c in (alice, bob):
        c.expect_next(":%s MODE #room +m" % mask("bob"))
    quiet(bob, alice)
    alice.send("MODE #room")
    line = alice.expect_next(lambda l: l.command == "324")
    assert sorted(line.params[2].lstrip("+")) == sorted("mntR"), line
    alice.read_until(lambda l: l.command == "329")
    # a lock removing a mode
    cs(alice, "SET #room MLOCK +nt-m")
    alice.expect(cs_notice(alice, "MLOCK of #room is now +nt-m."))
    for c in (alice, bob):
        c.expect(cs_mode("#room", "-m"))
    cs(alice, "SET #room MLOCK +k")
    alice.expect_next(lambda l: l.source == CHANSERV and l.params[1].startswith("Syntax: SET"))
    assert "MLOCK +nt-m" in ask(alice, "INFO #room")[4]
    quiet(alice, bob)


def test_set_topiclock(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "opper")
    alice = founded(srv)
    alice.send("TOPIC #room :The official topic")
    alice.expect_next(":%s TOPIC #room :The official topic" % mask("alice"))
    cs(alice, "ACCESS #room ADD opper op")
    alice.expect_next(cs_notice(alice, "opper added to the access list of #room as op."))
    cs(alice, "SET #room TOPICLOCK ON")
    alice.expect_next(cs_notice(alice, "TOPICLOCK of #room is now ON."))
    bob = user(srv, "bob", "bob")
    join(bob, "#room", alice)
    alice.send("MODE #room +o bob")
    for c in (alice, bob):
        c.expect_next(":%s MODE #room +o bob" % mask("alice"))
    # a channel operator without op access cannot change it
    bob.send("TOPIC #room :hijacked")
    for c in (alice, bob):
        c.expect(":%s TOPIC #room :hijacked" % mask("bob"))
        c.expect(":%s TOPIC #room :The official topic" % CHANSERV)
    bob.expect(cs_notice(bob, "The topic of #room is locked."))
    quiet(bob, alice)
    bob.send("TOPIC #room")
    bob.expect_next("%s 332 bob #room :The official topic" % S)
    bob.expect_next(lambda l: l.command == "333")
    # op access may
    opper = user(srv, "opper", "opper")
    join(opper, "#room", alice, bob)
    for c in (alice, bob, opper):
        c.expect_next(cs_mode("#room", "+o opper"))
    opper.send("TOPIC #room :A new official topic")
    for c in (alice, bob, opper):
        c.expect_next(":%s TOPIC #room :A new official topic" % mask("opper"))
    bob.send("TOPIC #room :again")
    for c in (alice, bob):
        c.expect(":%s TOPIC #room :again" % mask("bob"))
        c.expect(":%s TOPIC #room :A new official topic" % CHANSERV)
    bob.expect(cs_notice(bob, "The topic of #room is locked."))
    opper.expect_next(":%s TOPIC #room :again" % mask("bob"))
    opper.expect_next(":%s TOPIC #room :A new official topic" % CHANSERV)
    cs(alice, "SET #room TOPICLOCK maybe")
    alice.expect(lambda l: l.source == CHANSERV and l.params[1].startswith("Syntax: SET"))
    quiet(alice, bob, opper)


def test_set_description_in_list(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice")
    alice = founded(srv)
    cs(alice, "SET #room DESCRIPTION A cosy place for tests")
    confirmation = alice.expect_next(lambda l: l.source == CHANSERV)
    bob = user(srv, "bob")
    bob.send("LIST")
    lines = bob.read_until(lambda l: l.command == "323")
    assert "%s 322 bob #room 1 :[+nt] A cosy place for tests" % S in lines, lines
    alice.send("TOPIC #room :Tests today")
    alice.expect_next(":%s TOPIC #room :Tests today" % mask("alice"))
    bob.send("LIST #room")
    lines = bob.read_until(lambda l: l.command == "323")
    assert "%s 322 bob #room 1 :[+nt] Tests today -- A cosy place for tests" % S in lines, lines
    assert ask(bob, "INFO #room")[3] == "Description: A cosy place for tests"
    quiet(alice, bob)
    # the confirmation names the whole description
    assert confirmation == cs_notice(alice, "DESCRIPTION of #room is now A cosy place for tests."), confirmation


# --------------------------------------------------------------------------------------
# TRANSFER and DROP


def test_transfer(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob")
    alice = founded(srv)
    bob = user(srv, "bob", "bob")
    cs(bob, "TRANSFER #room bob")
    bob.expect_next(cs_notice(bob, "You need founder access on #room for that."))
    cs(alice, "TRANSFER #room nosuchaccount")
    alice.expect_next(cs_notice(alice, "Transfer failed: no such account."))
    cs(alice, "TRANSFER #room bob")
    alice.expect_next(cs_notice(alice, "#room now belongs to bob."))
    assert ask(alice, "INFO #room")[1] == "Founder: bob"
    cs(alice, "SET #room RESTRICTED ON")
    alice.expect_next(cs_notice(alice, "You need founder access on #room for that."))
    cs(bob, "SET #room TOPICLOCK ON")
    bob.expect_next(cs_notice(bob, "TOPICLOCK of #room is now ON."))
    lines = ask(bob, "ACCESS #room LIST")
    assert lines[1] == "  %-20s founder" % "bob", lines
    wait_for(lambda: backend.query("SELECT founder FROM channels") == [("bob",)], what="the new founder row")
    quiet(alice, bob)


def test_drop(make_server, backend):
    srv = start(make_server, backend, opers=True)
    accounts(srv, "alice", "bob")
    alice = founded(srv)
    cs(alice, "ACCESS #room ADD bob op")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as op."))
    cs(alice, "AKICK #room ADD *!*@10.*")
    alice.expect_next(cs_notice(alice, "*!*@10.* added to the AKICK list of #room."))
    bob = user(srv, "bob", "bob")
    cs(bob, "DROP #room")
    bob.expect_next(cs_notice(bob, "You need founder access on #room for that."))
    # not even an IRC operator drops someone else's channel
    root = srv.connect("root")
    oper_up(root)
    cs(root, "DROP #room")
    root.expect_next(cs_notice(root, "You need founder access on #room for that."))
    # (but operators may read the access list)
    assert ask(root, "ACCESS #room LIST")[0] == "Access list of #room:"
    cs(alice, "DROP #room")
    alice.expect_next(cs_notice(alice, "#room has been dropped."))
    cs(alice, "INFO #room")
    alice.expect_next(cs_notice(alice, "#room is not registered."))
    # the channel is an ordinary one again: it goes away when empty
    alice.send("PART #room")
    alice.expect_next(":%s PART #room" % mask("alice"))
    alice.send("LIST")
    lines = alice.read_until(lambda l: l.command == "323")
    assert not [l for l in lines if l.command == "322"], lines
    # and the database forgot it
    for table in ("channels", "channel_access", "channel_akick"):
        wait_for(lambda: backend.query("SELECT COUNT(*) FROM %s" % table) == [("0",)],
                 what="%s emptied" % table)
    quiet(alice, bob, root)


# --------------------------------------------------------------------------------------
# Persistence


def test_persistence_across_restart(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice", "bob", "carol", "dave", "eve")
    alice = founded(srv, description="Kept across restarts")
    alice.send("TOPIC #room :Persistent topic")
    alice.expect_next(":%s TOPIC #room :Persistent topic" % mask("alice"))
    cs(alice, "ACCESS #room ADD bob op")
    alice.expect_next(cs_notice(alice, "bob added to the access list of #room as op."))
    cs(alice, "ACCESS #room ADD dave voice")
    alice.expect_next(cs_notice(alice, "dave added to the access list of #room as voice."))
    cs(alice, "AKICK #room ADD carol not you")
    alice.expect_next(cs_notice(alice, "$a:carol added to the AKICK list of #room."))
    alice.send("MODE #room +b eve!*@*")
    alice.expect_next(":%s MODE #room +b eve!*@*" % mask("alice"))
    alice.send("MODE #room +b gone!*@*")
    alice.expect_next(":%s MODE #room +b gone!*@*" % mask("alice"))
    alice.send("MODE #room -b gone!*@*")
    alice.expect_next(":%s MODE #room -b gone!*@*" % mask("alice"))
    cs(alice, "SET #room MLOCK +ntR")
    alice.expect_next(cs_notice(alice, "MLOCK of #room is now +ntR."))
    alice.expect_next(cs_mode("#room", "+R"))
    cs(alice, "SET #room TOPICLOCK ON")
    alice.expect_next(cs_notice(alice, "TOPICLOCK of #room is now ON."))
    # the room empties: it stays
    alice.send("PART #room")
    alice.expect_next(":%s PART #room" % mask("alice"))
    alice.send("LIST #room")
    lines = alice.read_until(lambda l: l.command == "323")
    assert list_entry(lines, "#room") == (0, set("ntR"), "Persistent topic -- Kept across restarts"), lines
    sync(alice)
    srv.stop()
    srv.start()
    # after the restart, while empty
    watcher = user(srv, "watcher")
    watcher.send("LIST")
    lines = watcher.read_until(lambda l: l.command == "323")
    assert list_entry(lines, "#room") == (0, set("ntR"), "Persistent topic -- Kept across restarts"), lines
    watcher.send("MODE #room")
    line = watcher.expect_next(lambda l: l.command == "324")
    assert sorted(line.params[2].lstrip("+")) == sorted("ntR"), line
    watcher.read_until(lambda l: l.command == "329")
    # mode lock: an unregistered user cannot join (+R)
    watcher.send("JOIN #room")
    watcher.expect_next(lambda l: l.command == "477" and l.params[1] == "#room")
    # access: +o for bob, with the topic restored
    bob = user(srv, "bob", "bob")
    lines = join(bob, "#room")
    assert "%s 332 bob #room :Persistent topic" % S in lines, lines
    bob.expect_next(cs_mode("#room", "+o bob"))
    dave = user(srv, "dave", "dave")
    join(dave, "#room", bob)
    for c in (bob, dave):
        c.expect_next(cs_mode("#room", "+v dave"))
    # the ban set by MODE
    eve = user(srv, "eve", "eve")
    eve.send("JOIN #room")
    eve.expect_next("%s 474 eve #room :Cannot join channel (+b)" % S)
    bob.send("MODE #room +b")
    lines = bob.read_until(lambda l: l.command == "368")
    assert [l.params[2] for l in lines if l.command == "367"] == ["eve!*@*"], lines
    # the AKICK
    carol = user(srv, "carol", "carol")
    carol.send("JOIN #room")
    carol.read_until(kick_line("#room", "carol", "not you"))
    for c in (bob, dave):
        c.expect_next(":%s JOIN #room" % mask("carol"))
        c.expect_next(kick_line("#room", "carol", "not you"))
    # the mode lock and the topic lock
    bob.send("MODE #room -R")
    for c in (bob, dave):
        c.expect(":%s MODE #room -R" % mask("bob"))
        c.expect(cs_mode("#room", "+R"))
    bob.send("MODE #room +o dave")
    for c in (bob, dave):
        c.expect(":%s MODE #room +o dave" % mask("bob"))
    dave.send("TOPIC #room :changed")
    for c in (bob, dave):
        c.expect(":%s TOPIC #room :changed" % mask("dave"))
        c.expect(":%s TOPIC #room :Persistent topic" % CHANSERV)
    dave.expect(cs_notice(dave, "The topic of #room is locked."))
    info = ask(bob, "INFO #room")
    assert info[1] == "Founder: alice" and info[3] == "Description: Kept across restarts", info
    assert info[4] == "Settings: MLOCK +ntR, TOPICLOCK ON, KEEPTOPIC ON, RESTRICTED OFF", info
    quiet(bob, dave, eve, carol, watcher)


def test_lists_persist_across_restart(make_server, backend):
    """+b/+e/+I of a registered channel come back after a restart, including those set
    before it was registered."""
    srv = start(make_server, backend)
    accounts(srv, "alice")
    alice = user(srv, "alice", "alice")
    join(alice, "#room")
    alice.send("MODE #room +b early!*@*")
    alice.expect_next(":%s MODE #room +b early!*@*" % mask("alice"))
    cs(alice, "REGISTER #room")
    alice.expect_next(cs_notice(alice, "#room is now registered to alice."))
    alice.send("MODE #room +beI late!*@* friend!*@* guest!*@*")
    alice.expect_next(":%s MODE #room +beI late!*@* friend!*@* guest!*@*" % mask("alice"))
    sync(alice)
    srv.stop()
    srv.start()
    alice = user(srv, "alice", "alice")
    lists = {}
    for letter, end in (("b", "368"), ("e", "349"), ("I", "347")):
        alice.send("MODE #room " + letter)
        lines = alice.read_until(lambda l: l.command == end)
        lists[letter] = sorted(l.params[2] for l in lines[:-1])
    assert lists["e"] == ["friend!*@*"], lists
    assert lists["I"] == ["guest!*@*"], lists
    assert "late!*@*" in lists["b"], lists
    assert lists["b"] == ["early!*@*", "late!*@*"], lists


def test_topic_kept_across_restart(make_server, backend):
    """KEEPTOPIC (on by default): the last topic comes back after a restart, with its
    setter and time."""
    srv = start(make_server, backend)
    accounts(srv, "alice")
    alice = founded(srv)
    alice.send("TOPIC #room :First")
    alice.expect_next(":%s TOPIC #room :First" % mask("alice"))
    alice.send("TOPIC #room :Second and last")
    alice.expect_next(":%s TOPIC #room :Second and last" % mask("alice"))
    alice.send("TOPIC #room")
    alice.expect_next("%s 332 alice #room :Second and last" % S)
    before = alice.expect_next(lambda l: l.command == "333")
    sync(alice)
    srv.stop()
    srv.start()
    bob = user(srv, "bob")
    bob.send("TOPIC #room")
    bob.expect_next("%s 332 bob #room :Second and last" % S)
    after = bob.expect_next(lambda l: l.command == "333")
    assert after.params[2:] == before.params[2:], (before, after)


def test_keeptopic_off(make_server, backend):
    srv = start(make_server, backend)
    accounts(srv, "alice")
    alice = founded(srv)
    cs(alice, "SET #room KEEPTOPIC OFF")
    alice.expect_next(cs_notice(alice, "KEEPTOPIC of #room is now OFF."))
    alice.send("TOPIC #room :Not kept")
    alice.expect_next(":%s TOPIC #room :Not kept" % mask("alice"))
    sync(alice)
    srv.stop()
    srv.start()
    bob = user(srv, "bob")
    bob.send("TOPIC #room")
    bob.expect_next("%s 331 bob #room :No topic is set" % S)
    info = ask(bob, "INFO #room")
    assert info[4] == "Settings: MLOCK (none), TOPICLOCK OFF, KEEPTOPIC OFF, RESTRICTED OFF", info


# --------------------------------------------------------------------------------------
# Access entries open doors


def refused(c, numeric, chan, letter):
    c.send("JOIN " + chan)
    c.expect_next("%s %s %s %s :Cannot join channel (+%s)" % (S, numeric, c.nick, chan, letter))


def enters(c, chan, *members):
    """c joins chan past its modes, then leaves again."""
    join(c, chan, *members)
    c.send("PART " + chan)
    for m in (c,) + members:
        m.expect(lambda l: l.command == "PART" and l.nick == c.nick)


def set_mode(op, chan, modes, *others):
    op.send("MODE %s %s" % (chan, modes))
    for c in (op,) + others:
        c.expect(lambda l: l.command == "MODE" and l.params[0] == chan)


def test_access_entry_passes_invite_key_and_limit(make_server, backend):
    """An access entry (member and up) lets its logged-in account through +i, +k and +l,
    like an invite exception; the same nick without the account is refused, and an AKICK
    on the account still refuses. Bans still apply to member and voice entries; op
    entries (who could lift the ban through ChanServ anyway) pass them too."""
    srv = start(make_server, backend)
    accounts(srv, "alice", "dave", "mal", "olga")
    alice = founded(srv)
    for name, level in (("dave", "member"), ("mal", "member"), ("olga", "op")):
        cs(alice, "ACCESS #room ADD %s %s" % (name, level))
        alice.expect_next(cs_notice(alice, "%s added to the access list of #room as %s." % (name, level)))
    cs(alice, "AKICK #room ADD mal")
    alice.expect_next(cs_notice(alice, "$a:mal added to the AKICK list of #room."))
    dave = user(srv, "dave", "dave")
    mal = user(srv, "mal", "mal")
    olga = user(srv, "olga", "olga")
    anon = user(srv, "dave_")
    set_mode(alice, "#room", "+i")
    enters(dave, "#room", alice)
    refused(anon, "473", "#room", "i")
    refused(mal, "473", "#room", "i")
    set_mode(alice, "#room", "-i+k sesame")
    enters(dave, "#room", alice)
    refused(anon, "475", "#room", "k")
    refused(mal, "475", "#room", "k")
    set_mode(alice, "#room", "-k+l sesame 1")
    enters(dave, "#room", alice)
    refused(anon, "471", "#room", "l")
    refused(mal, "471", "#room", "l")
    # logged out, dave is like anyone else
    dave.send("PRIVMSG NickServ :LOGOUT")
    dave.expect_next("%s 901 dave %s :You are now logged out" % (S, mask("dave")))
    dave.expect_next(":NickServ!NickServ@services. NOTICE dave :You are now logged out.")
    refused(dave, "471", "#room", "l")
    set_mode(alice, "#room", "-l+b dav*!*@*")
    set_mode(alice, "#room", "+b olga!*@*")
    dave2 = user(srv, "dave2", "dave")
    refused(dave2, "474", "#room", "b")
    join(olga, "#room", alice)
    for c in (alice, olga):
        c.expect(cs_mode("#room", "+o olga"))
    quiet(alice, dave, dave2, mal, olga, anon)
