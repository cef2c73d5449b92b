"""Server links over TLS in both directions: a connect block with `tls = true` dials the
peer's TLS listener, checks its certificate (a pinned SHA-256 fingerprint, or else the
system CAs and the peer's name) and only then sends PASS; the accepting side requires TLS
and checks the dialler's certificate fingerprint.

A stand-in peer (Python's ssl module, the test certificate) records what each dialling
connection sent, so a refused certificate is seen to get no password."""

import hashlib
import re
import socket
import ssl
import threading
import time

from conftest import free_port
from test_linking import hybrid_factory, wait_whois  # noqa: F401 (a fixture)


def fingerprint(crt, colons=False):
    der = ssl.PEM_cert_to_DER_cert(open(crt).read())
    fp = hashlib.sha256(der).hexdigest()
    return ":".join(fp[i:i + 2] for i in range(0, 64, 2)).upper() if colons else fp


def tls_connect(name, port, fp, send, accept, autoconnect):
    return ('{ name = "%s"; address = "127.0.0.1"; port = %d; send_password = "%s";'
            ' accept_password = "%s"; tls = true; fingerprint = "%s"; autoconnect = %s; }'
            % (name, port, send, accept, fp, "true" if autoconnect else "false"))


LINKS = "links = { connect_retry = 1; ping_frequency = 5; ping_timeout = 5; };\n"


def test_two_nodes_link_over_tls(make_server, tls_files):
    # each pins the other's certificate (the harness gives both the same one); a's pin in
    # the colon form `openssl x509 -fingerprint -sha256` prints
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra="connect = ( %s );\n" % tls_connect(
                        "b.parley.test", 1, fingerprint(tls_files[0], colons=True), "b-pw", "a-pw", False) + LINKS)
    b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                    extra="connect = ( %s );\n" % tls_connect(
                        "a.parley.test", a.tls_port, fingerprint(tls_files[0]), "a-pw", "b-pw", True) + LINKS)
    alice = a.connect("alice")
    bob = b.connect("bob")
    wait_whois(alice, "bob")
    alice.send("JOIN #tls")
    alice.expect(lambda l: l.command == "366")
    bob.send("JOIN #tls")
    alice.expect(lambda l: l.command == "JOIN" and l.nick == "bob")
    bob.send("PRIVMSG #tls :over TLS \U0001F512")
    line = alice.expect(lambda l: l.command == "PRIVMSG")
    assert line.params == ["#tls", "over TLS \U0001F512"]
    assert "connecting to a.parley.test (127.0.0.1 port %d, TLS)" % a.tls_port in b.stderr() + b.log()


def test_tls_link_to_a_plaintext_port_is_not_accepted(make_server):
    # a connect block that wants TLS, dialled in plaintext, is refused before SERVER counts
    a = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra="connect = ( %s );\n" % tls_connect("b.parley.test", 1, "", "b-pw", "a-pw", False))
    c = a.client()
    c.send("PASS a-pw TS 6 :2BB")
    c.send("CAPAB :ENCAP")
    c.send("SERVER b.parley.test 1 2BB + :fake")
    c.expect_error_close("TLS required")


class FakePeer:
    """A TLS listener with the test certificate that records, per connection, the name
    the dialler asked for (SNI), whether the handshake completed and the bytes it sent."""

    def __init__(self, tls_files):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*tls_files)
        self.ctx.sni_callback = self._sni
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.seen = []  # (sni, handshake completed, data)
        self._names = {}
        self._stop = False
        threading.Thread(target=self._serve, daemon=True).start()

    def _sni(self, sslobj, name, ctx):
        self._names[id(sslobj)] = name

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                raw, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._one, args=(raw,), daemon=True).start()

    def _one(self, raw):
        raw.settimeout(3)
        conn = self.ctx.wrap_socket(raw, server_side=True, do_handshake_on_connect=False)
        ok, data = False, b""
        try:
            conn.do_handshake()
            ok = True
            while b"SERVER " not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
        except (ssl.SSLError, OSError):
            pass
        self.seen.append((self._names.get(id(conn)), ok, data))
        raw.close()

    def by_name(self, name):
        return [s for s in self.seen if s[0] == name]

    def close(self):
        self._stop = True
        self.sock.close()


