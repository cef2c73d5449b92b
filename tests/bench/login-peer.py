#!/usr/bin/env python3
"""Helpers for the login-storm comparison with InspIRCd + Atheme (tests/bench/login-peer.sh).

    login-peer.py register PORT PASSWORD   register account L0 through NickServ (TLS port)
    login-peer.py fill SERVICES_DB N       write accounts L0..L<N-1> into Atheme's database
    login-peer.py capls PORT               a server's replies to CAP LS 302 and to AUTHENTICATE
                                           PLAIN before and after registration (plaintext)

fill: the database (Atheme 7.2's flat file, opensex) must hold account L0 registered by
the running services: its password hash (made by the services' own crypto module with its
settings) and flags are copied to every account, as login-prefill.py shares one scrypt hash
among Parley's accounts (each login still runs its own check: the cost is per check, not
per hash). Run fill while the services are stopped.
"""
import socket
import ssl
import sys
import time

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def entity_id(n):
    """Atheme's 9-character entity ids: AAAAAAAAA, AAAAAAAAB, ..."""
    s = ""
    for _ in range(9):
        s = ALPHABET[n % 36] + s
        n //= 36
    return s


def read_until(sock, words, timeout):
    """Reads until a line contains one of words; returns everything read."""
    sock.settimeout(1)
    buf, end = b"", time.time() + timeout
    while time.time() < end:
        try:
            data = sock.recv(65536)
        except socket.timeout:
            continue
        if not data:
            break
        buf += data
        if b"PING" in data:
            for line in data.split(b"\r\n"):
                if line.startswith(b"PING"):
                    sock.sendall(b"PONG" + line[4:] + b"\r\n")
        if any(w.encode() in buf for w in words):
            break
    return buf.decode(errors="replace")


def register(port, password):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10))
    sock.sendall(b"NICK L0\r\nUSER u 0 * :login-peer\r\n")
    if " 001 " not in read_until(sock, [" 001 "], 30):
        sys.exit("register: no 001")
    sock.sendall(("PRIVMSG NickServ :REGISTER %s bench@example.org\r\n" % password).encode())
    reply = read_until(sock, ["is now registered"], 60)
    if "is now registered" not in reply:
        sys.exit("register: NickServ said: %s" % reply.strip())
    sock.sendall(b"QUIT\r\n")
    sock.close()


def fill(db, n):
    lines = open(db).read().splitlines()
    template = [l.split() for l in lines if l.startswith("MU ") and l.split()[2] == "L0"]
    if not template:
        sys.exit("%s: no account L0 (register it through NickServ first)" % db)
    # MU id name hash email registered lastlogin flags language
    _, _, _, pw, email, _, _, flags, lang = template[0][:9]
    now = int(time.time())
    head = [l for l in lines if l.split()[0] in ("GRVER", "DBV", "MDEP", "CF")]
    tail = [l for l in lines if l.split()[0] in ("KID", "XID", "QID")]
    out = head + ["LUID %s" % entity_id(n + 1)]
    for i in range(n):
        out.append("MU %s L%d %s %s %d %d %s %s" % (entity_id(i + 1), i, pw, email, now, now, flags, lang))
        out.append("MN L%d L%d %d %d" % (i, i, now, now))
    open(db, "w").write("\n".join(out + tail) + "\n")


def capls(port):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"CAP LS 302\r\nAUTHENTICATE PLAIN\r\nNICK capls\r\nUSER u 0 * :capls\r\nCAP END\r\n"
                 b"AUTHENTICATE PLAIN\r\n")
    reply = read_until(sock, ["AUTHENTICATE :", " 90"], 10)
    sock.sendall(b"QUIT\r\n")
    sock.close()
    print(" / ".join(l.strip() for l in reply.splitlines()
                     if " CAP " in l or "AUTHENTICATE" in l or " 90" in l))


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "register" and len(sys.argv) == 4:
        register(int(sys.argv[2]), sys.argv[3])
    elif cmd == "fill" and len(sys.argv) == 4:
        fill(sys.argv[2], int(sys.argv[3]))
    elif cmd == "capls" and len(sys.argv) == 3:
        capls(int(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
