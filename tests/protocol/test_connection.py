"""The connection layer: PING/PONG and timeouts, line limits, SendQ, hostile input,
many clients, flood control, connection limits and shutdown."""

import re
import selectors
import signal
import socket
import struct
import time

import pytest

from conftest import HOST, SERVER_NAME, Client, wait_for

S = ":" + SERVER_NAME
PONG = S + " PONG " + SERVER_NAME + " :%s"


def lusers_counts(c):
    """Sends LUSERS on c and returns the 251 line's user count."""
    c.send("LUSERS")
    line = c.expect(re.compile(r"^:\S+ 251 \S+ :There are (\d+) users"))
    c.expect(lambda l: l.command == "266")
    return int(line.match.group(1))


# --- PING / PONG -------------------------------------------------------------------------------


def test_ping_pong(server):
    c = server.connect("pinger")
    c.send("PING token123")
    c.expect_next(PONG % "token123")
    c.send("PING :two words")
    c.expect_next(PONG % "two words")
    c.send(":pinger PING withsource")
    c.expect_next(PONG % "withsource")
    c.send("PING a b c")
    c.expect_next(PONG % "a")


def test_pong_is_silent(server):
    c = server.connect("ponger")
    c.send("PONG :whatever")
    c.send("PONG")
    c.assert_silent(0.2)


def test_server_ping_and_ping_timeout(make_server):
    srv = make_server(ping_frequency=1, ping_timeout=2)
    answers = srv.connect("answers")
    silent = srv.connect("silent")
    start = time.monotonic()
    answers.expect_next("PING :" + SERVER_NAME, timeout=4)
    assert time.monotonic() - start >= 0.7
    answers.send("PONG :" + SERVER_NAME)
    silent.expect_next("PING :" + SERVER_NAME, timeout=4)
    silent.expect_error_close("Ping timeout: 2 seconds", timeout=5)
    assert time.monotonic() - start >= 2.5
    # The client that answered is still connected, and is pinged again when idle.
    answers.expect("PING :" + SERVER_NAME, timeout=4)
    answers.send("PING :still here")
    answers.expect(PONG % "still here")


def test_any_line_counts_as_pong(make_server):
    srv = make_server(ping_frequency=1, ping_timeout=1)
    c = srv.connect("lively")
    c.expect_next("PING :" + SERVER_NAME, timeout=4)
    c.send("PING :mine")  # not a PONG, but proves the client is alive
    c.expect_next(PONG % "mine")
    c.expect_next("PING :" + SERVER_NAME, timeout=4)
    c.send("PONG " + SERVER_NAME)
    c.assert_silent(0.5)


def test_active_client_is_not_pinged(make_server):
    srv = make_server(ping_frequency=1, ping_timeout=1)
    c = srv.connect("active")
    for i in range(6):
        time.sleep(0.3)
        c.send("PING n%d" % i)
        c.expect_next(PONG % ("n%d" % i))


# --- line limits -------------------------------------------------------------------------------


def test_body_limit_512(server):
    c = server.connect("longer")
    # 510 bytes + CRLF = 512: accepted.
    line = "PING " + "a" * 505
    assert len(line) + 2 == 512
    c.send(line)
    pong = c.expect_next(re.compile(r"^%s PONG %s :a+$" % (re.escape(S), re.escape(SERVER_NAME))))
    assert len(pong.raw) <= 510, "reply longer than 512 bytes with CRLF"
    # 511 bytes + CRLF: too long.
    c.send("PING " + "a" * 506)
    c.expect_next(S + " 417 longer :Input line was too long")
    # The connection is still usable.
    c.send("PING ok")
    c.expect_next(PONG % "ok")


def test_body_limit_counts_source(server):
    c = server.connect("src")
    c.send(":src PING " + "b" * (510 - len(":src PING ")))
    c.expect_next(re.compile(r" PONG "))
    c.send(":src PING " + "b" * (511 - len(":src PING ")))
    c.expect_next(S + " 417 src :Input line was too long")


def test_417_before_registration(server):
    c = server.client()
    c.send("PING " + "x" * 600)
    c.expect_next(S + " 417 * :Input line was too long")
    c.register("after417")


