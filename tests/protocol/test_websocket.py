"""The WebSocket transport (RFC 6455, IRCv3 WebSocket): the upgrade handshake and its
refusals, subprotocols, framing both ways, masking, fragmentation, size and UTF-8
limits, control frames, Origin checks, X-Forwarded-For from trusted proxies, and a
WebSocket client chatting with a TCP client. Driven by the hand-written client in
wsutil.py. Storage plays no part here except SASL (one account on SQLite)."""

import struct
import time

import pytest

from conftest import HOST, SERVER_NAME, TIMEOUT, accounts_section, authenticate, register_account
from wsutil import (OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, WSClient, accept_for, frame,
                    handshake, open_socket, parse_frames, read_response, request_text, ws_listeners)

S = ":" + SERVER_NAME


def ws_server(make_server, tls=False, sections=None, **settings):
    """A server with one WebSocket listener (ws, or wss with tls); returns (srv, port)."""
    listeners, port = ws_listeners(tls=tls)
    srv = make_server(extra_listeners=listeners, sections=sections, **settings)
    return srv, port


def ws_client(srv, port, nick=None, tls=False, **kw):
    c = WSClient(port, tls=tls, **kw)
    srv.clients.append(c)
    if nick:
        c.register(nick)
    return c


def raw_frames(sock, want=1, timeout=TIMEOUT):
    """Reads until want frames (or EOF); returns (frames, eof)."""
    buf, frames = b"", []
    deadline = time.monotonic() + timeout
    while len(frames) < want and time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            data = sock.recv(65536)
        except OSError:
            return frames, True
        if not data:
            return frames, True
        buf += data
        frames, _ = parse_frames(buf)
    return frames, False


# ---- the handshake ----------------------------------------------------------------------


def test_upgrade_response_is_exact(make_server):
    srv, port = ws_server(make_server)
    sock, status, headers, rest, head, key = handshake(port, protocols=["text.ircv3.net"])
    assert head == ("HTTP/1.1 101 Switching Protocols\r\n"
                    "Upgrade: websocket\r\n"
                    "Connection: Upgrade\r\n"
                    "Sec-WebSocket-Accept: %s\r\n"
                    "Sec-WebSocket-Protocol: text.ircv3.net" % accept_for(key))
    assert rest == b""
    sock.close()


def test_accept_value_matches_rfc_example(make_server):
    # RFC 6455 section 1.3: this key gives s3pPLMBiTxaQ9kYGzzhZRbK+xOo=
    srv, port = ws_server(make_server)
    sock, status, headers, _, head, _ = handshake(port, key="dGhlIHNhbXBsZSBub25jZQ==")
    assert status == 101, head
    assert headers["sec-websocket-accept"] == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    assert "sec-websocket-protocol" not in headers  # none offered, none chosen
    sock.close()


@pytest.mark.parametrize("request_args,status", [
    pytest.param({"omit": ("Sec-WebSocket-Key",)}, 400, id="missing-key"),
    pytest.param({"key": "c2hvcnQ="}, 400, id="key-not-16-bytes"),
    pytest.param({"method": "POST"}, 400, id="not-GET"),
    pytest.param({"omit": ("Upgrade",)}, 400, id="missing-upgrade"),
    pytest.param({"omit": ("Connection",)}, 400, id="missing-connection"),
    pytest.param({"omit": ("Host",)}, 400, id="missing-host"),
])
def test_bad_request_400(make_server, request_args, status):
    srv, port = ws_server(make_server)
    sock, got, headers, rest, head, _ = handshake(port, **request_args)
    assert got == status, head
    assert head.startswith("HTTP/1.1 400 Bad Request\r\n"), head
    assert sock.recv(100) == b""  # closed, and no IRC ERROR line over HTTP
    sock.close()


def test_wrong_version_426_names_13(make_server):
    srv, port = ws_server(make_server)
    sock, status, headers, rest, head, _ = handshake(port, version="8")
    assert status == 426, head
    assert head.startswith("HTTP/1.1 426 Upgrade Required\r\n")
    assert headers["sec-websocket-version"] == "13"
    assert sock.recv(100) == b""
    sock.close()


