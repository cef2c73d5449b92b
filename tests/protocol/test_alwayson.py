"""Issue 16, always-on (README, Accounts: always-on): NickServ SET ALWAYS-ON ON keeps a
logged-in user present when its last connection leaves (a ghost: nick and channels kept,
away "Always-on (disconnected)", nobody sees a QUIT, nobody else can take the nick);
direct messages to it are kept like offline ones; the account's next login takes it
back with its channels and what it missed; KILL, K-lines, LOGOUT end it; it survives a
restart (both backends)."""

from chanutil import join, quiet, sync
from conftest import NICKSERV, SERVER_NAME, authenticate, wait_for
from operutil import oper_block, oper_up, operators_text

S = ":" + SERVER_NAME
PASSWORD = "hunter2hunter2"
AWAY = "Always-on (disconnected)"
ALICE = "alice!alice@127.0.0.1"


def start(make_server, backend, **accounts):
    sections = {"accounts": dict({"scrypt_n": 1024}, **accounts)}
    return make_server(backend=backend, flood_enabled=False, sections=sections,
                       extra=operators_text(oper_block()))


def ns(c, text):
    c.send("PRIVMSG NickServ :" + text)


def ns_reply(c, text):
    c.expect(":%s NOTICE %s :%s" % (NICKSERV, c.nick, text))


def register(srv, nick="alice", always_on=True):
    """nick registers its account (logged in), sets ALWAYS-ON and joins #room."""
    c = srv.connect(nick)
    ns(c, "REGISTER " + PASSWORD)
    c.expect(lambda l: l.command == "900")
    sync(c)
    if always_on:
        ns(c, "SET ALWAYS-ON ON")
        ns_reply(c, "Always-on is now on: when your last connection leaves, you stay on your channels "
                    "(away) and messages to you are kept.")
    return c


def login(srv, nick="alice", account="alice", caps=()):
    """A connection that logs in with SASL and registers as nick; returns it and the lines
    up to the end of the MOTD."""
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :" + " ".join(["sasl"] + list(caps)))
    c.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    assert authenticate(c, account, PASSWORD).command == "903"
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Alice" % nick)
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    c.nick = "alice"
    return c, lines


def leave(c, reason="bye"):
    c.send("QUIT :" + reason)
    c.expect_closed()


def in_room(srv):
    """alice (always-on) and bob (logged in, not always-on) in #room."""
    alice = register(srv)
    join(alice, "#room")
    bob = register(srv, "bob", always_on=False)
    join(bob, "#room", alice)
    return alice, bob


