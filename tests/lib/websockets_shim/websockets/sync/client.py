"""connect() with the part of websockets.sync.client's interface irctest uses (see
../../README.md): a blocking RFC 6455 client, masked frames out, messages in."""

import base64
import hashlib
import os
import socket
import struct
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ClientConnection:
    def __init__(self, sock, subprotocol, rest):
        self.sock = sock
        self.subprotocol = subprotocol
        self.buf = rest
        self.closed = False

    def _frame(self, opcode, payload):
        n = len(payload)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([0x80 | n])
        elif n < 65536:
            head += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            head += bytes([0x80 | 127]) + struct.pack("!Q", n)
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send(self, message):
        if isinstance(message, str):
            self.sock.sendall(self._frame(1, message.encode()))
        else:
            self.sock.sendall(self._frame(2, bytes(message)))

    def _take_frame(self):
        """(first byte, payload) of a whole frame at the front of the buffer, or None."""
        b = self.buf
        if len(b) < 2:
            return None
        n, h = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, h = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, h = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < h + n:
            return None
        self.buf = b[h + n:]
        return b[0], b[h:h + n]

    def _fill(self, deadline):
        if deadline is None:
            self.sock.settimeout(None)
        else:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError()
            self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError() from None
        if not data:
            raise ConnectionError("connection closed")
        self.buf += data

    def recv(self, timeout=None):
        """The next message: str for text, bytes for binary. Answers pings; a close
        raises ConnectionError."""
        deadline = None if timeout is None else time.monotonic() + timeout
        message, kind = b"", None
        while True:
            f = self._take_frame()
            if f is None:
                self._fill(deadline)
                continue
            b0, payload = f
            op = b0 & 0x0F
            if op == 9:
                self.sock.sendall(self._frame(10, payload))
                continue
            if op == 10:
                continue
            if op == 8:
                self.closed = True
                raise ConnectionError("closed by the server: %r" % payload)
            if op in (1, 2):
                kind = op
            message += payload
            if b0 & 0x80:
                return message.decode() if kind == 1 else message

    def close(self):
        if not self.closed:
            try:
                self.sock.sendall(self._frame(8, struct.pack("!H", 1000)))
            except OSError:
                pass
        self.sock.close()


def connect(url, subprotocols=None):
    u = urllib.parse.urlparse(url)
    port = u.port or (443 if u.scheme == "wss" else 80)
    sock = socket.create_connection((u.hostname, port))
    if u.scheme == "wss":
        import ssl
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        sock = ctx.wrap_socket(sock, server_hostname=u.hostname)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET %s HTTP/1.1" % (u.path or "/"), "Host: %s:%d" % (u.hostname, port),
             "Upgrade: websocket", "Connection: Upgrade", "Sec-WebSocket-Key: " + key,
             "Sec-WebSocket-Version: 13"]
    if subprotocols:
        lines.append("Sec-WebSocket-Protocol: " + ", ".join(subprotocols))
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = sock.recv(4096)
        if not data:
            raise ConnectionRefusedError("closed during the handshake")
        buf += data
    head, _, rest = buf.partition(b"\r\n\r\n")
    head = head.decode("latin1").split("\r\n")
    if head[0].split()[1] != "101":
        raise ConnectionError("handshake refused: " + head[0])
    headers = {}
    for l in head[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    want = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    if headers.get("sec-websocket-accept") != want:
        raise ConnectionError("bad Sec-WebSocket-Accept")
    return ClientConnection(sock, headers.get("sec-websocket-protocol"), rest)