def test_request_head_is_bounded(make_server):
    srv, port = ws_server(make_server)
    sock = open_socket(port)
    data, _ = request_text(headers=[("X-Padding", "a" * 9000)])
    try:
        sock.sendall(data)
    except OSError:
        pass
    status, line, _, _, _ = read_response(sock)
    assert status == 431, line
    sock.close()


def test_handshake_timeout(make_server):
    srv, port = ws_server(make_server, registration_timeout=60)
    sock = open_socket(port, timeout=15)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
    start = time.monotonic()
    status, line, _, _, _ = read_response(sock)
    assert status == 408, line
    assert 8 < time.monotonic() - start < 14
    sock.close()


# ---- Origin ------------------------------------------------------------------------------


def test_browser_origin_refused_without_an_allow_list(make_server):
    srv, port = ws_server(make_server)
    sock, status, _, _, head, _ = handshake(port, origin="https://evil.example")
    assert status == 403, head
    assert head.startswith("HTTP/1.1 403 Forbidden\r\n")
    sock.close()
    # a client that sends no Origin (not a browser) is not concerned
    ws_client(srv, port, "noorigin")


def test_origin_allow_list(make_server):
    srv, port = ws_server(make_server, sections={
        "websocket": {"origins": "https://chat.example.org https://*.parley.test"}})
    for origin in ("https://chat.example.org", "https://web.parley.test"):
        c = ws_client(srv, port, origin=origin)
        c.register("ok%d" % len(srv.clients))
    for origin in ("https://chat.example.org.evil.test", "http://chat.example.org", "null"):
        sock, status, _, _, head, _ = handshake(port, origin=origin)
        assert status == 403, (origin, head)
        sock.close()


# ---- subprotocols and framing ----------------------------------------------------------


@pytest.mark.parametrize("offered,chosen,opcode", [
    pytest.param(["binary.ircv3.net"], "binary.ircv3.net", OP_BINARY, id="binary-only"),
    pytest.param(["text.ircv3.net"], "text.ircv3.net", OP_TEXT, id="text-only"),
    pytest.param(["binary.ircv3.net", "text.ircv3.net"], "binary.ircv3.net", OP_BINARY, id="binary-first"),
    pytest.param(["text.ircv3.net", "binary.ircv3.net"], "text.ircv3.net", OP_TEXT, id="text-first"),
    pytest.param(["chat", "text.ircv3.net"], "text.ircv3.net", OP_TEXT, id="unknown-first"),
    pytest.param([], None, OP_TEXT, id="none-is-text"),
    pytest.param(["chat"], None, OP_TEXT, id="unknown-only-is-text"),
])
def test_subprotocols(make_server, offered, chosen, opcode):
    srv, port = ws_server(make_server)
    c = ws_client(srv, port, protocols=offered)
    assert c.protocol == chosen
    c.register("webby")
    data = [f for f in c.frames if f[1] in (OP_TEXT, OP_BINARY)]
    assert data and all(f[1] == opcode and f[0] for f in data)
    assert all(not f[2].endswith(b"\r\n") for f in data)


