"""Issue 16, multiclient: several connections logged in to one account with SASL and
using the account's nick share one user (README, Accounts: several sessions). Every
session sees the user's JOIN, PART, NICK and messages; a message one session sends
reaches the others; other users see one user, which quits when its last session leaves.
The session limit is accounts.max_sessions."""

from chanutil import join, quiet, sync
from conftest import SERVER_NAME, authenticate, register_account, sasl_plain
from operutil import oper_block, oper_up, operators_text

S = ":" + SERVER_NAME
PASSWORD = "hunter2hunter2"
ALICE = "alice!alice@127.0.0.1"


def start(make_server, backend=None, **accounts):
    sections = {"accounts": dict({"scrypt_n": 1024}, **accounts)}
    if backend is None:
        return make_server(flood_enabled=False, sections=sections)
    return make_server(backend=backend, flood_enabled=False, sections=sections)


def session(srv, nick="alice", caps=(), account="alice", user="alice"):
    """A connection that logs in to account with SASL PLAIN, then registers as nick;
    returns it and the lines it got from NICK/USER to the end of the burst (a PING
    barrier)."""
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :" + " ".join(["sasl"] + list(caps)))
    c.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    assert authenticate(c, account, PASSWORD).command == "903"
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Alice" % user)
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    lines += sync(c)
    c.nick = nick
    return c, lines


def user_in_room(srv, topic=None):
    """alice's account, its first session in #room, and bob (a guest) in #room."""
    register_account(srv, "alice", PASSWORD)
    a, _ = session(srv)
    join(a, "#room")
    if topic:
        a.send("TOPIC #room :" + topic)
        a.expect(":%s TOPIC #room :%s" % (ALICE, topic))
    bob = srv.connect("bob")
    join(bob, "#room", a)
    return a, bob


def test_second_session_gets_the_user_and_its_channels(make_server, backend):
    srv = start(make_server, backend)
    a, bob = user_in_room(srv, topic="hello there")
    b, lines = session(srv)
    assert lines[0] == "%s 001 alice :Welcome to the ParleyTest IRC Network %s" % (S, ALICE)
    i = lines.index(":%s JOIN #room" % ALICE)
    assert lines[i + 1] == "%s 332 alice #room :hello there" % S
    assert lines[i + 2].startswith("%s 333 alice #room %s " % (S, ALICE))
    assert lines[i + 3] in ("%s 353 alice = #room :bob @alice" % S, "%s 353 alice = #room :@alice bob" % S)
    assert lines[i + 4] == "%s 366 alice #room :End of /NAMES list" % S
    quiet(bob, a)  # nobody sees a second alice arrive
    bob.send("WHOIS alice")
    whois = bob.read_until(lambda l: l.command == "318")
    assert [l.command for l in whois].count("311") == 1
    bob.send("LUSERS")
    assert bob.expect(lambda l: l.command == "251").params[-1].startswith("There are 2 users")
    bob.read_until(lambda l: l.command == "266")