def tag_section(total):
    """A tag section of exactly total bytes, counting the '@' and the space after it."""
    head = "@+example.com/pad="
    return head + "v" * (total - len(head) - 1) + " "


# Clients may send at most 4094 bytes of tag data (the section without '@' and the
# space), and the whole tag section may never exceed 8191 bytes (IRCv3 message-tags).
CLIENT_TAGS_MAX = 4094 + 2


def test_client_tag_data_limit_4094(server):
    c = server.connect("tagger")
    c.send(tag_section(CLIENT_TAGS_MAX) + "PING fits")
    c.expect_next(PONG % "fits")
    c.send(tag_section(CLIENT_TAGS_MAX + 1) + "PING toolong")
    c.expect_next(S + " 417 tagger :Input line was too long")
    c.send("PING ok")
    c.expect_next(PONG % "ok")


def test_tag_section_over_8191(server):
    c = server.connect("tagger")
    for size in (8191, 8192, 8300):
        c.send(tag_section(size) + "PING toolong")
        c.expect_next(S + " 417 tagger :Input line was too long")
    c.send("PING ok")
    c.expect_next(PONG % "ok")


def test_tags_and_body_both_at_limit(server):
    c = server.connect("maxline")
    body = "PING :" + "c" * (510 - len("PING :"))
    c.send(tag_section(CLIENT_TAGS_MAX) + body)
    c.expect_next(re.compile(r"^%s PONG %s :c+$" % (re.escape(S), re.escape(SERVER_NAME))))
    c.send(tag_section(CLIENT_TAGS_MAX) + body + "c")
    c.expect_next(S + " 417 maxline :Input line was too long")
    c.send(tag_section(100) + "PING ok")
    c.expect_next(PONG % "ok")


def test_huge_line_gets_one_417(server):
    c = server.connect("huge")
    c.send_raw(b"PING " + b"z" * 100000 + b"\r\nPING after\r\n")
    c.expect_next(S + " 417 huge :Input line was too long")
    c.expect_next(PONG % "after")


def test_huge_tags_without_command(server):
    c = server.connect("hugetag")
    c.send_raw(b"@" + b"t" * 30000 + b"\r\nPING after\r\n")
    c.expect_next(S + " 417 hugetag :Input line was too long")
    c.expect_next(PONG % "after")


def test_huge_line_sent_slowly(server):
    c = server.connect("slowhuge")
    c.send_raw(b"PING ")
    for _ in range(6):
        c.send_raw(b"y" * 4000)
        time.sleep(0.02)
    c.send_raw(b"\r\nPING after\r\n")
    c.expect_next(S + " 417 slowhuge :Input line was too long")
    c.expect_next(PONG % "after")


# --- hostile input -----------------------------------------------------------------------------


def test_garbage_does_not_crash(server):
    c = server.connect("garbage")
    junk = [
        b"\x00\x01\x02\x03\xff\xfe\xfd\r\n",
        b"\n",
        b"\r\n",
        b"\r\n\r\n\n\n",
        b"@tag=only\r\n",
        b"@tag=only \r\n",
        b"@\r\n",
        b"@ \r\n",
        b"@;;;=;= PING tagjunk\r\n",
        b":sourceonly\r\n",
        b": \r\n",
        b":\r\n",
        b"\xc3\x28\xa0\xa1 \xe2\x28\xa1\r\n",
        b"PING \xf0\x28\x8c\xbc\r\n",
        b"PING a\x00b\r\n",
        b"NICK \xff\xfe\r\n",
        b"\x00\r\n",
        b"PING " + b" " * 200 + b"\r\n",
        b"PING :\r\n",
        b"@" + b";".join(b"k%d=v" % i for i in range(100)) + b" PING manytags\r\n",
        b"PING " + b" ".join(b"p%d" % i for i in range(40)) + b"\r\n",
        b"@a=\\\\\\ PING esc\r\n",
        b"USER\r\n",
        b"CAP REQ :" + b"x" * 400 + b"\r\n",
        bytes(range(1, 256)).replace(b"\n", b"").replace(b"\r", b"") + b"\r\n",
    ]
    for j in junk:
        c.send_raw(j)
    c.send("PING survived")
    c.expect(PONG % "survived")
    c.drain(0.05)
    # Another client is unaffected.
    other = server.connect("observer")
    other.send("PING fine")
    other.expect_next(PONG % "fine")


