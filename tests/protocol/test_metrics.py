"""The metrics endpoint (`metrics = { address; port; }`): the Prometheus text format at
GET /metrics with exact values after known traffic, checked by `promtool check metrics`
and scraped by a real Prometheus; the bounds of its minimal HTTP server (request size,
timeout, connection limit, 400/404/405/408/431/503), and that nothing it is sent stops
the IRC side."""

import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import (HOST, SERVER_NAME, TIMEOUT, Client, accounts_section, authenticate,
                      check_config, free_port, register_account, wait_for)

S = ":" + SERVER_NAME
PASSWORD = "correcthorse"


# --------------------------------------------------------------------------------------
# A plain-socket HTTP client


def http_raw(port, data, timeout=TIMEOUT, read=True):
    """Sends data (bytes) on a new connection and returns everything the server sends
    until it closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        if data:
            s.sendall(data)
        if not read:
            return b""
        return recv_all(s, timeout)


def recv_all(s, timeout=TIMEOUT):
    s.settimeout(timeout)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def parse_response(raw):
    """(status, {header lowercased: value}, body bytes) of one HTTP response."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    assert sep, "no end of headers in %r" % raw[:300]
    lines = head.decode("latin-1").split("\r\n")
    m = re.fullmatch(r"HTTP/1\.1 (\d{3}) [A-Za-z ]+", lines[0])
    assert m, lines[0]
    headers = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(m.group(1)), headers, body


def request(port, method="GET", path="/metrics", version="1.1", extra=b""):
    raw = http_raw(port, b"%s %s HTTP/%s\r\nHost: localhost\r\n%s\r\n" % (
        method.encode(), path.encode(), version.encode(), extra))
    return parse_response(raw)


def scrape(port):
    """GET /metrics: (body text, {series: value}), asserting a 200 in the 0.0.4 format."""
    status, headers, body = request(port)
    assert status == 200, (status, body[:300])
    assert headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert headers["connection"] == "close"
    assert int(headers["content-length"]) == len(body)
    text = body.decode("utf-8")
    return text, parse_exposition(text)


def parse_exposition(text):
    """{'name{labels}': float} for every sample line; asserts each family has its HELP and
    TYPE lines before its samples."""
    values, typed = {}, {}
    for line in text.splitlines():
        m = re.fullmatch(r"# (HELP|TYPE) (\w+) (.+)", line)
        if m:
            typed.setdefault(m.group(2), set()).add(m.group(1))
            continue
        m = re.fullmatch(r"(\w+)(\{[^}]*\})? (\S+)", line)
        assert m, "not a sample line: %r" % line
        family = re.sub(r"_(bucket|sum|count)$", "", m.group(1)) if m.group(1) not in typed else m.group(1)
        assert typed.get(family) == {"HELP", "TYPE"}, "no HELP/TYPE before %s" % line
        values[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return values


def promtool_check(text):
    promtool = shutil.which("promtool")
    assert promtool, "promtool (Debian package prometheus, in the Makefile's DEBS) is needed"
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), (r.stdout, r.stderr)


def clients_key(registered, tls, cls="default"):
    return 'parley_clients{class="%s",registered="%s",tls="%s"}' % (
        cls, "true" if registered else "false", "true" if tls else "false")


def metrics_server(make_server, port=None, backend=None, accounts=False, settings=None, **metrics):
    """A server with the metrics group (metrics: its keys; the port free by default);
    settings are make_server's. The port is srv.metrics_port."""
    metrics["port"] = port or free_port()
    sections = {"metrics": metrics}
    if accounts:
        sections["accounts"] = accounts_section()
    settings = dict(settings or {}, sections=sections)
    if backend:
        settings["backend"] = backend
    srv = make_server(**settings)
    srv.metrics_port = metrics["port"]
    return srv


# --------------------------------------------------------------------------------------
# Values