def test_ws_and_tcp_clients_chat_with_emoji(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    web.send("JOIN #café")
    web.expect(":web!web@%s JOIN #café" % HOST)
    tcp.send("JOIN #café")
    tcp.expect(":tcp!tcp@%s JOIN #café" % HOST)
    web.expect(":tcp!tcp@%s JOIN #café" % HOST)
    web.send("PRIVMSG #café :hello 👋 from the web 🌍")
    tcp.expect(":web!web@%s PRIVMSG #café :hello 👋 from the web 🌍" % HOST)
    tcp.send("PRIVMSG #café :hi back 🎉 — ünïcödé")
    line = web.expect(":tcp!tcp@%s PRIVMSG #café :hi back 🎉 — ünïcödé" % HOST)
    # one line per text message, no CRLF, the frame exactly the line
    assert (True, OP_TEXT, line.raw, 2 if len(line.raw) < 126 else 4) in web.frames
    web.send("PRIVMSG tcp :direct ✉")
    tcp.expect(":web!web@%s PRIVMSG tcp :direct ✉" % HOST)


def test_binary_client_gets_binary_frames(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, protocols=["binary.ircv3.net"])
    web.register("bin")
    tcp = srv.connect("tcp")
    tcp.send("PRIVMSG bin :ça va 🙂")
    line = web.expect(":tcp!tcp@%s PRIVMSG bin :ça va 🙂" % HOST)
    assert (True, OP_BINARY, line.raw, 2) in web.frames


def test_long_line_uses_16_bit_length(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    text = "x" * 300
    tcp.send("PRIVMSG web :" + text)
    line = web.expect(":tcp!tcp@%s PRIVMSG web :%s" % (HOST, text))
    assert (True, OP_TEXT, line.raw, 4) in web.frames


def test_several_lines_in_one_message_are_cut_at_the_first(make_server):
    # One IRC line per message: a CR/LF ends it, nothing after it is smuggled in.
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    web.send("PRIVMSG tcp :one\r\nPRIVMSG tcp :two")
    tcp.expect(":web!web@%s PRIVMSG tcp :one" % HOST)
    tcp.assert_silent(0.3)


def test_client_frames_must_be_masked(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_TEXT, b"PING :x", mask=False)
    web.expect_close(1002)
    assert web.close_reason == "Client frames must be masked"


def test_fragmented_message_is_joined(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    web.send_frame(OP_TEXT, "PRIVMSG tcp :frag", fin=False)
    web.send_frame(OP_PING, b"between")  # control frames may come between fragments
    web.send_frame(OP_CONT, "mented 🧩", fin=False)
    web.send_frame(OP_CONT, " message", fin=True)
    tcp.expect(":web!web@%s PRIVMSG tcp :fragmented 🧩 message" % HOST)
    web.send("PING :sync")
    web.expect(S + " PONG %s :sync" % SERVER_NAME)
    assert web.pongs == [b"between"]


def test_utf8_split_across_fragments(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    emoji = "🎉".encode()
    web.send_frame(OP_TEXT, b"PRIVMSG tcp :" + emoji[:2], fin=False)
    web.send_frame(OP_CONT, emoji[2:])
    tcp.expect(":web!web@%s PRIVMSG tcp :🎉" % HOST)


def test_continuation_without_a_message_is_1002(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_CONT, "PING :x")
    web.expect_close(1002)


def test_new_message_inside_a_fragmented_one_is_1002(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_TEXT, "PRIVMSG x :a", fin=False)
    web.send_frame(OP_TEXT, "PING :x")
    web.expect_close(1002)


@pytest.mark.parametrize("opcode", [3, 7, 11, 15])
def test_unknown_opcode_is_1002(make_server, opcode):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(opcode, "x")
    web.expect_close(1002)


def test_reserved_bits_are_1002(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_TEXT, "PING :x", rsv=4)  # no extension was negotiated
    web.expect_close(1002)


def test_fragmented_control_frame_is_1002(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_PING, "x", fin=False)
    web.expect_close(1002)


def test_oversized_message_is_1009(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    # the limit is a line with its tags (8191 + 512 bytes): the header alone decides
    web.sock.sendall(frame(OP_TEXT, b"PRIVMSG x :" + b"a" * 9000)[:20])
    web.expect_close(1009)


def test_oversized_fragmented_message_is_1009(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_TEXT, b"PRIVMSG x :" + b"a" * 5000, fin=False)
    web.send_frame(OP_CONT, b"a" * 5000, fin=True)
    web.expect_close(1009)


def test_largest_message_is_accepted(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tags = "@+a=" + "b" * 4000
    web.send(tags + " PING :big")  # tags within the client tag limit, body short
    web.expect(S + " PONG %s :big" % SERVER_NAME)


def test_invalid_utf8_in_a_text_message_is_1007(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_TEXT, b"PRIVMSG x :caf\xe9")
    web.expect_close(1007)


def test_invalid_utf8_in_a_binary_message_meets_utf8only(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    srv.connect("tcp")
    web.send("PRIVMSG tcp :caf\xe9".encode("latin1"), opcode=OP_BINARY)
    web.expect(S + " FAIL PRIVMSG INVALID_UTF8 :Message rejected, your IRC software MUST use "
               "UTF-8 encoding on this network")


def test_text_client_never_gets_invalid_utf8(make_server):
    # A reply that echoes bytes which are not UTF-8 reaches a text client with U+FFFD.
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send(b"WHOIS \xffbad\xfe", opcode=OP_BINARY)
    line = web.expect(lambda l: l.command == "401")
    assert line == S + " 401 web \ufffdbad\ufffd :No such nick/channel"
    # and a binary client gets the bytes as they are
    binc = ws_client(srv, port, protocols=["binary.ircv3.net"])
    binc.register("bin")
    binc.send(b"WHOIS \xffbad\xfe")
    line = binc.expect(lambda l: l.command == "401")
    assert line.raw == b":" + SERVER_NAME.encode() + b" 401 bin \xffbad\xfe :No such nick/channel"


# ---- control frames and closing ------------------------------------------------------


def test_ping_gets_pong_with_the_same_payload(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_PING, b"\x00\x01 payload \xff")
    web.send("PING :sync")
    web.expect(S + " PONG %s :sync" % SERVER_NAME)
    assert web.pongs == [b"\x00\x01 payload \xff"]


def test_client_close_is_answered_and_quits(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    tcp = srv.connect("tcp")
    for c in (web, tcp):
        c.send("JOIN #room")
        c.expect(lambda l: l.command == "366")
    web.send_frame(OP_CLOSE, struct.pack("!H", 1001) + b"tab closed")
    lines = web.expect_close(1001)  # the code is echoed
    assert not [l for l in lines if l.command == "ERROR"]  # no data after the client's close
    tcp.expect(":web!web@%s QUIT :Remote host closed the connection" % HOST)


def test_bad_close_code_is_1002(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send_frame(OP_CLOSE, struct.pack("!H", 1005))
    web.expect_close(1002)


def test_quit_sends_error_then_close(make_server):
    srv, port = ws_server(make_server)
    web = ws_client(srv, port, "web")
    web.send("QUIT :bye")
    lines = web.expect_close(1000)
    assert lines[-1] == "ERROR :Closing Link: %s (Quit: bye)" % HOST
    assert web.frames[-1][1] == OP_CLOSE


def test_flood_control_applies(make_server):
    srv, port = ws_server(make_server, flood_rate=2.0, flood_burst=3)
    web = ws_client(srv, port, "web")
    start = time.monotonic()
    for i in range(7):
        web.send("PING :%d" % i)
    web.expect(S + " PONG %s :6" % SERVER_NAME, timeout=TIMEOUT + 3)
    assert time.monotonic() - start > 1.0  # held by the token bucket, not dropped


def test_sendq_limit_applies(make_server):
    srv, port = ws_server(make_server, sendq=8192, flood_enabled=False)  # the sender floods
    web = ws_client(srv, port, "web")
    web.send("JOIN #big")
    web.expect(lambda l: l.command == "366")
    tcp = srv.connect("tcp")
    tcp.send("JOIN #big")
    # web stops reading; the server's queue for it fills past 8 KiB
    for i in range(400):
        tcp.send("PRIVMSG #big :" + "z" * 400)
    tcp.expect(":web!web@%s QUIT :SendQ exceeded" % HOST, timeout=TIMEOUT + 5)


# ---- TLS, SASL, proxies -----------------------------------------------------------------


def test_sasl_plain_over_wss(make_server):
    srv, port = ws_server(make_server, tls=True,
                          sections={"accounts": accounts_section(sasl_plaintext="never")})
    register_account(srv, "alice", "correcthorse")
    web = ws_client(srv, port, tls=True)
    web.cap_ls()
    web.send("CAP REQ :sasl")
    web.expect(S + " CAP * ACK :sasl")
    web.send("NICK alice")
    web.send("USER alice 0 * :Alice")
    assert authenticate(web, "alice", "correcthorse").command == "903"
    web.send("CAP END")
    lines = web.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0].command == "001"
    web.send("PRIVMSG alice :👍 over wss")
    web.expect(":alice!alice@%s PRIVMSG alice :👍 over wss" % HOST)


def test_wss_asks_for_no_client_certificate(make_server, client_cert):
    # Browsers fail a handshake that asks for one (Chromium does), so a wss listener does
    # not ask: the client's certificate is not sent, and SASL EXTERNAL finds none at once
    # (with a certificate it would be asked for the authzid first, as on the TLS port).
    srv, port = ws_server(make_server, tls=True)

    def external(c, nick):
        c.cap_ls()
        c.send("CAP REQ :sasl")
        c.expect(S + " CAP * ACK :sasl")
        c.send("NICK " + nick)
        c.send("USER %s 0 * :Cert" % nick)
        c.send("AUTHENTICATE EXTERNAL")
        return c.getline()

    web = ws_client(srv, port, tls=True, cert=client_cert)
    assert external(web, "certweb") == S + " 904 certweb :SASL authentication failed"
    tcp = srv.client(tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    assert external(tcp, "certtcp") == "AUTHENTICATE +"


def whois_host(c, nick):
    c.send("WHOIS " + nick)
    line = c.expect(lambda l: l.command == "311")
    return line.params[3]


def test_forwarded_for_from_a_trusted_proxy(make_server):
    srv, port = ws_server(make_server, sections={"websocket": {"proxies": "127.0.0.0/8"}})
    web = ws_client(srv, port, headers=[("X-Forwarded-For", "198.51.100.1, 203.0.113.7")])
    lines = web.register("web")
    assert lines[0] == S + " 001 web :Welcome to the ParleyTest IRC Network web!web@203.0.113.7"
    assert whois_host(web, "web") == "203.0.113.7"


def test_forwarded_for_ignored_from_an_untrusted_peer(make_server):
    srv, port = ws_server(make_server, sections={"websocket": {"proxies": "192.0.2.0/24"}})
    web = ws_client(srv, port, headers=[("X-Forwarded-For", "203.0.113.7")])
    web.register("web")
    assert whois_host(web, "web") == HOST


def test_bad_forwarded_for_from_a_trusted_proxy_is_400(make_server):
    srv, port = ws_server(make_server, sections={"websocket": {"proxies": "127.0.0.1"}})
    sock, status, _, _, head, _ = handshake(port, headers=[("X-Forwarded-For", "not-an-address")])
    assert status == 400, head
    sock.close()


def test_forwarded_address_counts_for_connection_limits(make_server):
    srv, port = ws_server(make_server, sections={
        "websocket": {"proxies": "127.0.0.1"},
        "connlimit": {"per_ip": 1, "exempt": ""}})
    a = ws_client(srv, port, headers=[("X-Forwarded-For", "203.0.113.7")])
    a.register("first")
    b = ws_client(srv, port, headers=[("X-Forwarded-For", "203.0.113.8")])
    b.register("second")  # the proxy's own address is not what is limited
    c = ws_client(srv, port, headers=[("X-Forwarded-For", "203.0.113.7")])
    lines = c.expect_close(1000)
    assert lines[-1] == "ERROR :Closing Link: 203.0.113.7 (Too many connections from your address)"
    a.send("QUIT")
    a.expect_closed()
    time.sleep(0.2)
    d = ws_client(srv, port, headers=[("X-Forwarded-For", "203.0.113.7")])
    d.register("again")  # the count followed the first client out


def test_config_rejects_a_bad_proxy_address(tmp_path):
    from conftest import check_config, write_config
    path = tmp_path / "p.conf"
    write_config(path, tls=False, sections={"websocket": {"proxies": "127.0.0.1 nonsense"}})
    r = check_config(path)
    assert r.returncode != 0
    assert "websocket.proxies: 'nonsense' is not an address or a CIDR range" in r.stdout + r.stderr