def test_no_reply_contains_bare_cr_or_nul(server):
    """A CR or NUL inside a line must never be reflected inside a reply line (a client
    splitting on CR would see an injected line)."""
    c = server.connect("crlf")
    c.send_raw(b"PING a\rb\r\n")
    c.send_raw(b"PING :c\rd e\r\n")
    c.send_raw(b"FOO\rBAR\r\n")
    c.send_raw(b"PING x\x00y\r\n")
    c.send("PING sync")
    c.expect(PONG % "sync")
    for line in c.history:
        assert b"\r" not in line.raw and b"\x00" not in line.raw, "reply carries a bare CR/NUL: %r" % line


def test_whitespace_only_line_is_ignored(server):
    c = server.connect("spaces")
    c.send_raw(b"   \r\n")
    c.send_raw(b" \t \r\n".replace(b"\t", b" "))
    c.assert_silent(0.3)


def test_blank_and_tag_only_lines_are_silent(server):
    c = server.connect("blank")
    c.send_raw(b"\n\r\n@a=b\r\n@a=b \r\n:src\r\n:src \r\n")
    c.assert_silent(0.3)


def test_disconnect_mid_line(server):
    a = server.client()
    a.send_raw(b"NICK mid")
    a.close()
    b = server.connect("midreg")
    b.send_raw(b"PRIVMSG someone :half a line")
    b.close()
    # Reset (RST) instead of a FIN, with a partial line pending.
    c = server.connect("midrst")
    c.send_raw(b"PING unfinish")
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    # Unread output pending when the client goes away.
    d = server.connect("midout")
    d.send_raw(b"LUSERS\r\n" * 50)
    d.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    d.close()
    w = server.connect("watcher")
    wait_for(lambda: lusers_counts(w) == 1, what="the closed clients to be gone")
    w.drain()
    server.connect("mid")