def test_exact_values_after_traffic(make_server, backend):
    srv = metrics_server(make_server, backend=backend, accounts=True)
    _, before = scrape(srv.metrics_port)
    assert before["parley_channels"] == 0
    assert before[clients_key(True, False)] == 0
    register_account(srv, "carol", PASSWORD)

    alice = srv.connect("alice", caps=["echo-message"])
    bob = srv.connect("bob", caps=["message-tags"], tls=True)
    # carol logs in with SASL PLAIN: a wrong password first, then the right one
    carol = srv.client()
    carol.cap_ls()
    carol.send("CAP REQ :sasl")
    carol.expect("%s CAP * ACK :sasl" % S)
    carol.send("NICK carol")
    carol.send("USER carol 0 * :Carol")
    assert authenticate(carol, "carol", "wrong-password").command == "904"
    assert authenticate(carol, "carol", PASSWORD).command == "903"
    carol.send("CAP END")
    carol.read_until(lambda l: l.command in ("376", "422"))
    idle = srv.client()  # connected, never registers
    idle.send("CAP LS 302")
    idle.expect(lambda l: l.command == "CAP")

    for c in (alice, bob):
        c.send("JOIN #metrics")
        c.expect(lambda l: l.command == "366")
    alice.expect(lambda l: l.command == "JOIN" and l.nick == "bob")
    alice.send("PRIVMSG #metrics :hello")        # to bob, echoed to alice: 2 deliveries
    alice.send("PRIVMSG bob,carol :hi both")     # two targets, two echoes: 4
    alice.send("NOTICE #metrics :note")          # to bob + echo: 2
    alice.send("PRIVMSG #nowhere :lost")         # 403: not relayed
    alice.send("PRIVMSG nobody :lost")           # 401: not relayed
    bob.send("@+typing=active TAGMSG #metrics")  # alice lacks message-tags: 0 deliveries
    bob.expect(lambda l: l.command == "NOTICE" and l.params[-1] == "note")
    carol.expect(lambda l: l.command == "PRIVMSG" and l.params[-1] == "hi both")
    alice.expect(lambda l: l.command == "401")
    alice.send("PING sync")
    alice.expect(lambda l: l.command == "PONG")
    bob.send("PING sync")
    bob.expect(lambda l: l.command == "PONG")

    # Five history rows (two channel messages, two direct ones, the TAGMSG with a tag):
    # written by the storage thread in the next batch.
    wait_for(lambda: scrape(srv.metrics_port)[1]["parley_history_rows_written_total"] == 5,
             what="5 history rows written")
    text, v = scrape(srv.metrics_port)
    promtool_check(text)
    want = {
        clients_key(True, False): 2,   # alice, carol
        clients_key(True, True): 1,    # bob
        clients_key(False, False): 1,  # idle
        clients_key(False, True): 0,
        "parley_channels": 1,
        "parley_operators": 0,
        "parley_clients_flood_held": 0,
        'parley_messages_relayed_total{command="PRIVMSG"}': 3,
        'parley_messages_relayed_total{command="NOTICE"}': 1,
        'parley_messages_relayed_total{command="TAGMSG"}': 1,
        "parley_message_deliveries_total": 8,
        "parley_sendq_exceeded_total": 0,
        'parley_logins_total{mechanism="PLAIN",result="ok"}': 1,
        'parley_logins_total{mechanism="PLAIN",result="failed"}': 1,
        'parley_logins_total{mechanism="EXTERNAL",result="ok"}': 0,
        'parley_logins_total{mechanism="PASS",result="failed"}': 0,
        "parley_history_rows_written_total": 5,
        "parley_history_rows_journaled_total": 0,
        "parley_history_journal_bytes": 0,
        "parley_history_queue_rows": 0,
        "parley_storage_queue_jobs": 0,
        'parley_info{version="parley-0.1",server="%s"}' % SERVER_NAME: 1,
    }
    assert {k: v.get(k) for k in want} == want
    count = v["parley_history_write_duration_seconds_count"]
    assert 1 <= count <= 5
    assert v['parley_history_write_duration_seconds_bucket{le="+Inf"}'] == count
    assert 0 < v["parley_history_write_duration_seconds_sum"] < 5
    buckets = [v[k] for k in v if k.startswith("parley_history_write_duration_seconds_bucket")]
    assert buckets == sorted(buckets) and len(buckets) == 13
    assert abs(v["parley_start_time_seconds"] + v["parley_uptime_seconds"] - time.time()) <= 2
    assert v["process_resident_memory_bytes"] > 1 << 20
    assert v["process_open_fds"] >= 8  # listeners, 5 clients, this scrape, the database

    # A departure is seen at the next scrape.
    idle.close()
    bob.send("QUIT")
    bob.expect_closed()
    wait_for(lambda: scrape(srv.metrics_port)[1][clients_key(False, False)] == 0, what="idle gone")
    _, v = scrape(srv.metrics_port)
    assert v[clients_key(True, True)] == 0 and v[clients_key(True, False)] == 2


def test_sendq_disconnect_counted(make_server):
    srv = metrics_server(make_server, settings={"sendq": 8192, "flood_enabled": False})
    port = srv.metrics_port
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
            if line.command == "401":
                break
    wait_for(lambda: scrape(port)[1]["parley_sendq_exceeded_total"] == 1, what="one SendQ disconnect")
    _, v = scrape(port)
    assert v[clients_key(True, False)] == 1  # the sender only


