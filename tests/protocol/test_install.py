"""`make install`, end to end: the FHS layout under DESTDIR, the systemd unit checked by
systemd-analyze, and the installed daemon run the way an init system runs it (from /, as
root switching to an unprivileged user, with a configuration derived from the installed
example) serving TLS and storing an account.

This machine has no systemd as PID 1, so `systemctl start parleyd` itself is not run; the
unit is checked with `systemd-analyze verify`, and the daemon is run with what the unit
gives it (README "Deploying")."""

import grp
import os
import pwd
import re
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HOST, ROOT, Client, free_port, make_self_signed, wait_for

pytestmark = pytest.mark.timeout(900)  # one full build of the daemon

USER = "nobody"  # PARLEY_USER for this install: a user every Debian machine has


@pytest.fixture(scope="module")
def installed():
    """`make install DESTDIR=... PREFIX=/usr` from a build of its own (the daemon other
    tests run is not touched). The DESTDIR is reachable by an unprivileged user."""
    top = Path(tempfile.mkdtemp(prefix="parley-install-", dir="/tmp"))
    os.chmod(top, 0o755)
    dest, build = top / "dest", top / "build"
    r = make("install", dest, build)
    assert r.returncode == 0, r.stdout + r.stderr
    yield {"dest": dest, "build": build, "output": r.stdout}
    shutil.rmtree(top, ignore_errors=True)


def make(target, dest, build):
    return subprocess.run(["make", "-s", "-j2", "-C", str(ROOT), target, "DESTDIR=%s" % dest, "PREFIX=/usr",
                           "BUILD=%s" % build, "DAEMON=%s/parleyd" % build, "PARLEY_USER=%s" % USER],
                          capture_output=True, text=True, timeout=800)


def test_layout(installed):
    dest = installed["dest"]
    sbin = dest / "usr/sbin/parleyd"
    assert sbin.is_file() and os.stat(sbin).st_mode & 0o777 == 0o755
    v = subprocess.run([str(sbin), "-v"], capture_output=True, text=True, timeout=10)
    assert (v.returncode, v.stdout) == (0, "parley-0.1\n")
    for backend in ("sqlite", "mariadb"):
        src = sorted(p.name for p in (ROOT / "sql" / backend).glob("*.sql"))
        got = sorted(p.name for p in (dest / "usr/share/parley/sql" / backend).iterdir())
        assert got == src and src
    for section in ("5", "8"):
        pages = sorted(p.name for p in (ROOT / "docs/man").glob("*." + section)) if (ROOT / "docs/man").is_dir() else []
        got = sorted(p.name for p in (dest / "usr/share/man" / ("man" + section)).iterdir())
        assert got == pages
    unit = (dest / "usr/lib/systemd/system/parleyd.service").read_text()
    assert "ExecStart=/usr/sbin/parleyd -f /etc/parley/parley.conf\n" in unit
    conf = dest / "etc/parley/parley.conf"
    assert os.stat(conf).st_mode & 0o777 == 0o640
    text = conf.read_text()
    assert 'user = "%s";' % USER in text
    assert 'path = "/var/lib/parley/parley.db";' in text and 'journal = "/var/lib/parley/history.journal";' in text
    assert 'certificate = "/etc/parley/tls.crt";' in text and 'motd = "/etc/parley/motd.txt";' in text
    assert "schema_dir" not in text  # the default: the installed migrations
    assert (dest / "etc/parley/motd.txt").read_text() == (ROOT / "conf/motd.txt").read_text()
    state = os.stat(dest / "var/lib/parley")
    assert state.st_mode & 0o777 == 0o700
    if os.geteuid() == 0:
        assert state.st_uid == pwd.getpwnam(USER).pw_uid


def test_reinstall_keeps_the_configuration(installed):
    conf = installed["dest"] / "etc/parley/parley.conf"
    motd = installed["dest"] / "etc/parley/motd.txt"
    text = conf.read_text()
    conf.write_text(text + "# edited by the operator\n")
    motd.write_text("our motd\n")
    try:
        r = make("install", installed["dest"], installed["build"])
        assert r.returncode == 0, r.stderr
        assert "%s exists: kept" % conf in r.stdout
        assert conf.read_text() == text + "# edited by the operator\n"
        assert motd.read_text() == "our motd\n"
    finally:
        conf.write_text(text)


def test_unit_passes_systemd_analyze_verify(installed, tmp_path):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (make deps installs systemd)")
    dest = installed["dest"]
    unit = (dest / "usr/lib/systemd/system/parleyd.service").read_text()
    # verify checks that ExecStart exists: point it at the staged binary, nothing else changes
    staged = tmp_path / "parleyd.service"
    staged.write_text(unit.replace("/usr/sbin/parleyd", str(dest / "usr/sbin/parleyd")))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(staged)], capture_output=True, text=True,
                       timeout=60)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")
    for key in ("Type=notify", "User=parley", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                "ReadWritePaths=/var/lib/parley", "Restart=on-failure", "ExecReload=/bin/kill -HUP $MAINPID"):
        assert key + "\n" in unit, key
    # and the check can fail: a misspelt setting is reported
    staged.write_text(staged.read_text().replace("ProtectSystem=", "ProtectSistem="))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(staged)], capture_output=True, text=True,
                       timeout=60)
    assert "Unknown key 'ProtectSistem'" in r.stderr


def derived_config(dest, port, tls_port):
    """The installed example with its paths moved into DESTDIR and its listeners on free
    ports: what an operator would run, in a box."""
    text = (dest / "etc/parley/parley.conf").read_text()
    for d in ("/etc/parley/", "/var/lib/parley/", "/var/log/parley/"):
        text = text.replace('"%s' % d, '"%s%s' % (dest, d))
    listen = ('listen = (\n  { address = "0.0.0.0"; port = %d; },\n'
              '  { address = "0.0.0.0"; port = %d; tls = true; }\n);' % (port, tls_port))
    text, n = re.subn(r"listen = \(.*?\n\);", listen, text, flags=re.S)
    assert n == 1
    return text


