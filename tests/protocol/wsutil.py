"""A hand-written RFC 6455 client for the WebSocket tests: the HTTP upgrade, masked
frames, and WSClient, a conftest.Client whose lines travel as WebSocket messages (so
register(), expect() and the rest work unchanged over WebSocket)."""

import base64
import hashlib
import os
import socket
import ssl
import struct

from conftest import HOST, TIMEOUT, Client, free_port

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10


def accept_for(key):
    """The Sec-WebSocket-Accept value for key (RFC 6455 4.2.2)."""
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def ws_listeners(tls=False, **options):
    """(extra_listeners setting, port) for one WebSocket listener on a free port."""
    port = free_port()
    opts = "".join(" %s = %s;" % (k, "true" if v is True else v) for k, v in options.items())
    return ['{ address = "%s"; port = %d; websocket = true;%s%s }'
            % (HOST, port, " tls = true;" if tls else "", opts)], port


def open_socket(port, tls=False, timeout=TIMEOUT, cert=None):
    sock = socket.create_connection((HOST, port), timeout=timeout)
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if cert:
            ctx.load_cert_chain(*cert)
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    sock.settimeout(timeout)
    return sock


def request_text(key=None, protocols=None, origin=None, version="13", method="GET",
                 headers=(), omit=()):
    """An upgrade request; omit names headers to leave out."""
    key = key if key is not None else base64.b64encode(os.urandom(16)).decode()
    h = [("Host", "%s" % HOST), ("Upgrade", "websocket"), ("Connection", "Upgrade"),
         ("Sec-WebSocket-Key", key), ("Sec-WebSocket-Version", version)]
    if protocols:
        h.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if origin:
        h.append(("Origin", origin))
    h.extend(headers)
    lines = ["%s /irc HTTP/1.1" % method] + ["%s: %s" % kv for kv in h if kv[0] not in omit]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(), key


def read_response(sock):
    """Reads an HTTP response head: (status code, status line, {lowercased name: value},
    bytes after the head)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            break
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin1").split("\r\n")
    headers = {}
    for l in lines[1:]:
        name, _, value = l.partition(":")
        headers[name.strip().lower()] = value.strip()
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    return status, lines[0], headers, rest, head.decode("latin1")


def handshake(port, tls=False, **request):
    """Opens a connection and sends an upgrade request: (sock, status, headers, rest,
    head text, key)."""
    sock = open_socket(port, tls)
    data, key = request_text(**request)
    sock.sendall(data)
    status, _, headers, rest, head = read_response(sock)
    return sock, status, headers, rest, head, key


def frame(opcode, payload, fin=True, mask=True, rsv=0):
    """One client frame (masked unless mask is False)."""
    if isinstance(payload, str):
        payload = payload.encode()
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        head = struct.pack("!BB", b0, m | n)
    elif n < 65536:
        head = struct.pack("!BBH", b0, m | 126, n)
    else:
        head = struct.pack("!BBQ", b0, m | 127, n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def parse_frames(buf):
    """Server frames in buf: ([(fin, opcode, payload, header length)], rest). Server
    frames must not be masked."""
    out = []
    while len(buf) >= 2:
        b0, b1 = buf[0], buf[1]
        assert not b1 & 0x80, "a server frame is masked: %r" % buf[:16]
        n, hl = b1 & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, hl = struct.unpack("!H", buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, hl = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < hl + n:
            break
        out.append((bool(b0 & 0x80), b0 & 0x0F, buf[hl:hl + n], hl))
        buf = buf[hl + n:]
    return out, buf


class WSClient(Client):
    """A Client over WebSocket: each line sent is one masked frame (text or binary as
    negotiated), each data frame received is one line. Control frames received are
    kept: pongs in self.pongs, the close in self.close_code / self.close_reason (the
    close is answered as RFC 6455 asks), every frame in self.frames."""

    def __init__(self, port, tls=False, protocols=("text.ircv3.net",), origin=None,
                 headers=(), timeout=TIMEOUT, name=None, cert=None):
        sock = open_socket(port, tls, timeout, cert)
        data, key = request_text(protocols=protocols, origin=origin, headers=headers)
        sock.sendall(data)
        status, line, hdrs, rest, head = read_response(sock)
        assert status == 101, "upgrade refused: %r" % head
        assert hdrs.get("sec-websocket-accept") == accept_for(key), head
        self.protocol = hdrs.get("sec-websocket-protocol")
        self.response = head
        self.opcode = OP_BINARY if self.protocol == "binary.ircv3.net" else OP_TEXT
        self.frames, self.pongs = [], []
        self.close_code = self.close_reason = None
        self.wsbuf = b""
        super().__init__(port, tls=False, timeout=timeout, name=name or "ws:%d" % port, sock=sock)
        if rest:
            self._take(rest)

    def send_frame(self, opcode, payload, **kw):
        self.sock.settimeout(self.timeout)
        self.sock.sendall(frame(opcode, payload, **kw))

    def send(self, line, opcode=None):
        """Sends one line as one message (no CRLF)."""
        if isinstance(line, str):
            line = line.encode("utf-8", "surrogateescape")
        self.send_frame(opcode or self.opcode, line)

    def send_raw(self, data):
        """Each CRLF-terminated line in data becomes one message."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        for l in data.split(b"\n"):
            if l:
                self.send(l.rstrip(b"\r"))

    def _take(self, data):
        self.wsbuf += data
        frames, self.wsbuf = parse_frames(self.wsbuf)
        for fin, op, payload, hl in frames:
            self.frames.append((fin, op, payload, hl))
            if op in (OP_TEXT, OP_BINARY):
                assert fin, "server messages are never fragmented"
                assert not payload.endswith(b"\n"), "a message ends with a line end: %r" % payload
                self._push(payload)
            elif op == OP_PING:
                self.send_frame(OP_PONG, payload)
            elif op == OP_PONG:
                self.pongs.append(payload)
            elif op == OP_CLOSE:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
                self.close_reason = payload[2:].decode("utf-8")
                try:
                    self.send_frame(OP_CLOSE, payload[:2])
                except OSError:
                    pass

    def _fill(self, timeout):
        if self.eof:
            return False
        try:
            self.sock.settimeout(max(timeout, 0.0001))
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self.eof, self.eof_reason = True, repr(e)
            data = b""
        if not data:
            self.eof = True
            self.eof_reason = self.eof_reason or "EOF"
            return False
        n = len(self.pending)
        self._take(data)
        return len(self.pending) > n or True

    def expect_close(self, code, timeout=None):
        """Waits for the server's close frame and the end of the stream; checks the code.
        Returns the lines received before it."""
        lines = self.expect_closed(timeout)
        assert self.close_code == code, "close code %r (%r), expected %r" % (
            self.close_code, self.close_reason, code)
        return lines