def test_last_connection_leaves_user_stays(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    quiet(bob)  # no QUIT
    guest = srv.connect("guest")
    guest.send("PRIVMSG alice :hi")  # not kept from guests: said so, not accepted and lost
    guest.expect("%s 531 guest alice :You must be logged into an account to send messages to this user" % S)
    bob.send("WHOIS alice")
    whois = bob.read_until(lambda l: l.command == "318")
    assert "%s 311 bob alice alice 127.0.0.1 * :Parley Tester" % S in whois
    assert "%s 301 bob alice :%s" % (S, AWAY) in whois
    bob.send("NAMES #room")
    bob.expect(lambda l: l.command == "353" and "alice" in l.params[-1].replace("@", "").split())
    bob.send("ISON alice")
    bob.expect("%s 303 bob :alice" % S)
    bob.send("WHO alice")
    bob.expect(lambda l: l.command == "352" and l.params[5] == "alice" and l.params[6].startswith("G"))
    bob.send("LUSERS")
    assert bob.expect(lambda l: l.command == "251").params[-1].startswith("There are 3 users")
    sync(bob)
    # nobody else takes the nick
    mallory = srv.client()
    mallory.send("NICK alice")
    mallory.expect("%s 433 * alice :Nickname is already in use" % S)
    mallory.close()
    bob.send("MONITOR + alice")
    bob.expect("%s 730 bob :alice!alice@127.0.0.1" % S)
    quiet(bob)


def test_dropped_connection_kick_and_modes(make_server, backend):
    """A connection that just drops leaves the user too; channel modes and KICK work on
    it, and the KICK is stored (nothing to restore in #room)."""
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    alice.send("MODE #room +o bob")
    bob.expect(":%s MODE #room +o bob" % ALICE)
    sync(alice)
    alice.close()  # no QUIT: a read error

    def away():
        bob.send("WHOIS alice")
        return "%s 301 bob alice :%s" % (S, AWAY) in bob.read_until(lambda l: l.command == "318")
    wait_for(away, what="alice marked away")
    bob.send("MODE #room -o alice")
    bob.expect(":bob!bob@127.0.0.1 MODE #room -o alice")
    wait_for(lambda: backend.query("SELECT status FROM always_on_channels") == [("0",)],
             what="the status change stored")
    bob.send("KICK #room alice :out")
    bob.expect(":bob!bob@127.0.0.1 KICK #room alice :out")
    wait_for(lambda: backend.query("SELECT COUNT(*) FROM always_on_channels") == [("0",)],
             what="the KICK stored")
    bob.send("WHOIS alice")  # still there, in no channel
    assert "%s 301 bob alice :%s" % (S, AWAY) in bob.read_until(lambda l: l.command == "318")


def test_ping_timeout_leaves_the_user(make_server, backend):
    """A connection that stops answering: after the ping timeout the user stays."""
    srv = make_server(backend=backend, flood_enabled=False, ping_frequency=1, ping_timeout=1,
                      sections={"accounts": {"scrypt_n": 1024}})
    alice, bob = in_room(srv)

    def away():  # bob's WHOIS also keeps bob's own connection alive
        bob.send("WHOIS alice")
        return "%s 301 bob alice :%s" % (S, AWAY) in bob.read_until(lambda l: l.command == "318")
    wait_for(away, timeout=8, interval=0.2, what="alice left by ping timeout and marked away")
    assert not any(l.startswith(":alice!") and " QUIT " in l for l in bob.history)
    alice.expect_error_close("Ping timeout: 1 seconds")


def test_dm_kept_and_delivered_on_login_with_channels(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    bob.send("PRIVMSG alice :are you there?")
    bob.expect("%s 301 bob alice :%s" % (S, AWAY))
    bob.send("PRIVMSG #room :while you were gone")
    quiet(bob)
    a, lines = login(srv)
    assert lines[0] == "%s 001 alice :Welcome to the ParleyTest IRC Network %s" % (S, ALICE)
    rest = a.read_until(lambda l: l.command == "366")
    assert ":%s JOIN #room" % ALICE in rest
    a.expect(lambda l: l.endswith(" while you were gone") and l.startswith(":bob!bob@127.0.0.1 PRIVMSG #room :"))
    a.expect(S + " NOTICE #room :— end of catch-up in #room —")
    a.expect(S + " NOTICE alice :— 1 message sent to you while you were offline —")
    a.expect(lambda l: l.startswith(":bob!bob@127.0.0.1 PRIVMSG alice :") and l.endswith(" are you there?"))
    a.expect(S + " NOTICE alice :— end of offline messages —")
    # the automatic away is gone, and bob saw nobody come or go
    bob.send("WHOIS alice")
    whois = bob.read_until(lambda l: l.command == "318")
    assert not any(l.split()[1] == "301" for l in whois), whois
    quiet(bob)
    # alice is the user again: she talks in #room
    a.send("PRIVMSG #room :back")
    bob.expect(":%s PRIVMSG #room :back" % ALICE)


def test_takeover_without_multiclient(make_server, backend):
    """With accounts.max_sessions = 1 the always-on nick is still taken back at login."""
    srv = start(make_server, backend, max_sessions=1)
    alice, bob = in_room(srv)
    leave(alice)
    a, lines = login(srv)
    assert not any(l.split()[1] == "433" for l in lines), lines
    assert lines[0].startswith("%s 001 alice " % S)
    a.expect(":%s JOIN #room" % ALICE)


def test_login_with_another_nick_takes_the_user_over(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    a, lines = login(srv, nick="alice_phone")
    assert lines[0].startswith("%s 001 alice " % S)
    a.expect(":%s JOIN #room" % ALICE)
    quiet(bob)
    bob.send("NICK alice_phone")  # the nick the new connection asked for stayed free
    bob.expect(":bob!bob@127.0.0.1 NICK :alice_phone")


def test_identify_after_registration_takes_the_user_over(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    g = srv.connect("guest1")
    join(g, "#lobby")
    carol = srv.connect("carol")
    join(carol, "#lobby", g)
    ns(g, "IDENTIFY alice " + PASSWORD)
    g.expect(lambda l: l.command == "900")
    # its own nick ends: its channels are parted for it, the others see it quit
    g.expect(":guest1!guest1@127.0.0.1 PART #lobby :Taking over your always-on session")
    carol.expect(":guest1!guest1@127.0.0.1 QUIT :Reattached to another session")
    g.expect(":guest1!guest1@127.0.0.1 NICK :alice")
    g.expect(":%s JOIN #room" % ALICE)
    g.read_until(lambda l: l.command == "366")
    g.nick = "alice"
    sync(g)
    g.send("PRIVMSG #room :hi")
    bob.expect(":%s PRIVMSG #room :hi" % ALICE)


def test_kill_and_kline_remove_the_ghost(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    root = srv.connect("root")
    oper_up(root)
    root.send("KILL alice :go")
    bob.expect(lambda l: l.command == "QUIT" and l.nick == "alice")
    wait_for(lambda: int(backend.query("SELECT COUNT(*) FROM always_on_users")[0][0]) == 0,
             what="the stored presence deleted")
    bob.send("NICK alice")
    bob.expect(":bob!bob@127.0.0.1 NICK :alice")
    bob.send("NICK bob")
    bob.expect(":alice!bob@127.0.0.1 NICK :bob")
    # a K-line set on the ghost removes it
    carol = register(srv, "carol")
    join(carol, "#room", bob)
    leave(carol)
    root.send("KLINE carol@127.0.0.1 :no")
    bob.expect(lambda l: l.command == "QUIT" and l.nick == "carol")


def test_ghost_of_own_account_takes_it_over(make_server, backend):
    """A second user logged in to the same account under another nick (before alice left)
    uses GHOST on the always-on nick: it becomes that user instead of disconnecting it."""
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    other, _ = login(srv, nick="alice2")
    other.nick = "alice2"
    sync(other)
    leave(alice)
    quiet(bob)
    ns(other, "GHOST alice")
    other.expect(":%s NOTICE alice2 :alice is your always-on session; you are now using it." % NICKSERV)
    other.expect(":alice2!alice2@127.0.0.1 NICK :alice")
    other.expect(":%s JOIN #room" % ALICE)
    other.nick = "alice"
    other.send("PRIVMSG #room :it is me")
    bob.expect(":%s PRIVMSG #room :it is me" % ALICE)


def test_operator_status_is_not_kept(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    oper_up(alice)
    leave(alice)
    bob.send("WHOIS alice")
    assert not any(l.split()[1] == "313" for l in bob.read_until(lambda l: l.command == "318"))
    a, _ = login(srv)
    sync(a)
    a.send("KILL bob :x")
    a.expect("%s 481 alice :Permission Denied- You're not an IRC operator" % S)


def test_logout_and_off_quit_as_usual(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    ns(alice, "LOGOUT")
    ns_reply(alice, "You are now logged out.")
    leave(alice)
    bob.expect(lambda l: l.command == "QUIT" and l.nick == "alice")
    carol = register(srv, "carol")
    join(carol, "#room", bob)
    ns(carol, "SET ALWAYS-ON OFF")
    ns_reply(carol, "Always-on is now off.")
    leave(carol)
    bob.expect(lambda l: l.command == "QUIT" and l.nick == "carol")


def test_strangers(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    guest = srv.connect("guest")
    ns(guest, "SET ALWAYS-ON ON")  # only for one's own account
    ns_reply(guest, "You must be logged in.")
    leave(alice)
    # another account asking for the nick at registration gets 433
    register(srv, "mallory", always_on=False).close()
    m = srv.client()
    m.cap_ls()
    m.send("CAP REQ :sasl")
    m.expect(lambda l: l.command == "CAP")
    assert authenticate(m, "mallory", PASSWORD).command == "903"
    m.send("NICK alice")
    m.send("USER m 0 * :m")
    m.send("CAP END")
    m.expect(lambda l: l.command == "433" and l.params[1] == "alice")
    # GHOST needs the account
    m.send("NICK mallory2")
    m.expect(lambda l: l.command == "001")
    m.nick = "mallory2"
    sync(m)
    ns(m, "GHOST alice")
    ns_reply(m, "You may not ghost alice.")
    quiet(bob)


def test_info_and_server_default(make_server, backend):
    srv = start(make_server, backend, always_on=True)
    alice = register(srv, always_on=False)
    ns(alice, "INFO")
    alice.expect(":%s NOTICE alice :Always-on: on (server default)" % NICKSERV)
    ns(alice, "SET ALWAYS-ON OFF")
    ns_reply(alice, "Always-on is now off.")
    ns(alice, "INFO")
    alice.expect(":%s NOTICE alice :Always-on: off" % NICKSERV)
    bob = srv.connect("bob")
    carol = register(srv, "carol", always_on=False)  # the default: stays
    join(carol, "#c")
    join(bob, "#c", carol)
    leave(carol)
    quiet(bob)
    bob.send("WHOIS carol")
    bob.expect("%s 301 bob carol :%s" % (S, AWAY))


def test_restored_after_restart(make_server, backend):
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    alice.send("MODE #room +v bob")  # status changes are stored too
    bob.expect(":%s MODE #room +v bob" % ALICE)
    leave(alice)
    bob.send("PRIVMSG #room :before the restart")
    sync(bob)
    srv.stop()
    assert sorted(backend.query("SELECT channel, status FROM always_on_channels")) == [("#room", "1")]
    srv = start(make_server, backend)
    bob = srv.connect("bob")
    ns(bob, "IDENTIFY " + PASSWORD)
    ns_reply(bob, "You are now identified for bob.")
    sync(bob)
    bob.send("JOIN #room")  # the restored alice is there, with her status
    bob.expect(":bob!bob@127.0.0.1 JOIN #room")
    bob.expect(lambda l: l.command == "353" and sorted(l.params[-1].split()) == ["@alice", "bob"])
    bob.send("PRIVMSG alice :after the restart")
    bob.expect("%s 301 bob alice :%s" % (S, AWAY))
    a, _ = login(srv)
    a.expect(":%s JOIN #room" % ALICE)
    # the catch-up starts where her connection left, not at the shutdown
    a.expect(lambda l: l.startswith(":bob!bob@127.0.0.1 PRIVMSG #room :") and l.endswith(" before the restart"))
    a.expect(lambda l: l.startswith(":bob!bob@127.0.0.1 PRIVMSG alice :") and l.endswith(" after the restart"))


def test_kline_while_down_prevents_restore(make_server, backend):
    """Restored memberships are trusted as stored, but a K-line set meanwhile applies:
    the ghost is not restored and its stored presence is deleted."""
    srv = start(make_server, backend)
    alice, bob = in_room(srv)
    leave(alice)
    sync(bob)
    srv.stop()
    assert int(backend.query("SELECT COUNT(*) FROM always_on_users")[0][0]) == 1
    backend.query("INSERT INTO server_bans (kind, mask, reason, setter, created, expires) "
                  "VALUES ('k', 'alice@127.0.0.1', 'gone', 'root', 0, 0)")
    srv = start(make_server, backend)
    bob = srv.connect("bob")
    bob.send("WHOIS alice")
    assert bob.read_until(lambda l: l.command == "318")[0].split()[1] == "401"
    assert int(backend.query("SELECT COUNT(*) FROM always_on_users")[0][0]) == 0


# ---- multiclient: what one session changes reaches the others ----

def two_sessions(srv):
    register(srv, always_on=False).close()
    a, _ = login(srv)
    b, _ = login(srv)
    sync(a)
    sync(b)
    return a, b


def test_user_modes_and_away_reach_every_session(make_server, backend):
    srv = start(make_server, backend)
    a, b = two_sessions(srv)
    b.send("MODE alice +B")
    for s in (a, b):
        s.expect(":%s MODE alice :+B" % ALICE)
    b.send("AWAY :lunch")
    for s in (a, b):
        s.expect("%s 306 alice :You have been marked as being away" % S)
    a.send("AWAY")
    for s in (a, b):
        s.expect("%s 305 alice :You are no longer marked as being away" % S)
    quiet(a, b)


def test_login_changes_reach_every_session(make_server, backend):
    srv = start(make_server, backend)
    a, b = two_sessions(srv)
    ns(b, "LOGOUT")
    for s in (a, b):
        s.expect("%s 901 alice %s :You are now logged out" % (S, ALICE))
    ns(b, "IDENTIFY alice " + PASSWORD)
    for s in (a, b):
        s.expect("%s 900 alice %s alice :You are now logged in as alice" % (S, ALICE))
    sync(b)
    quiet(a)  # nor did a see b's lines to NickServ (a password)


def test_invites_move_with_the_handover(make_server, backend):
    srv = start(make_server, backend)
    a, b = two_sessions(srv)
    bob = srv.connect("bob")
    join(bob, "#secret")
    bob.send("MODE #secret +i")
    bob.expect(":bob!bob@127.0.0.1 MODE #secret +i")
    bob.send("INVITE alice #secret")
    bob.expect("%s 341 bob alice #secret" % S)
    leave(a)  # the first connection leaves: b carries the user, and the invitation
    sync(b)
    b.send("JOIN #secret")
    b.expect(":%s JOIN #secret" % ALICE)