def test_outgoing_tls_checks_the_peer_before_sending_the_password(make_server, tls_files):
    peer = FakePeer(tls_files)
    try:
        blocks = [tls_connect("good.parley.test", peer.port, fingerprint(tls_files[0]), "good-pw", "x-pw", True),
                  tls_connect("bad.parley.test", peer.port, "ab" * 32, "bad-pw", "x-pw", True),
                  # no pin: the self-signed certificate must pass the system CAs, and fails
                  tls_connect("ca.parley.test", peer.port, "", "ca-pw", "x-pw", True)]
        b = make_server(server_name="b.parley.test", server_keys={"sid": "2BB"},
                        extra="connect = ( %s );\n" % ", ".join(blocks) + LINKS)
        deadline = time.time() + 15
        while time.time() < deadline and not all(peer.by_name(n) for n in ("good.parley.test", "bad.parley.test",
                                                                             "ca.parley.test")):
            time.sleep(0.1)
        good, bad, ca = (peer.by_name(n)[0] for n in ("good.parley.test", "bad.parley.test", "ca.parley.test"))
        assert good[1], good
        assert re.match(rb"PASS good-pw TS 6 :2BB\r\nCAPAB :[^\r]*\r\nSERVER b\.parley\.test 1 2BB", good[2]), good
        for name, (_, ok, data) in (("bad", bad), ("ca", ca)):
            assert not ok and b"PASS" not in data, (name, ok, data)
        log = lambda: b.stderr() + b.log()
        deadline = time.time() + 10
        while time.time() < deadline and not ("bad.parley.test failed: TLS handshake failed: certificate rejected" in log()
                                             and re.search(r"ca\.parley\.test failed: TLS handshake failed: self.signed",
                                                           log())):
            time.sleep(0.1)
        assert "link with bad.parley.test failed: TLS handshake failed: certificate rejected" in log(), log()
        assert re.search(r"ca\.parley\.test failed: TLS handshake failed: self.signed certificate", log()), log()
    finally:
        peer.close()


def test_config_checks_tls_links(tmp_path):
    from conftest import check_config, write_config
    good = "a" * 64
    cases = [
        ('connect = ( { name = "b.parley.test"; address = "127.0.0.1"; port = 7000; send_password = "x";'
         ' accept_password = "y"; tls = true; fingerprint = "%s"; } );' % ("zz" * 32),
         "connect: fingerprint must be a SHA-256 in hex (64 digits, colons allowed)"),
        ('connect = ( { name = "b.parley.test"; address = "127.0.0.1"; port = 7000; send_password = "x";'
         ' accept_password = "y"; tls = true; fingerprint = "%s"; } );' % good[:40],
         "connect: fingerprint must be a SHA-256 in hex (64 digits, colons allowed)"),
    ]
    for extra, message in cases:
        path = tmp_path / "parley.conf"
        write_config(path, tls=False, extra=extra)
        r = check_config(path)
        assert r.returncode == 1 and message in r.stderr, r.stderr
    # without a tls section a TLS link has no certificate to present
    write_config(path, tls=False, extra='connect = ( { name = "b.parley.test"; address = "127.0.0.1"; port = 7000;'
                 ' send_password = "x"; accept_password = "y"; tls = true; autoconnect = true; } );')
    r = check_config(path)
    assert r.returncode == 1 and "connect: a TLS link needs the 'tls' section (certificate, key)" in r.stderr, r.stderr


def test_hybrid_links_over_tls(make_server, hybrid_factory, tls_files):
    # Parley dials ircd-hybrid's TLS port and pins its certificate; hybrid checks the
    # certificate Parley presents against the fingerprint in its connect block
    import os
    import subprocess
    from conftest import Client
    hyb_port, hyb_tls = free_port(), free_port()
    h = hybrid_factory(0, hyb_port)
    crt, key = h.dir / "h.crt", h.dir / "h.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=hybrid.test", "-keyout", str(key), "-out", str(crt)], check=True, capture_output=True)
    os.chmod(key, 0o644)  # hybrid runs as nobody
    p = make_server(server_name="a.parley.test", server_keys={"sid": "1AA"},
                    extra="connect = ( %s );\n" % tls_connect("hybrid.test", hyb_tls, fingerprint(str(crt)),
                                                              "h-pw", "a-pw", True) + LINKS)
    conf = (h.dir / "ircd.conf").read_text()
    conf = conf.replace('\tmax_clients = 100;\n', '\tmax_clients = 100;\n\trsa_private_key_file = "%s";\n'
                        '\ttls_certificate_file = "%s";\n\ttls_message_digest_algorithm = "sha256";\n' % (key, crt))
    conf = conf.replace('listen { host = "127.0.0.1"; port = %d; };' % hyb_port,
                        'listen { host = "127.0.0.1"; port = %d; };\nlisten { flags = tls; host = "127.0.0.1";'
                        ' port = %d; };' % (hyb_port, hyb_tls))
    conf = conf.replace('\tport = 0;\n', '\tport = %d;\n\ttls_certificate_fingerprint = "%s";\n'
                        % (p.port, fingerprint(tls_files[0]).upper()))
    (h.dir / "ircd.conf").write_text(conf)
    h.start()
    alice = p.connect("alice")
    hc = Client(h.port)
    hc.register("hank", timeout=15)
    wait_whois(hc, "alice", timeout=15)
    alice.send("JOIN #mix")
    alice.expect(lambda l: l.command == "366")
    hc.send("JOIN #mix")
    alice.expect(lambda l: l.command == "JOIN" and l.source.startswith("hank!"), timeout=10)
    hc.send("PRIVMSG #mix :over TLS from hybrid")
    m = alice.expect(lambda l: l.command == "PRIVMSG", timeout=10)
    assert m.source.startswith("hank!") and m.params == ["#mix", "over TLS from hybrid"]
    assert "connecting to hybrid.test (127.0.0.1 port %d, TLS)" % hyb_tls in p.stderr() + p.log()
