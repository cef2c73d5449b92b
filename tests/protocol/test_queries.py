"""Questions about users: WHO (and WHOX), WHOIS, WHOWAS, ISON, USERHOST; SETNAME;
MONITOR."""

import re
import time

from chanutil import (FAST_ACCOUNTS, S, isupport, join, mask, num, quiet, register_account, set_modes,
                      sync)
from conftest import HOST, SERVER_NAME

DESC = "Parley test server"


def who_line(me, chan, nick, flags, realname="Parley Tester"):
    return num("352", me, "%s %s %s %s %s %s :0 %s" % (chan, nick[:10], HOST, SERVER_NAME, nick, flags, realname))


def who_reply(c, mask_):
    """Sends WHO mask_; returns the set of 352/354 lines, checking the 315 ends them."""
    c.send("WHO " + mask_)
    lines = c.read_until(lambda l: l.command == "315")
    assert lines[-1] == num("315", c, "%s :End of WHO list" % mask_.split(" ")[0])
    body = lines[:-1]
    assert len(set(body)) == len(body), body
    return set(body)


# --- WHO -----------------------------------------------------------------------------------


def who_room(server, caps=None):
    alice = server.connect("alice", realname="Alice Liddell")
    bob = server.connect("bob")
    carol = server.connect("carol")
    me = server.connect("me", caps=caps)
    join(alice, "#room")
    join(bob, "#room", alice)
    join(carol, "#room", alice, bob)
    set_modes(alice, "#room", "+ovv bob bob carol", bob, carol)
    carol.send("AWAY :not here")
    carol.expect(lambda l: l.command == "306")
    return alice, bob, carol, me


def test_who_channel(server):
    alice, bob, carol, me = who_room(server)
    assert who_reply(me, "#room") == {
        who_line("me", "#room", "alice", "H@", "Alice Liddell"),
        who_line("me", "#room", "bob", "H@"),
        who_line("me", "#room", "carol", "G+"),
    }


def test_who_channel_multi_prefix(server):
    alice, bob, carol, me = who_room(server, caps=["multi-prefix"])
    assert who_reply(me, "#room") == {
        who_line("me", "#room", "alice", "H@", "Alice Liddell"),
        who_line("me", "#room", "bob", "H@+"),
        who_line("me", "#room", "carol", "G+"),
    }


def test_who_mask(server):
    alice, bob, carol, me = who_room(server)
    assert who_reply(me, "ali*") == {who_line("me", "*", "alice", "H", "Alice Liddell")}
    # realname matches too
    assert who_reply(me, "*Liddell") == {who_line("me", "*", "alice", "H", "Alice Liddell")}
    assert who_reply(me, "bob") == {who_line("me", "*", "bob", "H")}
    assert who_reply(me, "nobody") == set()
    assert who_reply(me, "nobody*") == set()
    everyone = who_reply(me, "*")
    assert {l.params[5] for l in everyone} == {"alice", "bob", "carol", "me"}


def test_who_hides_invisible_users(server):
    alice = server.connect("alice")
    ghost = server.connect("ghost")
    me = server.connect("me")
    ghost.send("MODE ghost +i")
    ghost.expect(lambda l: l.command == "MODE")
    join(alice, "#room")
    join(ghost, "#room", alice)
    assert who_reply(me, "#room") == {who_line("me", "#room", "alice", "H@")}
    assert who_reply(me, "gh*") == set()
    # an exact nick is answered anyway
    assert who_reply(me, "ghost") == {who_line("me", "*", "ghost", "H")}
    # sharing a channel makes them visible
    join(me, "#room", alice, ghost)
    assert who_reply(me, "gh*") == {who_line("me", "*", "ghost", "H")}
    assert who_reply(me, "#room") == {who_line("me", "#room", "alice", "H@"), who_line("me", "#room", "ghost", "H"),
                                      who_line("me", "#room", "me", "H")}