def test_messages_reach_every_session(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    b, _ = session(srv, caps=["echo-message"])
    c, _ = session(srv, caps=["znc.in/self-message"])  # advertised; copies go to every session anyway
    # from someone else: every session
    bob.send("PRIVMSG #room :hi all")
    for s in (a, b, c):
        s.expect_next(":bob!bob@127.0.0.1 PRIVMSG #room :hi all")
    # from a session without echo-message: the others and the channel, not itself
    a.send("PRIVMSG #room :from a")
    for s in (bob, b, c):
        s.expect_next(":%s PRIVMSG #room :from a" % ALICE)
    quiet(a)
    # from a session with echo-message: it gets its echo too
    b.send("PRIVMSG #room :from b")
    for s in (bob, a, b, c):
        s.expect_next(":%s PRIVMSG #room :from b" % ALICE)
    # a private message: the recipient, and a copy (self-message) for the other sessions
    c.send("PRIVMSG bob :psst")
    for s in (bob, a, b):
        s.expect_next(":%s PRIVMSG bob :psst" % ALICE)
    quiet(c, bob, a, b)
    # a private message to the user reaches all its sessions
    bob.send("PRIVMSG alice :back")
    for s in (a, b, c):
        s.expect_next(":bob!bob@127.0.0.1 PRIVMSG alice :back")
    quiet(bob)


def test_join_part_nick_apply_to_every_session(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    lines = join(b, "#two")
    assert lines[0] == ":%s JOIN #two" % ALICE
    a.expect_next(":%s JOIN #two" % ALICE)
    bob.send("JOIN #two")
    for s in (bob, a, b):
        s.read_until(":bob!bob@127.0.0.1 JOIN #two")
    sync(bob)
    a.send("NICK alicia")
    for s in (a, b, bob):
        s.expect_next(":%s NICK :alicia" % ALICE)
    quiet(bob)
    b.send("PART #two :later")
    for s in (a, b, bob):
        s.expect_next(":alicia!alice@127.0.0.1 PART #two :later")
    quiet(bob, a, b)
    bob.send("WHOIS alicia")
    whois = bob.read_until(lambda l: l.command == "318")
    chans = [l for l in whois if l.command == "319"]
    assert len(chans) == 1 and chans[0].params[-1].split() in (["@#room"], ["#room"])


def test_a_session_quits_alone_and_the_last_quits_the_user(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    c, _ = session(srv)
    b.send("QUIT :bye b")
    b.expect_next(":%s QUIT :Quit: bye b" % ALICE)
    b.expect_next(lambda l: l.command == "ERROR")
    b.expect_closed()
    quiet(bob, a, c)
    # the first connection (the one that created the user) leaves: c carries on
    a.send("QUIT :bye a")
    a.expect_next(":%s QUIT :Quit: bye a" % ALICE)
    a.expect_closed()
    quiet(bob, c)
    bob.send("PRIVMSG #room :still there?")
    c.expect_next(":bob!bob@127.0.0.1 PRIVMSG #room :still there?")
    c.send("PRIVMSG #room :yes")
    bob.expect_next(":%s PRIVMSG #room :yes" % ALICE)
    bob.send("WHOIS alice")
    assert bob.expect_next(lambda l: l.command == "311").params[1:4] == ["alice", "alice", "127.0.0.1"]
    bob.read_until(lambda l: l.command == "318")
    # a new session after the handover still attaches
    d, lines = session(srv)
    assert ":%s JOIN #room" % ALICE in lines
    d.send("QUIT :d")
    d.expect_closed()
    c.send("QUIT :last one")
    bob.expect_next(":%s QUIT :Quit: last one" % ALICE)
    quiet(bob)
    bob.send("WHOIS alice")
    bob.expect_next(lambda l: l.command == "401")


def test_session_limit(make_server):
    srv = start(make_server, max_sessions=2)
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.expect(lambda l: l.command == "CAP")
    authenticate(c, "alice", PASSWORD)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice")
    c.send("CAP END")
    c.expect_next("%s FAIL NICK TOO_MANY_SESSIONS alice :Your account already has 2 sessions, the limit" % S)
    c.expect_next("%s 433 * alice :Nickname is already in use" % S)
    c.send("NICK alice_")  # a nick of its own: an ordinary second user
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0] == "%s 001 alice_ :Welcome to the ParleyTest IRC Network alice_!alice@127.0.0.1" % S
    quiet(bob, a, b)


def test_no_attach_without_the_same_account(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    register_account(srv, "mallory", PASSWORD)
    # another account: the nick is in use, at registration
    m = srv.client()
    m.cap_ls()
    m.send("CAP REQ :sasl")
    m.expect(lambda l: l.command == "CAP")
    authenticate(m, "mallory", PASSWORD)
    m.send("NICK alice")
    m.send("USER m 0 * :M")
    m.send("CAP END")
    m.expect_next("%s 433 * alice :Nickname is already in use" % S)
    # not logged in, no CAP: at NICK, as always
    g = srv.client()
    g.send("NICK alice")
    g.expect_next("%s 433 * alice :Nickname is already in use" % S)
    # CAP but no login: at registration
    h = srv.client()
    h.cap_ls()
    h.send("NICK alice")
    h.send("USER h 0 * :H")
    h.send("CAP END")
    h.expect_next("%s 433 * alice :Nickname is already in use" % S)
    quiet(bob, a)


def test_multiclient_off(make_server):
    srv = start(make_server, max_sessions=1)
    a, bob = user_in_room(srv)
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.expect(lambda l: l.command == "CAP")
    authenticate(c, "alice", PASSWORD)
    c.send("NICK alice")
    c.expect_next("%s 433 * alice :Nickname is already in use" % S)


def test_labeled_reply_goes_to_the_session_that_asked(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    b, _ = session(srv, caps=["labeled-response", "batch"])
    b.send("@label=w1 WHOIS bob")
    first = b.expect_next(lambda l: True)
    assert first.tags.get("label") == "w1" and first.command == "BATCH"
    b.read_until(lambda l: l.command == "BATCH" and l.params[0].startswith("-"))
    b.send("@label=p1 PRIVMSG #room :labeled")
    bob.expect_next(":%s PRIVMSG #room :labeled" % ALICE)
    a.expect_next(":%s PRIVMSG #room :labeled" % ALICE)
    ack = b.expect_next(lambda l: True)
    assert ack.tags.get("label") == "p1" and ack.command == "ACK"
    quiet(a, b)


def test_read_marker_reaches_every_session(make_server, backend):
    srv = make_server(backend=backend, flood_enabled=False,
                      sections={"accounts": {"scrypt_n": 1024}, "history": {}})
    register_account(srv, "alice", PASSWORD)
    a, _ = session(srv, caps=["draft/read-marker"])
    join(a, "#room")
    b, _ = session(srv, caps=["draft/read-marker"])
    c, _ = session(srv)  # without the capability
    ts = "timestamp=2026-11-11T11:11:11.111Z"
    b.send("MARKREAD #room " + ts)
    b.expect_next("%s MARKREAD #room %s" % (S, ts))
    a.expect_next("%s MARKREAD #room %s" % (S, ts))
    quiet(b, a, c)
    a.send("MARKREAD #room timestamp=2026-11-12T11:11:11.111Z")
    a.expect_next("%s MARKREAD #room timestamp=2026-11-12T11:11:11.111Z" % S)
    b.expect_next("%s MARKREAD #room timestamp=2026-11-12T11:11:11.111Z" % S)
    quiet(a, b, c)


def test_pipelined_registration_attaches_once(make_server):
    """A client that sends its whole registration at once (the login completes while the
    rest waits) is attached once: one welcome, one burst."""
    srv = start(make_server)
    a, bob = user_in_room(srv)
    c = srv.client()
    c.send_raw(("CAP LS 302\r\nCAP REQ sasl\r\nAUTHENTICATE PLAIN\r\nAUTHENTICATE %s\r\n"
                "NICK alice\r\nUSER alice 0 * :Alice\r\nCAP END\r\n" % sasl_plain("alice", PASSWORD)).encode())
    lines = c.read_until("%s 366 alice #room :End of /NAMES list" % S)
    lines += sync(c)
    assert [l.command for l in lines].count("001") == 1, lines
    assert [l.command for l in lines].count("JOIN") == 1, lines
    bob.send("LUSERS")
    lusers = bob.read_until(lambda l: l.command == "266")
    assert not [l for l in lusers if l.command == "253"], lusers  # the session is no unknown connection
    quiet(bob, a)


def test_pass_login_attaches(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    c = srv.client()
    c.send("PASS alice:" + PASSWORD)
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice")
    lines = c.read_until("%s 366 alice #room :End of /NAMES list" % S)
    assert [l.command for l in lines].count("001") == 1 and ":%s JOIN #room" % ALICE in lines
    quiet(bob, a)


def test_kill_disconnects_every_session(make_server):
    srv = make_server(flood_enabled=False, sections={"accounts": {"scrypt_n": 1024}},
                      extra=operators_text(oper_block()))
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    root = srv.connect("root")
    oper_up(root)
    root.send("KILL alice :enough")
    for s in (a, b):
        s.expect_closed()
    bob.expect_next(":%s QUIT :Killed (root (enough))" % ALICE)
    quiet(bob)


def test_monitor_reaches_every_session_and_survives_handover(make_server):
    srv = start(make_server)
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    b.send("MONITOR + carol")
    b.expect_next("%s 731 alice :carol" % S)
    quiet(a)
    carol = srv.connect("carol")
    for s in (a, b):
        s.expect_next("%s 730 alice :carol!carol@127.0.0.1" % S)
    carol.send("QUIT")
    carol.expect_closed()
    for s in (a, b):
        s.expect_next("%s 731 alice :carol" % S)
    a.send("QUIT :bye")
    a.expect_closed()
    carol = srv.connect("carol")
    b.expect_next("%s 730 alice :carol!carol@127.0.0.1" % S)
    quiet(b, bob)


def test_oper_from_a_session_opers_the_user(make_server):
    srv = make_server(flood_enabled=False, sections={"accounts": {"scrypt_n": 1024}},
                      extra=operators_text(oper_block()))
    a, bob = user_in_room(srv)
    b, _ = session(srv)
    b.send("OPER root operpass123")
    b.expect("%s 381 alice :You are now an IRC operator" % S)
    b.expect(":%s MODE alice :+os" % ALICE)
    bob.send("WHOIS alice")
    whois = bob.read_until(lambda l: l.command == "318")
    assert [l.command for l in whois].count("313") == 1, whois
