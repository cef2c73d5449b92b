"""Readiness for a service manager (systemd Type=notify): parleyd sends READY=1 to
$NOTIFY_SOCKET only once its listeners are bound and its store is migrated and loaded;
RELOADING=1 then READY=1 around a reload (SIGHUP, REHASH); STOPPING=1 at shutdown.

The test owns the datagram socket systemd would own, and holds the SQLite database
locked while parleyd starts, so the window between "the port accepts" and "the store is
migrated" is long enough to look into."""

import os
import re
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import HOST, PARLEYD, ROOT, Client, Server, wait_for, write_config


def last_migration():
    return max(int(p.name.split("_")[0]) for p in (ROOT / "sql" / "sqlite").glob("*.sql"))


class NotifySocket:
    """An AF_UNIX datagram socket like systemd's: a path, or an abstract name ('@')."""

    def __init__(self, abstract=False):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.name = "@parley-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + self.name[1:])
        else:
            self.dir = tempfile.mkdtemp(prefix="pn-", dir="/tmp")  # short: sun_path has 108 bytes
            self.name = os.path.join(self.dir, "notify")
            self.sock.bind(self.name)

    def pending(self):
        """Every datagram already received, without waiting."""
        out = []
        self.sock.setblocking(False)
        try:
            while True:
                out.append(self.sock.recv(4096).decode())
        except BlockingIOError:
            return out
        finally:
            self.sock.setblocking(True)

    def next(self, timeout=15):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096).decode()
        finally:
            self.sock.settimeout(None)

    def close(self):
        self.sock.close()
        if not self.name.startswith("@"):
            os.unlink(self.name)
            os.rmdir(self.dir)


@pytest.fixture
def notify_socket():
    s = NotifySocket()
    yield s
    s.close()


def accepts(port):
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_ready_only_after_listeners_and_migrated_store(tmp_path, notify_socket):
    db = tmp_path / "parley.db"
    holder = sqlite3.connect(str(db), isolation_level=None)
    os.chmod(db, 0o600)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN EXCLUSIVE")  # parleyd's migration waits for this (busy timeout 3 s)
    holder.execute("CREATE TABLE holder (x INTEGER)")
    conf = tmp_path / "parley.conf"
    _, port, _ = write_config(conf, tls=False, storage={"backend": "sqlite", "schema_dir": str(ROOT / "sql"),
                                                         "sqlite": {"path": str(db)}})
    err = open(tmp_path / "stderr.log", "wb")
    proc = subprocess.Popen([PARLEYD, "-f", str(conf)], stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                            env=dict(os.environ, NOTIFY_SOCKET=notify_socket.name))
    try:
        wait_for(lambda: accepts(port) or proc.poll() is not None, timeout=10, what="the port to accept")
        assert proc.poll() is None
        time.sleep(0.3)
        # bound, but the store is not migrated yet: nothing said
        assert notify_socket.pending() == []
        reader = sqlite3.connect(str(db))
        assert reader.execute("SELECT name FROM sqlite_master WHERE name = 'schema_version'").fetchall() == []
        holder.execute("ROLLBACK")
        assert notify_socket.next() == "READY=1"
        assert reader.execute("SELECT MAX(version) FROM schema_version").fetchall() == [(last_migration(),)]
        # the log has its own writer thread: the line follows READY=1 closely, not before it
        wait_for(lambda: " started (" in (tmp_path / "stderr.log").read_text(), timeout=5,
                 what="the started line")
        c = Client(port)
        c.register("alice")
        c.close()
        reader.close()

        proc.send_signal(signal.SIGHUP)
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", notify_socket.next())
        assert notify_socket.next() == "READY=1"
        proc.send_signal(signal.SIGTERM)
        assert notify_socket.next() == "STOPPING=1"
        assert proc.wait(timeout=10) == 0
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err.close()
    assert notify_socket.pending() == []


def test_abstract_socket_and_rehash(make_server, monkeypatch):
    from operutil import oper_block, oper_up, operators_text

    s = NotifySocket(abstract=True)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", s.name)
        srv = make_server(extra=operators_text(oper_block()))
        assert s.next() == "READY=1"
        c = srv.connect("alice")
        oper_up(c)
        c.send("REHASH")
        c.expect(lambda l: l.command == "382")
        assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", s.next())
        assert s.next() == "READY=1"
        srv.stop()
        assert s.next() == "STOPPING=1"
    finally:
        s.close()


def test_no_notify_socket_no_message(make_server, monkeypatch, tmp_path):
    # An unset or unusable NOTIFY_SOCKET is no error: parleyd started by hand.
    monkeypatch.setenv("NOTIFY_SOCKET", "relative/not-a-socket")
    srv = make_server()
    srv.connect("alice")
