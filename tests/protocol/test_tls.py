"""The TLS listener: handshake, registration, client certificates, and hostile or
stalled handshakes that must not disturb anyone else."""

import hashlib
import re
import socket
import ssl
import struct
import time

import pytest

from conftest import HOST, NICKSERV, SERVER_NAME, Client, check_welcome, wait_for

S = ":" + SERVER_NAME
PONG = S + " PONG " + SERVER_NAME + " :%s"


def test_tls_registration(server):
    c = server.client(tls=True)
    assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
    lines = c.register("secure")
    check_welcome(lines, "secure", "secure")
    c.send("PING tls")
    c.expect_next(PONG % "tls")
    c.send("QUIT :tls bye")
    c.expect_error_close("Quit: tls bye")


def test_tls_with_cap(server):
    c = server.client(tls=True)
    c.register("capsecure", caps=["batch", "labeled-response"])
    c.send("@label=t1 PING x")
    c.expect_next("@label=t1 %s PONG %s :x" % (S, SERVER_NAME))


def test_tls_client_certificate(server, client_cert):
    c = server.client(tls=True, certfile=client_cert[0], keyfile=client_cert[1])
    c.register("certuser")
    c.send("PING cert")
    c.expect_next(PONG % "cert")


@pytest.mark.parametrize("version", ["TLSv1_3", "TLSv1_2"])
def test_tls_session_resumption_keeps_the_certificate(server, client_cert, version):
    """A client coming back with the session ticket of its previous connection resumes it
    (no certificate signature: the cheap handshake of a reconnect storm), and the resumed
    connection still carries its client certificate's fingerprint."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = getattr(ssl.TLSVersion, version)
    ctx.load_cert_chain(client_cert[0], client_cert[1])

    def connect(session=None):
        raw = socket.create_connection((HOST, server.tls_port), timeout=5)
        c = Client(server.tls_port, sock=ctx.wrap_socket(raw, server_hostname="localhost", session=session))
        server.clients.append(c)
        return c

    first = connect()
    first.register("resume1")  # TLS 1.3 tickets come after the handshake, before 001
    session = first.sock.session
    assert session is not None and session.has_ticket
    assert not first.sock.session_reused
    first.send("QUIT")
    first.expect_error_close("Quit: ")

    second = connect(session)
    assert second.sock.session_reused
    assert second.sock.version() == version.replace("_", ".")
    second.register("resume2")
    second.send("PRIVMSG NickServ :REGISTER resumepass1")
    second.expect_next(":%s NOTICE resume2 :Account resume2 registered. You are now logged in." % NICKSERV)
    second.expect_next(re.compile(r".* 900 resume2 "))
    second.send("PRIVMSG NickServ :CERT ADD")
    second.expect_next(":%s NOTICE resume2 :Certificate fingerprint added." % NICKSERV)
    with open(client_cert[0]) as f:
        fp = hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()
    second.send("PRIVMSG NickServ :CERT LIST")
    second.expect_next(":%s NOTICE resume2 :Certificate fingerprints for resume2: %s" % (NICKSERV, fp))


def test_stalled_and_garbage_handshakes_do_not_block(server):
    # A connection to the TLS port that never says anything.
    stalled = socket.create_connection((HOST, server.tls_port))
    # One that sends half a ClientHello and stops.
    half = socket.create_connection((HOST, server.tls_port))
    half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    # Plain IRC spoken to the TLS port.
    garbage = socket.create_connection((HOST, server.tls_port))
    garbage.sendall(b"NICK plain\r\nUSER plain 0 * :Plain\r\n")
    # Random bytes.
    noise = socket.create_connection((HOST, server.tls_port))
    noise.sendall(bytes(range(256)) * 4)
    start = time.monotonic()
    c = server.client()
    c.register("unblocked")
    c.send("PING free")
    c.expect_next(PONG % "free")
    t = server.client(tls=True)
    t.register("tlsok")
    assert time.monotonic() - start < 2
    # The garbage handshakes were closed by the server.
    for s in (garbage, noise):
        s.settimeout(3)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    for s in (stalled, half, garbage, noise):
        s.close()


def test_stalled_handshake_times_out(make_server):
    srv = make_server(registration_timeout=1)
    stalled = socket.create_connection((HOST, srv.tls_port))
    stalled.settimeout(4)
    start = time.monotonic()
    try:
        data = stalled.recv(4096)
    except ConnectionResetError:
        data = b""
    assert data == b"", "unexpected plaintext on the TLS port: %r" % data
    assert time.monotonic() - start < 3.5
    stalled.close()


def test_tls_disconnect_mid_handshake_and_mid_line(server):
    for _ in range(5):
        s = socket.create_connection((HOST, server.tls_port))
        s.sendall(b"\x16\x03\x01\x00\x05")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    c = server.connect("tlsmid", tls=True)
    c.send_raw(b"PING half a li")
    c.close()
    w = server.connect("watcher")

    def one_user():
        w.send("LUSERS")
        line = w.expect(lambda l: l.command == "251")
        w.read_until(lambda l: l.command == "266")
        return "There are 1 users" in line

    wait_for(one_user, what="the TLS client to be gone")


def test_tls_large_output_to_slow_reader(make_server):
    srv = make_server(flood_enabled=False)
    c = srv.connect("tlsbulk", tls=True)
    c.send_raw(b"LUSERS\r\n" * 400)
    time.sleep(0.5)  # the server's writes hit a full socket (SSL_write wants to write)
    for _ in range(400):
        c.expect_next(lambda l: l.command == "251", timeout=5)
        c.read_until(lambda l: l.command == "266")
    c.send("PING end")
    c.expect_next(PONG % "end")


def test_tls_input_split_across_reads(make_server):
    """Lines arriving in a TLS record larger than what the server reads at once must
    all be processed without waiting for more input: plaintext buffered inside the TLS
    layer does not make the socket readable again."""
    srv = make_server(flood_enabled=False)
    c = srv.connect("tlssplit", tls=True)
    # A partial (tagged) line first: the server keeps 3006 bytes, so its next read
    # asks for less than a full TLS record.
    c.send_raw(b"@+example.com/pad=" + b"v" * 2988)
    time.sleep(0.2)
    # Then one full-size TLS record (16384 bytes of plaintext) finishing that line and
    # carrying many more.
    record = b" PING first\r\n"
    n = 0
    while len(record) + 12 <= 16384 - 20:
        record += b"PING %05d\r\n" % n
        n += 1
    record += b"PING :" + b"e" * (16384 - len(record) - 8) + b"\r\n"
    assert len(record) == 16384
    c.send_raw(record)
    c.expect_next(PONG % "first")
    for i in range(n):
        c.expect_next(PONG % ("%05d" % i), timeout=3)
    c.expect_next(re.compile(r"^%s PONG %s :e+$" % (re.escape(S), re.escape(SERVER_NAME))))


# --------------------------------------------------------------------------------------
# Certificates: renewal without a restart, and errors that name the problem


def peer_fingerprint(c):
    import hashlib
    return hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()


def file_fingerprint(crt):
    import hashlib
    import ssl
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(open(crt).read())).hexdigest()


def test_sighup_loads_a_renewed_certificate(make_server, tmp_path):
    # certbot (or any renewal) replaces the files, then `systemctl reload` sends SIGHUP:
    # new connections get the new certificate, connected clients keep theirs.
    import shutil
    import signal
    from conftest import make_self_signed
    old, new = make_self_signed(tmp_path, "old"), make_self_signed(tmp_path, "new")
    live = (str(tmp_path / "live.crt"), str(tmp_path / "live.key"))
    shutil.copy(old[0], live[0])
    shutil.copy(old[1], live[1])
    srv = make_server()
    srv.tls_files = live  # the config the server was started with names these
    srv.stop()
    srv.start()
    before = srv.client(tls=True)
    before.register("before")
    assert peer_fingerprint(before) == file_fingerprint(old[0])
    shutil.copy(new[0], live[0])
    shutil.copy(new[1], live[1])
    srv.signal(signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in srv.stderr(), what="the reload")
    after = srv.client(tls=True)
    after.register("after")
    assert peer_fingerprint(after) == file_fingerprint(new[0])
    before.send("PING still")
    before.expect_next(PONG % "still")


def test_missing_certificate_is_named_with_its_reason(tmp_path):
    import subprocess
    from conftest import PARLEYD, write_config
    conf = tmp_path / "parley.conf"
    crt, key = tmp_path / "none.crt", tmp_path / "none.key"
    write_config(conf, (str(crt), str(key)))
    r = subprocess.run([PARLEYD, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=10)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "%s: cannot load TLS certificate '%s': No such file or directory\n" % (conf, crt)
    crt.write_text("not a certificate\n")
    r = subprocess.run([PARLEYD, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=10)
    assert r.stderr == "%s: cannot load TLS certificate '%s': no start line\n" % (conf, crt)
    from conftest import make_self_signed
    good = make_self_signed(tmp_path, "good")
    write_config(conf, (good[0], str(key)))
    r = subprocess.run([PARLEYD, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=10)
    assert r.stderr == "%s: cannot load TLS key '%s': No such file or directory\n" % (conf, key)