def test_flood_held_client_counted(make_server):
    # Rate 0: once the burst is spent, a client's input stays held.
    srv = metrics_server(make_server, settings={"flood_rate": 0.0, "flood_burst": 10})
    port = srv.metrics_port
    calm = srv.connect("calm")
    flooder = srv.connect("flooder")
    assert scrape(port)[1]["parley_clients_flood_held"] == 0
    flooder.send_raw(b"".join(b"PING f%d\r\n" % i for i in range(30)))
    wait_for(lambda: scrape(port)[1]["parley_clients_flood_held"] == 1, what="one held client")
    calm.send("PING still")
    calm.expect(lambda l: l.command == "PONG")


# --------------------------------------------------------------------------------------
# The HTTP side


def test_wrong_path_method_and_garbage(make_server):
    srv = metrics_server(make_server)
    port = srv.metrics_port
    status, headers, body = request(port, path="/")
    assert (status, body) == (404, b"404 Not Found\n")
    assert request(port, path="/metricsx")[0] == 404
    status, headers, body = request(port, method="POST")
    assert (status, headers["allow"], body) == (405, "GET, HEAD", b"405 Method Not Allowed\n")
    assert request(port, method="DELETE", path="/nope")[0] == 405
    assert request(port, path="/metrics?name[]=parley_channels")[0] == 200
    assert request(port, version="1.0")[0] == 200
    status, headers, body = request(port, method="HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000
    for junk in (b"\x00\x01\x02 hello\r\n\r\n", b"GET /metrics HTTP/2.0\r\n\r\n",
                 b"GET /metrics\r\n\r\n", b"GET  /metrics HTTP/1.1\r\n\r\n",
                 b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n",
                 b"GET /metrics HTTP/1.1\r\nX: a\x01b\r\n\r\n"):
        status, _, body = parse_response(http_raw(port, junk))
        assert (status, body) == (400, b"400 Bad Request\n"), junk
    # A request in pieces, with bare LFs, is whole once its blank line comes.
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        for piece in (b"GE", b"T /met", b"rics HTTP/1.1\nHost:", b" x\n", b"\n"):
            s.sendall(piece)
            time.sleep(0.02)
        assert parse_response(recv_all(s))[0] == 200
    # A connection that closes without a request gets nothing and costs nothing.
    with socket.create_connection((HOST, port), timeout=TIMEOUT) as s:
        s.sendall(b"GET /metr")
    c = srv.connect("alice")
    c.send("PING ok")
    c.expect(lambda l: l.command == "PONG")
    assert scrape(port)[1][clients_key(True, False)] == 1


def test_oversized_request_431(make_server):
    srv = metrics_server(make_server)
    big = b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 5000 + b"\r\n\r\n"
    status, _, body = parse_response(http_raw(srv.metrics_port, big))
    assert (status, body) == (431, b"431 Request Header Fields Too Large\n")
    # no line end at all within the limit
    status, _, _ = parse_response(http_raw(srv.metrics_port, b"G" * 4096))
    assert status == 431
    assert scrape(srv.metrics_port)[1]["parley_channels"] == 0


def test_slow_request_times_out_408(make_server):
    srv = metrics_server(make_server, timeout=1)
    with socket.create_connection((HOST, srv.metrics_port), timeout=TIMEOUT + 2) as s:
        start = time.monotonic()
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        raw = recv_all(s, TIMEOUT + 2)
        elapsed = time.monotonic() - start
    status, _, body = parse_response(raw)
    assert (status, body) == (408, b"408 Request Timeout\n")
    assert 0.8 <= elapsed <= 1 + TIMEOUT, elapsed
    # an idle connection too; meanwhile scrapes and IRC go on
    with socket.create_connection((HOST, srv.metrics_port), timeout=TIMEOUT + 2) as s:
        assert scrape(srv.metrics_port)[0]
        c = srv.connect("alice")
        c.send("PING ok")
        c.expect(lambda l: l.command == "PONG")
        assert parse_response(recv_all(s, TIMEOUT + 2))[0] == 408


def test_connection_limit_503(make_server):
    srv = metrics_server(make_server, max_connections=2, timeout=2)
    port = srv.metrics_port
    held = [socket.create_connection((HOST, port), timeout=TIMEOUT + 3) for _ in range(2)]
    try:
        time.sleep(0.1)  # both accepted
        for _ in range(3):
            status, _, body = parse_response(http_raw(port, b""))
            assert (status, body) == (503, b"503 Service Unavailable\n")
        c = srv.connect("alice")
        c.send("PING ok")
        c.expect(lambda l: l.command == "PONG")
    finally:
        for s in held:
            s.close()
    wait_for(lambda: parse_response(http_raw(port, b"GET /metrics HTTP/1.1\r\n\r\n"))[0] == 200,
             what="a slot free again")


def test_many_connections_and_garbage_never_stop_the_loop(make_server):
    srv = metrics_server(make_server, max_connections=8, timeout=2)
    port = srv.metrics_port
    c = srv.connect("alice")
    socks = []
    for i in range(40):
        try:
            s = socket.create_connection((HOST, port), timeout=TIMEOUT)
        except OSError:
            continue
        socks.append(s)
        try:
            s.sendall(bytes((i * 37 + j) % 256 for j in range(300)))
        except OSError:
            pass  # refused (503) and reset before the bytes went: that is allowed too
    c.send("PING alive")
    c.expect(lambda l: l.command == "PONG")
    for s in socks:
        s.close()
    wait_for(lambda: parse_response(http_raw(port, b"GET /metrics HTTP/1.1\r\n\r\n"))[0] == 200,
             what="the endpoint serving again")


# --------------------------------------------------------------------------------------
# Configuration


def test_disabled_without_the_group(make_server):
    srv = make_server()
    assert "metrics on" not in srv.stderr()
    srv2 = metrics_server(make_server, port=free_port())
    assert "metrics on http://127.0.0.1:%d/metrics" % srv2.metrics_port in srv2.stderr()


def test_config_errors(tmp_path):
    base = ('server = { name = "irc.example.org"; };\n'
            'listen = ( { address = "127.0.0.1"; port = 6667; } );\n')
    cases = {
        'metrics = { address = "localhost"; };': "metrics.address must be an IPv4 or IPv6 address",
        'metrics = { port = 0; };': "'port' must be between 1 and 65535",
        'metrics = { timeout = 0; };': "'timeout' must be between 1 and 300",
        'metrics = { max_connections = 5000; };': "'max_connections' must be between 1 and 1024",
        'metrics = { path = "/x"; };': "metrics: unknown setting 'path'",
        'metrics = 5;': "'metrics' must be a group",
    }
    for i, (text, error) in enumerate(cases.items()):
        path = tmp_path / ("c%d.conf" % i)
        path.write_text(base + text + "\n")
        r = check_config(path)
        assert r.returncode == 1 and error in r.stderr, (text, r.stderr)
    path = tmp_path / "ok.conf"
    path.write_text(base + 'metrics = { address = "::1"; port = 9640; timeout = 5; max_connections = 4; };\n')
    r = check_config(path)
    assert r.returncode == 0, r.stderr


def test_rehash_moves_the_listener(make_server):
    srv = metrics_server(make_server)
    old = srv.metrics_port
    new = free_port()
    text = srv.conf_path.read_text().replace("port = %d;" % old, "port = %d;" % new)
    srv.conf_path.write_text(text)
    srv.signal(signal.SIGHUP)
    wait_for(lambda: "metrics on http://127.0.0.1:%d/metrics" % new in srv.stderr(), what="new port")
    assert scrape(new)[1]["parley_channels"] == 0
    with pytest.raises(OSError):
        socket.create_connection((HOST, old), timeout=1).close()


# --------------------------------------------------------------------------------------
# A real Prometheus


def test_prometheus_scrapes_the_endpoint(make_server, tmp_path):
    prometheus = shutil.which("prometheus")
    assert prometheus, "prometheus (Debian package prometheus, in the Makefile's DEBS) is needed"
    srv = metrics_server(make_server)
    srv.connect("alice").send("JOIN #prom")
    wait_for(lambda: scrape(srv.metrics_port)[1]["parley_channels"] == 1, what="the channel")
    web = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                      "scrape_configs:\n  - job_name: parley\n    static_configs:\n"
                      "      - targets: ['127.0.0.1:%d']\n" % srv.metrics_port)
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prometheus, "--config.file=" + str(config),
                             "--storage.tsdb.path=" + str(tmp_path / "tsdb"),
                             "--web.listen-address=127.0.0.1:%d" % web],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def query(q):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/query?query=%s" % (web, q),
                                        timeout=2) as r:
                data = json.load(r)
        except OSError:
            return None
        result = data["data"]["result"]
        return result[0]["value"][1] if result else None

    try:
        wait_for(lambda: query("up") == "1", timeout=20, interval=0.2, what="Prometheus: up == 1")
        assert query("parley_channels") == "1"
        assert query('parley_clients{registered="true",tls="false"}') == "1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