def test_who_secret_channel_hidden_from_outsiders(server):
    alice = server.connect("alice")
    me = server.connect("me")
    join(alice, "#secret")
    set_modes(alice, "#secret", "+s")
    assert who_reply(me, "#secret") == set()
    assert who_reply(alice, "#secret") == {who_line("alice", "#secret", "alice", "H@")}


def test_who_nonexistent_channel(server):
    me = server.connect("me")
    assert who_reply(me, "#nowhere") == set()


def test_who_bot_flag(server):
    alice = server.connect("alice")
    bot = server.connect("robot")
    bot.send("MODE robot +B")
    bot.expect(lambda l: l.command == "MODE")
    assert who_reply(alice, "robot") == {who_line("alice", "*", "robot", "HB")}


def test_whox_fields_and_token(server):
    alice, bob, carol, me = who_room(server)
    me.send("WHO #room %tcuihsnfdlar,123")
    lines = me.read_until(lambda l: l.command == "315")
    assert lines[-1] == num("315", "me", "#room :End of WHO list")
    got = {}
    for l in lines[:-1]:
        # %i: the real address is only for the user itself and see_hidden operators
        m = re.fullmatch(r"%s 354 me 123 #room (\S+) 255\.255\.255\.255 %s %s (\S+) (\S+) 0 (\d+) 0 :(.*)" % (
            re.escape(S), re.escape(HOST), re.escape(SERVER_NAME)), l)
        assert m, l
        user, nick, flags, idle, realname = m.group(1), m.group(2), m.group(3), int(m.group(4)), m.group(5)
        assert idle < 60
        got[nick] = (user, flags, realname)
    assert got == {"alice": ("alice", "H@", "Alice Liddell"), "bob": ("bob", "H@", "Parley Tester"),
                   "carol": ("carol", "G+", "Parley Tester")}


def test_whox_field_order_is_fixed(server):
    server.connect("alice")
    me = server.connect("me")
    # asked in any order, the fields come in the standard order
    me.send("WHO alice %nuf")
    me.expect_next(num("354", "me", "alice alice H"))
    me.expect_next(num("315", "me", "alice :End of WHO list"))
    me.send("WHO alice %tn,7")
    me.expect_next(num("354", "me", "7 alice"))
    me.expect_next(num("315", "me", "alice :End of WHO list"))
    me.send("WHO alice %na")
    me.expect_next(num("354", "me", "alice 0"))
    me.expect_next(num("315", "me", "alice :End of WHO list"))