def installed_operator(text, daemon):
    """The example's operator block filled in as the comment says (parleyd -mkpasswd)."""
    r = subprocess.run([daemon, "-mkpasswd"], input="oper-secret\n", capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    block = '  { name = "admin"; password = "%s"; hosts = "*@*"; }\n' % r.stdout.strip()
    text, n = re.subn(r"(operators = \(\n)", lambda m: m.group(1) + block, text)
    assert n == 1
    return text


def metrics_port(text, port):
    text, n = re.subn(r"(metrics = \{.*?port = )\d+;", lambda m: "%s%d;" % (m.group(1), port), text,
                      flags=re.S)
    assert n == 1
    return text


@pytest.mark.skipif(os.geteuid() != 0, reason="starts the installed daemon as root")
def test_installed_daemon_serves_tls_as_unprivileged_user(installed):
    dest = installed["dest"]
    etc = dest / "etc/parley"
    make_self_signed(etc, "tls", cn="irc.example.org")
    port, tls_port = free_port(), free_port()
    conf = etc / "test.conf"
    text = derived_config(dest, port, tls_port)
    conf.write_text(text)
    daemon = str(dest / "usr/sbin/parleyd")
    # the default schema_dir is the installed location under PREFIX, not under DESTDIR
    r = subprocess.run([daemon, "-f", str(conf)], cwd="/", capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "cannot read schema directory /usr/share/parley/sql/sqlite" in r.stderr, r.stderr
    mport = free_port()
    text = metrics_port(installed_operator(text, daemon), mport)
    conf.write_text(text.replace('backend = "sqlite";', 'backend = "sqlite";\n  schema_dir = "%s";'
                                 % (dest / "usr/share/parley/sql"), 1))
    r = subprocess.run([daemon, "-t", "-f", str(conf)], cwd="/", capture_output=True, text=True, timeout=30)
    assert (r.returncode, r.stdout) == (0, "%s: configuration OK\n" % conf), r.stderr
    log = dest / "parleyd.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([daemon, "-f", str(conf)], cwd="/", stdin=subprocess.DEVNULL, stdout=out,
                                stderr=out)
    clients = []
    try:
        # the installed configuration logs to /var/log/parley/parley.log, not stderr
        plog = dest / "var/log/parley/parley.log"
        wait_for(lambda: proc.poll() is not None or (plog.exists() and " started (" in plog.read_text()),
                 timeout=30, what="the installed parleyd to start")
        assert proc.poll() is None, log.read_text()
        uid, gid = pwd.getpwnam(USER).pw_uid, pwd.getpwnam(USER).pw_gid
        status = Path("/proc/%d/status" % proc.pid).read_text()
        assert re.search(r"^Uid:\s+%d\s+%d\s+%d\s+%d$" % ((uid,) * 4), status, re.M), status
        assert re.search(r"^Gid:\s+%d\s+%d\s+%d\s+%d$" % ((gid,) * 4), status, re.M), status
        c = Client(tls_port, tls=True)
        clients.append(c)
        c.register("alice")
        c.send("REGISTER alice * a-long-password")
        c.expect(lambda l: l.command == "REGISTER" and l.params[:2] == ["SUCCESS", "alice"], timeout=30)
        db = dest / "var/lib/parley/parley.db"
        assert os.stat(db).st_uid == uid and os.stat(db).st_mode & 0o777 == 0o600
        con = sqlite3.connect(str(db))
        try:
            assert con.execute("SELECT name FROM accounts").fetchall() == [("alice",)]
        finally:
            con.close()
        # an OPER failure reaches the installed audit log, written as the unprivileged user
        c.send("OPER admin wrong-password")
        c.expect(lambda l: l.command == "464")
        audit = dest / "var/log/parley/parley.log"
        wait_for(lambda: re.search(r"^\S+Z info audit: OPER failed name=admin reason=\"bad password\" from alice!",
                                   audit.read_text(), re.M), timeout=10, what="the audit line")
        assert os.stat(audit).st_uid == uid and os.stat(audit).st_mode & 0o777 == 0o600
        # the metrics endpoint of the installed configuration passes promtool
        with socket.create_connection(("127.0.0.1", mport), timeout=10) as m:
            m.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
            body = b""
            while chunk := m.recv(65536):
                body += chunk
        head, _, text = body.decode().partition("\r\n\r\n")
        assert head.startswith("HTTP/1.0 200") or head.startswith("HTTP/1.1 200"), head
        assert re.search(r'^parley_clients\{[^}]*registered="true",tls="true"[^}]*\} 1$', text, re.M) or \
            re.search(r'^parley_clients\{[^}]*tls="true"[^}]*registered="true"[^}]*\} 1$', text, re.M), text
        promtool = shutil.which("promtool")
        assert promtool, "promtool (Debian package prometheus) is needed"
        r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        for c in clients:
            c.close()
        proc.terminate()
        rc = proc.wait(timeout=15)
    assert rc == 0, log.read_text()


def test_uninstall_keeps_configuration_and_store(installed):
    dest = installed["dest"]
    r = make("uninstall", dest, installed["build"])
    assert r.returncode == 0, r.stderr
    assert not (dest / "usr/sbin/parleyd").exists() and not (dest / "usr/share/parley").exists()
    assert not (dest / "usr/lib/systemd/system/parleyd.service").exists()
    assert (dest / "etc/parley/parley.conf").is_file() and (dest / "var/lib/parley").is_dir()
