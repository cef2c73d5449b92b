"""A real browser on Parley's WebSocket listener: headless Chromium (Debian's), driven by
Playwright (drive.mjs), loads page.html from a loopback HTTP server; the page uses the
browser's own WebSocket to register, join a channel and talk, with emoji, to a plain TCP
client of this test. The test checks what each side received. `make test-web` installs
what it needs (chromium, npm ci) and runs it."""

import functools
import http.server
import json
import os
import subprocess
import threading
import urllib.parse
from pathlib import Path

import pytest

from parley_harness import HOST, TIMEOUT, free_port

HERE = Path(__file__).resolve().parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = HERE / "artifacts"

# Skipped without the browser, except under `make test-web`, which installs it and must
# not pass by skipping.
pytestmark = pytest.mark.skipif(
    os.environ.get("PARLEY_WEB_REQUIRED") != "1"
    and not (Path(CHROMIUM).exists() and (HERE / "node_modules" / "playwright-core").exists()),
    reason="needs chromium and `npm ci` in tests/web (make test-web does both)")


@pytest.fixture
def page_server():
    """Serves tests/web on a loopback port; yields its origin."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(HERE))
    httpd = http.server.ThreadingHTTPServer((HOST, 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield "http://%s:%d" % (HOST, httpd.server_address[1])
    httpd.shutdown()
    httpd.server_close()


def run_browser(url, shot):
    ARTIFACTS.mkdir(exist_ok=True)
    return subprocess.Popen(["node", str(HERE / "drive.mjs"), url, str(ARTIFACTS / shot)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=HERE)


def finish(proc):
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, "drive.mjs failed:\n" + err[-4000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.parametrize("tls", [False, True], ids=["ws", "wss"])
def test_chromium_chats_with_a_tcp_client(make_server, page_server, tls):
    ws_port = free_port()
    srv = make_server(
        extra_listeners=['{ address = "%s"; port = %d; websocket = true;%s }'
                         % (HOST, ws_port, " tls = true;" if tls else "")],
        sections={"websocket": {"origins": page_server}})
    tcp = srv.connect("tcpuser")
    tcp.send("JOIN #web")
    tcp.expect(lambda l: l.command == "366")
    say = "hello from Chromium 🌍👋 ünïcödé"
    reply = "welcome, browser 🎉🚀"
    query = urllib.parse.urlencode({
        "ws": "%s://%s:%d/" % ("wss" if tls else "ws", HOST, ws_port),
        "nick": "browser", "chan": "#web", "say": say, "expect": "welcome"})
    proc = run_browser(page_server + "/page.html?" + query, "browser-%s.png" % ("wss" if tls else "ws"))
    try:
        tcp.expect(":browser!web@%s JOIN #web" % HOST, timeout=TIMEOUT + 15)
        tcp.expect(":browser!web@%s PRIVMSG #web :%s" % (HOST, say), timeout=TIMEOUT + 5)
        tcp.send("PRIVMSG #web :" + reply)
        tcp.expect(":browser!web@%s QUIT :Quit: bye 👋" % HOST, timeout=TIMEOUT + 5)
    finally:
        result = finish(proc)
    assert result["errors"] == [], result
    assert result["protocol"] == "text.ircv3.net"
    assert result["state"] == "done"
    assert result["nonText"] == 0
    got = result["received"]
    assert got[0].startswith(":irc.parley.test 001 browser :Welcome"), got
    assert ":browser!web@%s JOIN #web" % HOST in got
    assert ":tcpuser!tcpuser@%s PRIVMSG #web :%s" % (HOST, reply) in got
    assert got[-1] == "ERROR :Closing Link: %s (Quit: bye 👋)" % HOST
    assert all(not l.endswith("\r") and "\n" not in l for l in got)
    assert result["closeCode"] == 1000