def test_close_right_after_connect(server):
    for _ in range(20):
        s = socket.create_connection((HOST, server.port))
        s.close()
    for _ in range(20):
        s = socket.create_connection((HOST, server.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    c = server.connect("afterwards")
    c.send("PING ok")
    c.expect_next(PONG % "ok")


# --- SendQ -------------------------------------------------------------------------------------


def test_sendq_exceeded_cuts_only_the_slow_client(make_server):
    srv = make_server(sendq=8192, flood_enabled=False, log_level="debug")
    other = srv.connect("healthy")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((HOST, srv.port))
    victim = Client(srv.port, sock=raw, name="victim")
    srv.clients.append(victim)
    victim.register("victim")
    # The victim asks for a LUSERS burst (~600 bytes) again and again, never reading.
    batch = b"LUSERS\r\n" * 5
    deadline = time.monotonic() + 20
    cut = False
    n = 0
    while time.monotonic() < deadline:
        try:
            victim.sock.settimeout(2)
            victim.sock.sendall(batch)
        except (BrokenPipeError, ConnectionResetError):
            cut = True
            break
        except socket.timeout:
            continue
        n += 1
        if n % 20 == 0:
            other.send("PING during%d" % n)
            other.expect_next(PONG % ("during%d" % n))
            if "SendQ exceeded" in srv.stderr():
                cut = True
                break
        time.sleep(0.001)
    assert cut, "the client that never reads was not disconnected"
    wait_for(lambda: "SendQ exceeded" in srv.stderr(), what="'SendQ exceeded' in the log")
    assert re.search(r"info connections: exit \d+ victim from 127\.0\.0\.1: SendQ exceeded", srv.stderr())
    victim.expect_closed(timeout=5)
    # The other client keeps working, and the victim is gone.
    other.send("PING after")
    other.expect_next(PONG % "after")
    assert lusers_counts(other) == 1


def test_sendq_exceeded_by_messages_from_another_client(make_server):
    srv = make_server(sendq=8192, flood_enabled=False, log_level="debug")
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect((HOST, srv.port))
    victim = Client(srv.port, sock=raw, name="victim")
    srv.clients.append(victim)
    victim.register("victim")
    sender = srv.connect("sender")
    text = "x" * 400
    for i in range(2000):
        sender.send("PRIVMSG victim :%d %s" % (i, text))
        if i % 100 == 99:
            sender.send("PING p%d" % i)
            line = sender.expect(lambda l: l.command in ("PONG", "401"), timeout=5)
            if line.command == "401" or "SendQ exceeded" in srv.stderr():
                break
    wait_for(lambda: "SendQ exceeded" in srv.stderr(), what="'SendQ exceeded' in the log")
    assert re.search(r"info connections: exit \d+ victim from 127\.0\.0\.1: SendQ exceeded", srv.stderr())
    sender.drain(0.1)
    sender.send("PRIVMSG victim :are you there?")
    sender.expect(S + " 401 sender victim :No such nick/channel")
    sender.send("PING after")
    sender.expect(PONG % "after")
    victim.expect_closed(timeout=5)


def test_large_burst_within_sendq_is_delivered(make_server):
    srv = make_server(flood_enabled=False)
    c = srv.connect("bulk")
    c.send_raw(b"LUSERS\r\n" * 300)
    time.sleep(0.3)  # let the server hit a full socket
    for _ in range(300):
        c.expect_next(lambda l: l.command == "251")
        c.read_until(lambda l: l.command == "266")
    c.send("PING end")
    c.expect_next(PONG % "end")


# --- many clients ------------------------------------------------------------------------------


def test_500_simultaneous_clients(make_server):
    srv = make_server(flood_enabled=False)
    n = 500
    socks = [socket.create_connection((HOST, srv.port), timeout=5) for _ in range(n)]
    sel = selectors.DefaultSelector()
    bufs = {}
    for i, s in enumerate(socks):
        s.sendall(b"NICK many%d\r\nUSER many%d 0 * :Client %d\r\n" % (i, i, i))
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        bufs[i] = b""
    done = set()
    deadline = time.monotonic() + 30
    while len(done) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=1):
            i = key.data
            try:
                data = key.fileobj.recv(65536)
            except BlockingIOError:
                continue
            assert data, "client %d closed: %r" % (i, bufs[i][-300:])
            bufs[i] += data
            if re.search(rb" (376|422) many%d " % i, bufs[i]):
                done.add(i)
                sel.unregister(key.fileobj)
    assert len(done) == n, "only %d of %d clients registered" % (len(done), n)
    for i in (0, 123, n - 1):
        assert (b":%s 001 many%d :Welcome" % (SERVER_NAME.encode(), i)) in bufs[i]
    w = srv.connect("watcher")
    w.send("LUSERS")
    w.expect(S + " 251 watcher :There are %d users and 0 invisible on 1 servers" % (n + 1))
    w.expect(S + " 265 watcher %d %d :Current local users %d, max %d" % (n + 1, n + 1, n + 1, n + 1))
    for s in socks:
        s.close()
    wait_for(lambda: lusers_counts(w) == 1, timeout=10, what="500 clients to be gone")
    w.drain()


def test_max_clients(make_server):
    srv = make_server(max_clients=2)
    a = srv.client()
    a.send("PING a")
    a.expect_next(PONG % "a")
    b = srv.connect("inclass")
    c = srv.client()
    c.expect_error_close("Too many connections in this class")
    a.close()

    def can_connect():
        d = srv.client()
        d.send("PING d")
        line = d.getline()
        return line == PONG % "d"

    wait_for(can_connect, what="a free slot after a client left")
    b.send("PING b")
    b.expect_next(PONG % "b")


# --- flood control -----------------------------------------------------------------------------


def test_flood_control_delays_but_does_not_drop(make_server):
    # Rate 5 rather than 2 keeps the test short; the bucket logic is the same.
    rate, burst, count = 5.0, 5, 20
    srv = make_server(flood_enabled=True, flood_rate=rate, flood_burst=burst)
    c = srv.connect("flooder")
    time.sleep(burst / rate)  # refill the bucket NICK and USER drew from
    start = time.monotonic()
    c.send_raw(b"".join(b"PING %d\r\n" % i for i in range(count)))
    times = []
    for i in range(count):
        c.expect_next(PONG % i, timeout=10)
        times.append(time.monotonic() - start)
    assert times[burst - 1] < 0.4, "the burst was delayed: %r" % times
    expected_total = (count - burst) / rate
    assert times[-1] >= expected_total * 0.8, "not rate limited: %r" % times
    assert times[-1] <= expected_total + 1.5, "too slow: %r" % times
    gaps = [b - a for a, b in zip(times[burst:], times[burst + 1:])]
    assert max(gaps) < 3 / rate, "uneven: %r" % times


def test_flood_control_disabled(make_server):
    srv = make_server(flood_enabled=False)
    c = srv.connect("unlimited")
    start = time.monotonic()
    c.send_raw(b"".join(b"PING %d\r\n" % i for i in range(200)))
    for i in range(200):
        c.expect_next(PONG % i)
    assert time.monotonic() - start < 1.5


def test_excess_flood(make_server):
    srv = make_server(flood_enabled=True, flood_rate=1.0, flood_burst=5)
    c = srv.connect("excess")
    other = srv.connect("bystander")
    # More than the receive queue (CONN_RECVQ = 2 * (8191 + 512) bytes) while held.
    c.send_raw(b"PING x\r\n" * 3000)
    lines = c.expect_error_close("Excess Flood", timeout=5)
    assert lines[0] == PONG % "x", lines[:3]
    other.send("PING ok")
    other.expect_next(PONG % "ok")
    assert lusers_counts(other) == 1


def test_flood_held_client_can_still_quit(make_server):
    srv = make_server(flood_enabled=True, flood_rate=5.0, flood_burst=3)
    c = srv.connect("quitter")
    c.send_raw(b"PING 1\r\nPING 2\r\nPING 3\r\nPING 4\r\nQUIT :bye\r\n")
    lines = c.expect_closed(timeout=5)
    assert lines[-1] == "ERROR :Closing Link: %s (Quit: bye)" % HOST
    assert [l for l in lines if " PONG " in l] == [PONG % i for i in range(1, 5)]


# --- shutdown ----------------------------------------------------------------------------------


def test_sigterm_closes_every_client(server):
    a = server.connect("alpha")
    b = server.client()
    b.send("NICK beta")
    b.send("PING sync")
    b.expect_next(PONG % "sync")
    t = server.connect("gamma", tls=True)
    idle = server.client()
    idle.send("PING sync")
    idle.expect_next(PONG % "sync")
    server.signal(signal.SIGTERM)
    for c in (a, b, t, idle):
        c.expect_error_close("Server shutting down")
    assert server.wait_exit(5) == 0
    server.assert_clean_exit()
    with pytest.raises(OSError):
        socket.create_connection((HOST, server.port), timeout=1)


def test_sigint_also_shuts_down(server):
    a = server.connect("alpha")
    server.signal(signal.SIGINT)
    a.expect_error_close("Server shutting down")
    assert server.wait_exit(5) == 0


def test_sendq_overflow_inside_a_channel_fanout(make_server):
    # A member whose SendQ overflows while a channel message is being fanned out exits
    # after the loop, not inside it (it used to free the membership the loop stood on:
    # a use-after-free under ASan).
    srv = make_server(sendq=8192, flood_enabled=False)
    slow = srv.connect("slow")
    slow.send("JOIN #big")
    slow.expect(lambda l: l.command == "366")
    sender = srv.connect("sender")
    sender.send("JOIN #big")
    sender.expect(lambda l: l.command == "366")
    for i in range(3000):  # slow reads nothing: the kernel's buffers fill, then its SendQ
        sender.send("PRIVMSG #big :" + "z" * 400)
    sender.expect(":slow!slow@%s QUIT :SendQ exceeded" % HOST, timeout=10)
    sender.send("PING :alive")
    sender.expect(S + " PONG %s :alive" % SERVER_NAME, timeout=10)