def test_whox_account(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice")
    me = srv.connect("me")
    register_account(alice)
    me.send("WHO alice %na")
    me.expect_next(num("354", "me", "alice alice"))
    me.expect_next(num("315", "me", "alice :End of WHO list"))


def test_isupport_whox(server):
    c = server.client()
    tokens = isupport(c.register("alice"))
    assert "WHOX" in tokens


# --- WHOIS ---------------------------------------------------------------------------------


def whois(c, nick):
    c.send("WHOIS " + nick)
    return c.read_until(lambda l: l.command == "318")


def idle_line(me, nick, line, signon_after):
    m = re.fullmatch(r"%s 317 %s %s (\d+) (\d+) :seconds idle, signon time" % (re.escape(S), me, nick), line)
    assert m, line
    assert int(m.group(1)) < 60
    assert signon_after - 2 <= int(m.group(2)) <= time.time() + 1
    return m


def test_whois_basic(server):
    start = int(time.time())
    bob = server.connect("bob", realname="Bob the Builder")
    alice = server.connect("alice")
    join(bob, "#one")
    join(alice, "#two")
    join(bob, "#two", alice)
    lines = whois(alice, "bob")
    assert lines[0] == num("311", "alice", "bob bob %s * :Bob the Builder" % HOST)
    assert lines[1].startswith(num("319", "alice", "bob :")), lines[1]
    assert sorted(lines[1].params[-1].split()) == ["#two", "@#one"]
    assert lines[2] == num("312", "alice", "bob %s :%s" % (SERVER_NAME, DESC))
    idle_line("alice", "bob", lines[3], start)
    assert lines[4] == num("318", "alice", "bob :End of /WHOIS list")
    assert len(lines) == 5, lines


def test_whois_nick_case_and_server_param(server):
    server.connect("Bob")
    alice = server.connect("alice")
    lines = whois(alice, "BOB")
    assert lines[0] == num("311", "alice", "Bob Bob %s * :Parley Tester" % HOST)
    assert lines[-1] == num("318", "alice", "Bob :End of /WHOIS list")
    lines = whois(alice, "%s bob" % SERVER_NAME)
    assert lines[0] == num("311", "alice", "Bob Bob %s * :Parley Tester" % HOST)


def test_whois_self_shows_host(server):
    alice = server.connect("alice")
    lines = whois(alice, "alice")
    assert num("378", "alice", "alice :is connecting from *@%s %s" % (HOST, HOST)) in lines


def test_whois_nonexistent(server):
    alice = server.connect("alice")
    lines = whois(alice, "nobody")
    assert lines == [num("401", "alice", "nobody :No such nick/channel"),
                     num("318", "alice", "nobody :End of /WHOIS list")]


def test_whois_away_tls_bot(server):
    alice = server.connect("alice")
    bob = server.connect("bob", tls=True)
    bob.send("MODE bob +B")
    bob.expect(lambda l: l.command == "MODE")
    bob.send("AWAY :coffee")
    bob.expect(lambda l: l.command == "306")
    lines = whois(alice, "bob")
    assert [l.command for l in lines] == ["311", "312", "301", "671", "335", "317", "318"], lines
    assert lines[2] == num("301", "alice", "bob :coffee")
    assert lines[3] == num("671", "alice", "bob :is using a secure connection")
    assert lines[4] == num("335", "alice", "bob :is a bot on ParleyTest")


def test_whois_plaintext_has_no_671(server):
    alice = server.connect("alice")
    server.connect("bob")
    assert not [l for l in whois(alice, "bob") if l.command == "671"]


def test_whois_account_330(make_server):
    srv = make_server(sections=FAST_ACCOUNTS)
    alice = srv.connect("alice")
    bob = srv.connect("bob")
    register_account(bob)
    lines = whois(alice, "bob")
    assert num("330", "alice", "bob bob :is logged in as") in lines
    assert [l.command for l in lines] == ["311", "312", "330", "317", "318"], lines


def test_whois_hides_secret_channels(server):
    bob = server.connect("bob")
    alice = server.connect("alice")
    carol = server.connect("carol")
    join(bob, "#public")
    join(bob, "#secret")
    join(bob, "#private")
    set_modes(bob, "#secret", "+s")
    set_modes(bob, "#private", "+p")
    join(carol, "#secret", bob)
    lines = whois(alice, "bob")
    assert lines[1] == num("319", "alice", "bob :@#public")
    # a member of the secret channel sees it
    lines = whois(carol, "bob")
    assert sorted(lines[1].params[-1].split()) == ["@#public", "@#secret"]
    # and bob sees all his own channels
    lines = whois(bob, "bob")
    assert sorted(lines[1].params[-1].split()) == ["@#private", "@#public", "@#secret"]


def test_whois_multi_prefix(server):
    bob = server.connect("bob")
    alice = server.connect("alice", caps=["multi-prefix"])
    join(bob, "#room")
    set_modes(bob, "#room", "+v bob")
    lines = whois(alice, "bob")
    assert lines[1] == num("319", "alice", "bob :@+#room")


def test_whois_without_param_431_or_461(server):
    alice = server.connect("alice")
    alice.send("WHOIS")
    alice.expect_next(num("461", "alice", "WHOIS :Not enough parameters"))


# --- WHOWAS --------------------------------------------------------------------------------


WHEN = r"[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d \d{4}"


def test_whowas_after_quit(server):
    alice = server.connect("alice")
    bob = server.connect("bob", realname="Bob Gone")
    bob.send("QUIT")
    bob.expect_closed()
    alice.send("WHOWAS bob")
    alice.expect_next(num("314", "alice", "bob bob %s * :Bob Gone" % HOST))
    alice.expect_next(re.compile(r"^%s 312 alice bob %s :%s$" % (re.escape(S), re.escape(SERVER_NAME), WHEN)))
    alice.expect_next(num("369", "alice", "bob :End of WHOWAS"))


def test_whowas_after_nick_change_and_count(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    bob.send("NICK robert")
    bob.expect(lambda l: l.command == "NICK")
    bob.send("NICK bob")
    bob.expect(lambda l: l.command == "NICK")
    bob.send("NICK bobby")
    bob.expect(lambda l: l.command == "NICK")
    alice.send("WHOWAS bob")
    lines = alice.read_until(lambda l: l.command == "369")
    assert [l.command for l in lines] == ["314", "312", "314", "312", "369"]
    assert lines[0] == num("314", "alice", "bob bob %s * :Parley Tester" % HOST)
    alice.send("WHOWAS bob 1")
    lines = alice.read_until(lambda l: l.command == "369")
    assert [l.command for l in lines] == ["314", "312", "369"]
    alice.send("WHOWAS robert")
    alice.expect_next(num("314", "alice", "robert bob %s * :Parley Tester" % HOST))


def test_whowas_unknown(server):
    alice = server.connect("alice")
    alice.send("WHOWAS neverseen")
    alice.expect_next(num("406", "alice", "neverseen :There was no such nickname"))
    alice.expect_next(num("369", "alice", "neverseen :End of WHOWAS"))


# --- ISON / USERHOST -----------------------------------------------------------------------


def test_ison(server):
    alice = server.connect("alice")
    server.connect("Bob")
    alice.send("ISON bob nobody alice")
    alice.expect_next(num("303", "alice", ":Bob alice"))
    alice.send("ISON :nobody BOB")
    alice.expect_next(num("303", "alice", ":Bob"))
    alice.send("ISON nobody")
    alice.expect_next(num("303", "alice", ":"))
    alice.send("ISON")
    alice.expect_next(num("461", "alice", "ISON :Not enough parameters"))


def test_userhost(server):
    alice = server.connect("alice")
    bob = server.connect("bob")
    bob.send("AWAY :away")
    bob.expect(lambda l: l.command == "306")
    alice.send("USERHOST alice bob nobody")
    alice.expect_next(num("302", "alice", ":alice=+alice@%s bob=-bob@%s" % (HOST, HOST)))
    alice.send("USERHOST nobody")
    alice.expect_next(num("302", "alice", ":"))
    alice.send("USERHOST")
    alice.expect_next(num("461", "alice", "USERHOST :Not enough parameters"))


def test_userhost_at_most_five(server):
    alice = server.connect("alice")
    for n in ("u1", "u2", "u3", "u4", "u5", "u6"):
        server.connect(n)
    alice.send("USERHOST u1 u2 u3 u4 u5 u6")
    alice.expect_next(num("302", "alice", ":" + " ".join("%s=+%s@%s" % (n, n, HOST)
                                                        for n in ("u1", "u2", "u3", "u4", "u5"))))


def test_userhost_five_long_nicks_in_full(make_server):
    srv = make_server(nicklen=64)
    nicks = ["N%d%s" % (i, "x" * 62) for i in range(5)]
    for n in nicks:
        srv.connect(n)
    me = srv.connect("me")
    me.send("USERHOST " + " ".join(nicks))
    # five 64-character nicks fit one 302 line (459 bytes): none may be cut
    me.expect_next(num("302", "me", ":" + " ".join("%s=+%s@%s" % (n, n[:10], HOST) for n in nicks)))


def test_userhost_long_nicks_and_long_hosts_no_overflow(make_server):
    # five entries of 141 bytes (64-byte nicks, 64-byte cloaked hosts) cannot share one
    # 512-byte line: each entry given must still be complete, and none may be lost
    srv = make_server(nicklen=64, sections={"privacy": {"cloak_default": True, "cloak_secret": "s3cret",
                                                        "cloak_suffix": "c" * 40}})
    nicks = ["N%d%s" % (i, "x" * 62) for i in range(5)]
    for n in nicks:
        srv.connect(n)
    me = srv.connect("me")
    me.send("WHOIS " + nicks[0])
    host = me.expect(lambda l: l.command == "311").params[3]
    assert host.endswith("ccc") and len(host) > 40, host
    me.read_until(lambda l: l.command == "318")
    me.send("USERHOST " + " ".join(nicks))
    lines = sync(me)
    entries = []
    for l in lines:
        assert l.command == "302" and len(l.raw) <= 510, l
        entries += l.params[-1].split()
    assert sorted(entries) == sorted("%s=+%s@%s" % (n, n[:10], host) for n in nicks), lines


# --- SETNAME -------------------------------------------------------------------------------


def test_setname(server):
    alice = server.connect("alice", caps=["setname"])
    bob = server.connect("bob", caps=["setname"])
    plain = server.connect("plain")
    join(alice, "#room")
    join(bob, "#room", alice)
    join(plain, "#room", alice, bob)
    alice.send("SETNAME :Alice in Wonderland")
    line = ":%s SETNAME :Alice in Wonderland" % mask("alice")
    alice.expect_next(line)
    bob.expect_next(line)
    quiet(alice, bob, plain)
    lines = whois(plain, "alice")
    assert lines[0] == num("311", "plain", "alice alice %s * :Alice in Wonderland" % HOST)


def test_setname_invalid(server):
    alice = server.connect("alice", caps=["setname"])
    alice.send("SETNAME :" + "x" * 129)
    alice.expect_next(":%s FAIL SETNAME INVALID_REALNAME :Realname is not valid" % SERVER_NAME)
    alice.send_raw(b"SETNAME :caf\xe9\r\n")
    alice.expect_next(":%s FAIL SETNAME INVALID_REALNAME :Realname is not valid" % SERVER_NAME)
    alice.send("SETNAME")
    alice.expect_next(num("461", "alice", "SETNAME :Not enough parameters"))
    quiet(alice)
    lines = whois(alice, "alice")
    assert lines[0] == num("311", "alice", "alice alice %s * :Parley Tester" % HOST)


def test_setname_cap_advertised(server):
    c = server.client()
    caps = c.cap_ls()
    assert "setname" in caps


# --- MONITOR -------------------------------------------------------------------------------


def test_monitor_add_reports_status(server):
    alice = server.connect("alice")
    server.connect("bob")
    alice.send("MONITOR + bob,nobody")
    alice.expect_next(num("730", "alice", ":" + mask("bob")))
    alice.expect_next(num("731", "alice", ":nobody"))
    quiet(alice)


def test_monitor_online_offline_notifications(server):
    alice = server.connect("alice")
    alice.send("MONITOR + Carol")
    alice.expect_next(num("731", "alice", ":Carol"))
    carol = server.connect("carol")
    alice.expect_next(num("730", "alice", ":" + mask("carol")))
    carol.send("QUIT :bye")
    carol.expect_closed()
    alice.expect_next(num("731", "alice", ":carol"))
    quiet(alice)


def test_monitor_nick_change(server):
    alice = server.connect("alice")
    dave = server.connect("dave")
    alice.send("MONITOR + dave,david")
    alice.expect_next(num("730", "alice", ":" + mask("dave")))
    alice.expect_next(num("731", "alice", ":david"))
    dave.send("NICK david")
    dave.expect(lambda l: l.command == "NICK")
    alice.expect_next(num("731", "alice", ":dave"))
    alice.expect_next(num("730", "alice", ":david!dave@%s" % HOST))
    quiet(dave, alice)


def test_monitor_list_remove_clear_status(server):
    alice = server.connect("alice")
    server.connect("bob")
    alice.send("MONITOR + bob,carol,dave")
    alice.expect_next(num("730", "alice", ":" + mask("bob")))
    alice.expect_next(num("731", "alice", ":carol,dave"))
    alice.send("MONITOR L")
    line = alice.expect_next(re.compile(r"^%s 732 alice :(\S+)$" % re.escape(S)))
    assert sorted(line.match.group(1).split(",")) == ["bob", "carol", "dave"]
    alice.expect_next(num("733", "alice", ":End of MONITOR list"))
    alice.send("MONITOR - carol")
    alice.send("MONITOR L")
    line = alice.expect_next(re.compile(r"^%s 732 alice :(\S+)$" % re.escape(S)))
    assert sorted(line.match.group(1).split(",")) == ["bob", "dave"]
    alice.expect_next(num("733", "alice", ":End of MONITOR list"))
    alice.send("MONITOR S")
    alice.expect_next(num("730", "alice", ":" + mask("bob")))
    alice.expect_next(num("731", "alice", ":dave"))
    alice.send("MONITOR C")
    alice.send("MONITOR L")
    alice.expect_next(num("733", "alice", ":End of MONITOR list"))
    # no more notifications after C
    server.connect("dave")
    quiet(alice)


def test_monitor_add_twice_reports_once(server):
    alice = server.connect("alice")
    alice.send("MONITOR + bob")
    alice.expect_next(num("731", "alice", ":bob"))
    alice.send("MONITOR + BOB")
    quiet(alice)
    bob = server.connect("bob")
    alice.expect_next(num("730", "alice", ":" + mask("bob")))
    quiet(bob, alice)


def test_monitor_limit_734(server):
    alice = server.connect("alice")
    first = ["n%d" % i for i in range(100)]
    alice.send("MONITOR + " + ",".join(first))
    lines = sync(alice)
    assert all(l.command == "731" for l in lines), lines
    assert sorted(n for l in lines for n in l.params[-1].split(",")) == sorted(first)
    alice.send("MONITOR + extra1,extra2")
    alice.expect_next(num("734", "alice", "100 extra1,extra2 :Monitor list is full."))
    quiet(alice)


def test_monitor_limit_reached_mid_list(server):
    alice = server.connect("alice")
    alice.send("MONITOR + " + ",".join("n%d" % i for i in range(98)))
    sync(alice)
    alice.send("MONITOR + a1,a2,a3,a4")
    lines = sync(alice)
    assert num("734", "alice", "100 a3,a4 :Monitor list is full.") in lines, lines
    assert num("731", "alice", ":a1,a2") in lines, lines
    assert len(lines) == 2, lines


def test_monitor_long_lists_are_split(server):
    alice = server.connect("alice")
    nicks = ["watched%03d" % i for i in range(100)]
    for i in range(0, 100, 25):
        alice.send("MONITOR + " + ",".join(nicks[i:i + 25]))
    offline = []
    for l in sync(alice):
        assert l.command == "731" and len(l.raw) <= 510, l
        offline += l.params[-1].split(",")
    assert sorted(offline) == nicks
    alice.send("MONITOR L")
    lines = alice.read_until(lambda l: l.command == "733")
    listed = []
    for l in lines[:-1]:
        assert l.command == "732" and len(l.raw) <= 510, l
        listed += l.params[-1].split(",")
    assert sorted(listed) == nicks
    assert len(lines) > 2
    alice.send("MONITOR S")
    status = []
    for l in sync(alice):
        assert l.command == "731" and len(l.raw) <= 510, l
        status += l.params[-1].split(",")
    assert sorted(status) == nicks


def test_monitor_isupport_and_params(server):
    c = server.client()
    tokens = isupport(c.register("alice"))
    assert tokens["MONITOR"] == "100"
    c.send("MONITOR +")
    c.expect_next(num("461", "alice", "MONITOR :Not enough parameters"))
    c.send("MONITOR")
    c.expect_next(num("461", "alice", "MONITOR :Not enough parameters"))


def test_monitor_watcher_quit_cleans_up(server):
    alice = server.connect("alice")
    alice.send("MONITOR + bob")
    alice.expect_next(num("731", "alice", ":bob"))
    alice.send("QUIT")
    alice.expect_closed()
    # nothing to notify: must not crash or misbehave
    bob = server.connect("bob")
    bob.send("QUIT")
    bob.expect_closed()
    carol = server.connect("carol")
    quiet(carol)
