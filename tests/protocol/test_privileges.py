"""Who parleyd runs as, and one daemon per store.

Started as root, parleyd binds its listeners, takes the store lock, then switches to
server.user / server.group before it opens the database; it refuses to stay root with a
listener reachable from outside the host unless server.allow_root is set (listeners on
loopback addresses only, as in every other test, make a development server: exempt).
A second parleyd on a store in use stops before it opens the database.

The root tests need root (CI runs as root) and the user nobody, group nogroup."""

import grp
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import (HOST, PARLEYD, ROOT, Server, accounts_section, free_port, register_account,
                      write_config)

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="starts parleyd as root")


@pytest.fixture
def open_dir():
    """A directory outside pytest's private (0700) tree, so an unprivileged user can reach
    what is made inside it; removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="parley-privs-", dir="/tmp"))
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def status_ids(pid):
    """(uids, gids, groups) of a process from /proc/PID/status (real, effective, saved, fs)."""
    fields = {}
    for line in Path("/proc/%d/status" % pid).read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    return ([int(v) for v in fields["Uid"]], [int(v) for v in fields["Gid"]],
            [int(v) for v in fields["Groups"]])


def run_parleyd(conf, timeout=20, **kwargs):
    return subprocess.run([PARLEYD, "-f", str(conf)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, **kwargs)


def port_is_free(port):
    with socket.socket() as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


@needs_root
def test_root_switches_to_server_user_and_still_serves_and_stores(open_dir, tls_files):
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    shutil.copytree(ROOT / "sql", open_dir / "sql")  # the repository may sit where nobody cannot read
    store = open_dir / "store"  # missing: made by root, handed to nobody
    srv = Server(open_dir / "run", tls_files,
                 server_keys={"user": "nobody", "group": "nogroup"},
                 storage={"backend": "sqlite", "schema_dir": str(open_dir / "sql"),
                          "sqlite": {"path": str(store / "parley.db")}},
                 sections={"accounts": accounts_section(),
                           "history": {"journal": str(store / "history.journal")}})
    srv.start()
    try:
        assert "running as user nobody (uid %d, gid %d)" % (nobody, nogroup) in srv.stderr()
        uids, gids, groups = status_ids(srv.proc.pid)
        assert (uids, gids) == ([nobody] * 4, [nogroup] * 4)
        assert 0 not in groups, groups
        # it serves (TLS too: the key was read as root) and it stores
        register_account(srv, "alice", "secret-pass")
        c = srv.connect("bob", tls=True)
        c.send("JOIN #room")
        c.expect(lambda l: l.command == "366")
        st = os.stat(store)
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (nobody, nogroup, 0o700)
        for name in ("parley.db", "parleyd.lock"):
            st = os.stat(store / name)
            assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (nobody, nogroup, 0o600), name
        assert (store / "parleyd.lock").read_text() == "%d\n" % srv.proc.pid
    finally:
        srv.stop()
    con = sqlite3.connect(str(store / "parley.db"))
    try:
        assert con.execute("SELECT name FROM accounts").fetchall() == [("alice",)]
    finally:
        con.close()


@needs_root
def test_restart_after_the_switch_comes_back_as_the_user(open_dir, tls_files):
    # RESTART executes parleyd again as the user it switched to: it rebinds (ports above
    # 1024), takes the store lock again and rereads the TLS key, which that user can read.
    from operutil import oper_block, oper_up, operators_text
    from conftest import wait_for
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    shutil.copytree(ROOT / "sql", open_dir / "sql")
    tls = (str(open_dir / "tls.crt"), str(open_dir / "tls.key"))
    shutil.copy(tls_files[0], tls[0])
    shutil.copy(tls_files[1], tls[1])
    os.chown(tls[1], 0, nogroup)
    os.chmod(tls[1], 0o640)
    store = open_dir / "store"
    srv = Server(open_dir / "run", tls, server_keys={"user": "nobody"},
                 storage={"backend": "sqlite", "schema_dir": str(open_dir / "sql"),
                          "sqlite": {"path": str(store / "parley.db")}},
                 sections={"history": {"journal": str(store / "history.journal")}},
                 extra=operators_text(oper_block()))
    srv.start()
    try:
        root = srv.connect("root")
        oper_up(root)
        pid = srv.proc.pid
        root.send("RESTART")
        root.expect_closed()

        def up():
            try:
                return srv.client(tls=True)
            except OSError:
                return None
        c = wait_for(up, timeout=15, what="the restarted server to accept")
        c.register("again")
        assert srv.proc.pid == pid
        assert status_ids(pid)[:2] == ([nobody] * 4, [nogroup] * 4)
        assert (store / "parleyd.lock").read_text() == "%d\n" % pid
    finally:
        srv.stop()


@needs_root
def test_store_first_used_by_root_is_handed_to_server_user(open_dir, tls_files):
    # An existing store that root created (allow_root before) keeps working after the switch.
    nobody = pwd.getpwnam("nobody").pw_uid
    shutil.copytree(ROOT / "sql", open_dir / "sql")
    store = open_dir / "store"
    storage = {"backend": "sqlite", "schema_dir": str(open_dir / "sql"), "sqlite": {"path": str(store / "parley.db")}}
    sections = {"accounts": accounts_section(), "history": {"journal": str(store / "history.journal")}}
    first = Server(open_dir / "first", tls_files, storage=storage, sections=sections).start()
    register_account(first, "alice", "secret-pass")
    first.stop()
    assert os.stat(store / "parley.db").st_uid == 0
    os.chown(store, nobody, -1)  # the directory is the operator's to give (it may be shared)
    second = Server(open_dir / "second", tls_files, storage=storage, sections=sections,
                    server_keys={"user": "nobody"}).start()
    try:
        register_account(second, "bob", "secret-pass")
        assert os.stat(store / "parley.db").st_uid == nobody
    finally:
        second.stop()


@needs_root
def test_root_refuses_public_listener_without_user(tmp_path, tls_files):
    conf = tmp_path / "parley.conf"
    text, port, _ = write_config(conf, tls=False)
    conf.write_text(text.replace('address = "127.0.0.1"', 'address = "0.0.0.0"'))
    r = run_parleyd(conf)
    assert r.returncode == 1
    assert r.stderr == ("parleyd: refusing to run as root: set server.user (and server.group) to an "
                        "unprivileged account, which parleyd switches to once its listeners are bound, or set "
                        "server.allow_root = true\n")
    assert port_is_free(port)  # it stopped before binding ...
    assert not (tmp_path / "parley.db").exists()  # ... and before touching the store
    # allowed explicitly, it runs as root
    text, port, _ = write_config(conf, tls=False, server_keys={"allow_root": True})
    conf.write_text(text.replace('address = "127.0.0.1"', 'address = "0.0.0.0"'))
    proc = subprocess.Popen([PARLEYD, "-f", str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = ""
        while " started (" not in line:
            line = proc.stderr.readline()
            assert line, "parleyd exited: status %r" % proc.wait()
        assert status_ids(proc.pid)[0] == [0] * 4
        socket.create_connection((HOST, port), timeout=5).close()
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_unknown_user_or_group_is_an_error(tmp_path, tls_files):
    conf = tmp_path / "parley.conf"
    write_config(conf, tls=False, server_keys={"user": "no-such-user-parley"})
    r = run_parleyd(conf)
    assert (r.returncode, r.stderr) == (1, "parleyd: server.user 'no-such-user-parley': no such user\n")
    write_config(conf, tls=False, server_keys={"user": "nobody", "group": "no-such-group-parley"})
    r = run_parleyd(conf)
    assert (r.returncode, r.stderr) == (1, "parleyd: server.group 'no-such-group-parley': no such group\n")
    write_config(conf, tls=False, server_keys={"group": "nogroup"})
    r = run_parleyd(conf)
    assert (r.returncode, r.stderr) == (1, "%s:7: server.group needs server.user\n" % conf)


@needs_root
def test_non_root_cannot_become_another_user(open_dir):
    # Started as nobody with server.user = "daemon": it cannot switch, and says so.
    conf = open_dir / "parley.conf"
    write_config(conf, tls=False, server_keys={"user": "daemon"},
                 storage={"backend": "sqlite", "sqlite": {"path": str(open_dir / "parley.db")}})
    os.chmod(conf, 0o644)
    nobody = pwd.getpwnam("nobody")
    r = run_parleyd(conf, user=nobody.pw_uid, group=nobody.pw_gid, extra_groups=[], cwd=str(open_dir))
    assert r.returncode == 1
    assert r.stderr == ("parleyd: server.user is 'daemon' but parleyd runs as uid %d, not root: it cannot "
                        "switch users (start it as root or as daemon)\n" % nobody.pw_uid)
    # as that very user (a systemd unit with User=), server.user is simply who it is already
    shutil.copytree(ROOT / "sql", open_dir / "sql")
    store = open_dir / "store"
    store.mkdir(mode=0o700)
    os.chown(store, nobody.pw_uid, nobody.pw_gid)
    write_config(conf, tls=False, server_keys={"user": "nobody"},
                 storage={"backend": "sqlite", "schema_dir": str(open_dir / "sql"),
                          "sqlite": {"path": str(store / "parley.db")}},
                 sections={"history": {"journal": str(store / "history.journal")}})
    os.chmod(conf, 0o644)
    proc = subprocess.Popen([PARLEYD, "-f", str(conf)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, user=nobody.pw_uid, group=nobody.pw_gid,
                            extra_groups=[], cwd=str(open_dir))
    try:
        line = ""
        while " started (" not in line:
            line = proc.stderr.readline()
            assert line, "parleyd exited: status %r" % proc.wait()
        assert status_ids(proc.pid)[0] == [nobody.pw_uid] * 4
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# --------------------------------------------------------------------------------------
# The store lock


def test_second_instance_on_the_same_store_stops_before_opening_it(backend, make_server, tmp_path, tls_files):
    shared = tmp_path / "shared"  # with MariaDB the lock sits next to the (shared) journal
    sections = {"accounts": accounts_section(), "history": {"journal": str(shared / "history.journal")}}
    first = make_server(backend=backend, sections=sections)
    register_account(first, "alice", "secret-pass")
    lock = (backend.path.parent if backend.name == "sqlite" else shared) / "parleyd.lock"
    assert lock.read_text() == "%d\n" % first.proc.pid

    conf = tmp_path / "second.conf"
    _, port, tls_port = write_config(conf, tls_files, storage=backend.storage, sections=sections)
    trace = tmp_path / "second.trace"
    cmd = [PARLEYD, "-f", str(conf)]
    if shutil.which("strace"):  # make deps installs it; without it the messages alone are checked
        cmd = ["strace", "-f", "-qq", "-o", str(trace), "-e", "trace=%file,connect"] + cmd
    # (LeakSanitizer cannot run under ptrace; the ASan build's other checks still do)
    env = dict(os.environ, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=env)
    if backend.name == "sqlite":
        store = "sqlite database %s" % backend.path
    else:
        store = "mariadb database %s at %s" % (backend.database, backend.mariadb.socket)
    assert r.returncode == 1, r.stderr
    assert r.stderr == ("parleyd: cannot open %s: lock file %s: held by another parleyd (pid %d) on the same "
                        "store\n" % (store, lock, first.proc.pid))
    assert port_is_free(port) and port_is_free(tls_port)
    if trace.exists():
        calls = trace.read_text()
        assert str(lock) in calls  # the trace saw the lock being taken ...
        if backend.name == "sqlite":
            assert str(backend.path) not in calls  # ... and no open of the database
        else:
            assert backend.mariadb.socket not in calls  # ... and no connection to the server
        assert "history.journal" not in calls
    # the first one is unaffected
    assert first.running()
    register_account(first, "bob", "secret-pass")
    assert sorted(backend.query("SELECT name FROM accounts")) == [("alice",), ("bob",)]


@needs_root
def test_log_file_opened_as_root_is_written_and_rotated_as_the_user(open_dir, tls_files):
    # The log is opened before the switch (its directory may be root's) and handed over,
    # so the writer keeps appending as nobody; after logrotate moves it, SIGHUP makes a
    # new file in a directory nobody can write (the unit's LogsDirectory).
    import signal
    from conftest import wait_for
    nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
    shutil.copytree(ROOT / "sql", open_dir / "sql")
    tls = (str(open_dir / "tls.crt"), str(open_dir / "tls.key"))  # readable by nobody at REHASH
    for src, dst in zip(tls_files, tls):
        shutil.copy(src, dst)
        os.chown(dst, nobody, nogroup)
    logs = open_dir / "logs"
    logs.mkdir(mode=0o700)
    os.chown(logs, nobody, nogroup)
    store = open_dir / "store"
    srv = Server(open_dir / "run", tls, server_keys={"user": "nobody"},
                 log={"file": str(logs / "parley.log")},
                 storage={"backend": "sqlite", "schema_dir": str(open_dir / "sql"),
                          "sqlite": {"path": str(store / "parley.db")}},
                 sections={"history": {"journal": str(store / "history.journal")}})
    srv.start()
    try:
        st = os.stat(logs / "parley.log")
        assert (st.st_uid, st.st_mode & 0o777) == (nobody, 0o600)
        os.rename(logs / "parley.log", logs / "parley.log.1")
        srv.proc.send_signal(signal.SIGHUP)
        new = logs / "parley.log"
        wait_for(lambda: new.exists() and "info audit: REHASH from SIGHUP" in new.read_text(),
                 timeout=5, what="the reopened log")
        assert os.stat(new).st_uid == nobody
        assert "REHASH" not in (logs / "parley.log.1").read_text()
        c = srv.connect("alice")
        c.close()
        wait_for(lambda: "registered" in new.read_text(), timeout=5, what="a connection line in the new file")
    finally:
        srv.stop()
