"""Logs (issue 14): log.file (reopened on SIGHUP and REHASH, for logrotate), log.syslog,
categories with their own levels (audit, connections, storage and the general one), the
audit lines operators rely on, and the writer thread that keeps the loop from waiting on
a slow log (bounded queue, dropped lines counted).

Every line is "YYYY-MM-DDTHH:MM:SS.mmmZ <level> <category>: <text>"; audit lines end with
" from nick!user@host (real address)"."""

import datetime
import fcntl
import os
import re
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

from conftest import (HOST, PARLEYD, SERVER_NAME, Server, accounts_section, authenticate, check_config,
                      sasl_plain, wait_for, write_config)
from operutil import (OPER_PASSWORD, S, cs, cs_notice, join, oper_block, oper_up, operators_text, quiet,
                      snotice, sync)

PW = "hunter2hunter2"
LINE_RE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z (debug|info|warn|error) "
                     r"(general|audit|connections|storage): (.*)$")


def start(make_server, log=None, opers=None, backend=None, **settings):
    """A server logging to parley.log next to its config (plus the log settings in log),
    with fast accounts and operator blocks (default: root)."""
    sections = settings.pop("sections", {})
    sections.setdefault("accounts", accounts_section())
    kw = dict(settings, sections=sections, log=dict({"file": "parley.log"}, **(log or {})),
              extra=operators_text(*(opers or [oper_block()])))
    if backend is not None:
        kw["backend"] = backend
    return make_server(**kw)


def parse(text):
    """(level, category, message) of every line of text; each must have the format."""
    out = []
    for line in text.splitlines():
        m = LINE_RE.match(line)
        assert m, "badly formatted log line: %r" % line
        out.append((m.group(2), m.group(3), m.group(4)))
    return out


def messages(text, category="audit"):
    return [msg for level, cat, msg in parse(text) if cat == category]


def wait_message(srv, msg, category="audit", text=None):
    """Waits until the log file (or text(), if given) has msg in category."""
    read = text or srv.log
    wait_for(lambda: msg in messages(read(), category), what="%r in the %s log" % (msg, category))


def who(nick, host=HOST, user=None):
    return "%s!%s@%s (%s)" % (nick, user or nick[:10], host, HOST)


# --------------------------------------------------------------------------------------
# Audit


def test_oper_failure_and_success_in_audit_log(make_server):
    # cloaked hosts: the audit line still shows the real address
    srv = start(make_server, opers=[oper_block("root"), oper_block("boss")],
                sections={"accounts": accounts_section(max_failed_logins=1),
                          "privacy": {"cloak_secret": "s3cret", "cloak_default": True}})
    alice = srv.connect("alice")
    alice.send("WHOIS alice")
    host = alice.expect(lambda l: l.command == "311").params[3]
    assert host != HOST and host.endswith(".parley")
    me = "alice!alice@%s (127.0.0.1)" % host
    alice.send("OPER nosuch x")
    alice.expect("%s 491 alice :No O-lines for your host" % S)
    alice.send("OPER boss wrongpassword")
    alice.expect("%s 464 alice :Password incorrect" % S)
    alice.send("OPER boss wrongpassword")  # over max_failed_logins: not even checked
    alice.expect("%s 464 alice :Password incorrect" % S)
    oper_up(alice, "root", OPER_PASSWORD)
    want = ['OPER failed name=nosuch reason="no such operator" from ' + me,
            'OPER failed name=boss reason="bad password" from ' + me,
            'OPER failed name=boss reason="too many failed attempts" from ' + me,
            'OPER name=root from ' + me]
    wait_message(srv, want[-1])
    assert messages(srv.log()) == want
    # the exact line, time included (UTC, milliseconds)
    line = [l for l in srv.log().splitlines() if "OPER failed name=boss reason=\"bad" in l][0]
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z info audit: "
                     + re.escape('OPER failed name=boss reason="bad password" from ' + me), line)
    assert m, line
    stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds()) < 60
    # the file replaces stderr, and it is private
    assert " audit: " not in srv.stderr() and " started (" not in srv.stderr()
    assert stat.S_IMODE(os.stat(srv.log_path()).st_mode) == 0o600


def test_operator_actions_in_audit_log(make_server):
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    me = who("root")
    victim = srv.connect("victim")
    other = srv.connect("other")
    root.send("KILL victim :go away")
    victim.expect_closed()
    root.send("KLINE 10 bad@10.1.2.3 :spam")
    root.expect(":%s NOTICE root :Added KLINE bad@10.1.2.3 (temporary)" % SERVER_NAME)
    root.send("UNKLINE bad@10.1.2.3")
    root.expect(":%s NOTICE root :Removed bad@10.1.2.3" % SERVER_NAME)
    root.send("DLINE 10.9.9.9 :flood")
    root.expect(":%s NOTICE root :Added DLINE 10.9.9.9" % SERVER_NAME)
    root.send("UNDLINE 10.9.9.9")
    root.expect(":%s NOTICE root :Removed 10.9.9.9" % SERVER_NAME)
    root.send("SAJOIN other #forced")
    other.expect(lambda l: l.command == "366")
    root.send("SAPART other #forced")
    other.expect(lambda l: l.command == "PART")
    root.send("SANICK other renamed")
    other.expect(lambda l: l.command == "NICK")
    root.send("REHASH")
    root.expect(lambda l: l.command == "382")
    sync(root)
    root.send("DIE")
    srv.wait_exit()
    # DIE was written before the process exited: the queue is flushed at shutdown
    assert messages(srv.log()) == [
        "OPER name=root from " + me,
        'KILL target=victim!victim@127.0.0.1 (127.0.0.1) reason="go away" from ' + me,
        'KLINE mask=bad@10.1.2.3 minutes=10 reason="spam" from ' + me,
        "UNKLINE mask=bad@10.1.2.3 from " + me,
        'DLINE mask=10.9.9.9 minutes=0 reason="flood" from ' + me,
        "UNDLINE mask=10.9.9.9 from " + me,
        "SAJOIN target=other channel=#forced from " + me,
        "SAPART target=other channel=#forced from " + me,
        "SANICK target=other nick=renamed from " + me,
        "REHASH from " + me,
        "DIE from " + me,
    ]
    assert parse(srv.log())[-1] == ("info", "general", "stopped")


def test_restart_in_audit_log(make_server):
    """RESTART is logged, every queued line is written before the exec, and the new
    process appends to the same file."""
    srv = start(make_server)
    root = srv.connect("root")
    oper_up(root)
    root.send("RESTART")
    root.expect_closed()
    wait_for(lambda: srv.log().count(" started (") == 2, timeout=10, what="the second start in the log")
    entries = parse(srv.log())
    i = entries.index(("info", "audit", "RESTART from " + who("root")))
    assert ("info", "general", "restarting") in entries[i:]
    assert entries[-1][2].endswith(" started (%s)" % srv.conf_path)
    srv.client().register("again")


def test_registrations_and_reports_in_audit_log(make_server, backend):
    srv = start(make_server, backend=backend)
    # IRCv3 REGISTER
    alice = srv.connect("alice")
    alice.send("REGISTER alice * " + PW)
    alice.expect("%s REGISTER SUCCESS alice :Account successfully registered" % S)
    alice.expect(lambda l: l.command == "900")
    # NickServ REGISTER
    bob = srv.connect("bob")
    bob.send("PRIVMSG NickServ :REGISTER " + PW)
    bob.expect(lambda l: l.command == "900")
    # ChanServ REGISTER, TRANSFER, DROP
    join(alice, "#room")
    cs(alice, "REGISTER #room")
    alice.expect(cs_notice(alice, "#room is now registered to alice."))
    cs(alice, "TRANSFER #room bob")
    alice.expect(cs_notice(alice, "#room now belongs to bob."))
    cs(bob, "DROP #room")
    bob.expect(cs_notice(bob, "#room has been dropped."))
    # REPORT
    alice.send("REPORT bob :spamming")
    alice.expect("%s NOTE REPORT RECEIVED bob :Your report was sent to the operators" % S)
    # NickServ DROP
    bob.send("PRIVMSG NickServ :DROP " + PW)
    bob.expect(lambda l: l.command == "NOTICE" and "has been dropped" in l.params[1])
    want = [
        "account REGISTER name=alice from " + who("alice"),
        "account REGISTER name=bob from " + who("bob"),
        "ChanServ REGISTER channel=#room founder=alice from " + who("alice"),
        "ChanServ TRANSFER channel=#room founder=bob from " + who("alice"),
        "ChanServ DROP channel=#room from " + who("bob"),
        'REPORT target=bob about=bob!bob@127.0.0.1 reason="spamming" from ' + who("alice"),
        "account DROP name=bob from " + who("bob"),
    ]
    wait_message(srv, want[-1])
    assert messages(srv.log()) == want


def test_failed_registration_is_not_audited(make_server):
    srv = start(make_server, sections={"accounts": accounts_section(min_password_length=20)})
    c = srv.connect("carol")
    c.send("REGISTER carol * short")
    c.expect("%s FAIL REGISTER WEAK_PASSWORD carol :Password too short" % S)
    c.send("OPER root " + OPER_PASSWORD)
    c.expect(lambda l: l.command == "381")
    wait_message(srv, "OPER name=root from " + who("carol"))
    assert messages(srv.log()) == ["OPER name=root from " + who("carol")]


# --------------------------------------------------------------------------------------
# Rotation


def test_sighup_and_rehash_reopen_the_file(make_server):
    srv = start(make_server)
    path = srv.log_path()
    root = srv.connect("root")
    oper_up(root)
    wait_message(srv, "OPER name=root from " + who("root"))
    # logrotate: mv, then kill -HUP
    os.rename(path, str(path) + ".1")
    srv.signal(signal.SIGHUP)
    wait_message(srv, "REHASH from SIGHUP")
    root.send("OPER root wrong")
    root.expect(lambda l: l.command == "464")
    wait_message(srv, 'OPER failed name=root reason="bad password" from ' + who("root"))
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    old = open(str(path) + ".1").read()
    assert messages(old) == ["OPER name=root from " + who("root")]
    assert ("info", "general", "configuration reloaded from %s" % srv.conf_path) in parse(srv.log())
    # REHASH does the same
    os.rename(path, str(path) + ".2")
    root.send("REHASH")
    root.expect(lambda l: l.command == "382")
    wait_message(srv, "REHASH from " + who("root"))
    assert messages(srv.log()) == ["REHASH from " + who("root")]
    assert messages(open(str(path) + ".2").read()) == [
        "REHASH from SIGHUP", 'OPER failed name=root reason="bad password" from ' + who("root")]
    # a broken configuration does not keep SIGHUP from reopening the log
    os.rename(path, str(path) + ".3")
    good = srv.conf_path.read_text()
    srv.conf_path.write_text(good + "bogus = 1;\n")
    srv.signal(signal.SIGHUP)
    wait_message(srv, "REHASH failed from SIGHUP")
    assert any(cat == "general" and level == "error" and msg.startswith("REHASH (SIGHUP) failed")
               and "unknown setting 'bogus'" in msg for level, cat, msg in parse(srv.log()))
    srv.conf_path.write_text(good)


def test_unwritable_log_file_stops_the_start(tmp_path, tls_files):
    srv = Server(tmp_path / "s", tls_files, log={"file": "adir"})
    (srv.dir / "adir").mkdir(parents=True)
    with pytest.raises(AssertionError):
        srv.start(attempts=1)
    assert srv.proc.wait(5) == 1
    assert "parleyd: log.file %s: Is a directory" % (srv.dir / "adir") in srv.stderr()


def test_relative_log_file_created_private(make_server):
    srv = start(make_server, log={"file": "logs/sub/parley.log"})
    assert srv.log_path() == srv.dir / "logs" / "sub" / "parley.log"
    assert stat.S_IMODE(os.stat(srv.log_path()).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(srv.dir / "logs").st_mode) == 0o700
    assert " started (" in srv.log()


# --------------------------------------------------------------------------------------
# Categories


def test_connection_lines(make_server):
    srv = start(make_server)
    setup = srv.connect("setup")
    setup.send("REGISTER bob * " + PW)
    setup.expect(lambda l: l.command == "REGISTER")

    def conns():
        return messages(srv.log(), "connections")

    def connect_line(c, tls=False):
        """The id in c's connect line (written by the log's thread: waited for)."""
        pattern = r"connect \d+ from 127\.0\.0\.1 port %d to port %d%s" % (
            c.sock.getsockname()[1], srv.tls_port if tls else srv.port, re.escape(" (TLS)") if tls else "")
        lines = wait_for(lambda: [m for m in conns() if re.fullmatch(pattern, m)], what=pattern)
        assert len(lines) == 1, conns()
        return lines[0].split()[1]

    alice = srv.connect("alice")
    aid = connect_line(alice)
    wait_message(srv, "registered %s alice!alice@127.0.0.1 (127.0.0.1)" % aid, "connections")
    alice.send("QUIT :bye now")
    alice.expect_closed()
    wait_message(srv, "exit %s alice from 127.0.0.1: Quit: bye now" % aid, "connections")
    # TLS, logged in at registration (SASL)
    bob = srv.client(tls=True)
    bob.send("CAP LS 302")
    bob.send("CAP REQ :sasl")
    bob.expect(lambda l: l.command == "CAP" and l.params[1] == "ACK")
    bob.send("NICK bob")
    bob.send("USER bob 0 * :b")
    assert authenticate(bob, "bob", PW).command == "903"
    bob.send("CAP END")
    bob.expect(lambda l: l.command == "001")
    bid = connect_line(bob, tls=True)
    wait_message(srv, "registered %s bob!bob@127.0.0.1 (127.0.0.1) account=bob" % bid, "connections")
    # K-line and D-line: the exit line and the refused connection
    root = srv.connect("root")
    oper_up(root)
    victim = srv.connect("victim")
    vid = connect_line(victim)
    root.send("KLINE victim@127.0.0.1 :spamming")
    victim.expect_closed()
    wait_message(srv, "exit %s victim from 127.0.0.1: K-lined: spamming" % vid, "connections")
    root.send("DLINE !127.0.0.1 :go")
    root.expect(lambda l: l.command == "NOTICE" and "Added DLINE" in l.params[1])
    refused = srv.client()
    refused.expect_closed()
    wait_message(srv, "refused 127.0.0.1: D-lined: go", "connections")


def test_ping_timeout_exit_line(make_server):
    srv = start(make_server, ping_frequency=1, ping_timeout=1)
    carol = srv.connect("carol")  # and never answers a PING
    port = carol.sock.getsockname()[1]
    cid = wait_for(lambda: [m.split()[1] for m in messages(srv.log(), "connections")
                            if m.startswith("connect ") and m.endswith(" port %d to port %d" % (port, srv.port))],
                   what="carol's connect line")[0]
    wait_message(srv, "exit %s carol from 127.0.0.1: Ping timeout: 1 seconds" % cid, "connections")


def test_category_levels(make_server):
    srv = start(make_server, log={"categories": {"connections": "warn", "storage": "off"}})
    c = srv.connect("alice")
    c.send("OPER nosuch x")
    c.expect(lambda l: l.command == "491")
    c.send("QUIT")
    c.expect_closed()
    wait_message(srv, 'OPER failed name=nosuch reason="no such operator" from ' + who("alice"))
    cats = {cat for level, cat, msg in parse(srv.log())}
    assert cats == {"general", "audit"}, srv.log()
    # the same server logging everything: connections and storage lines
    srv2 = start(make_server)
    c = srv2.connect("alice")
    wait_for(lambda: {"general", "storage", "connections"} <= {cat for _, cat, _ in parse(srv2.log())},
             what="every category in the log")
    assert any(msg.startswith("sqlite database ") for msg in messages(srv2.log(), "storage"))


def test_audit_off_and_general_level(make_server):
    # audit follows log.level unless set; "off" silences a category
    srv = start(make_server, log_level="warn", log={"categories": {"audit": "off", "connections": "info"}})
    c = srv.connect("alice")
    c.send("OPER nosuch x")
    c.expect(lambda l: l.command == "491")
    c.send("QUIT")
    c.expect_closed()
    wait_for(lambda: any(m.startswith("exit ") for m in messages(srv.log(), "connections")), what="the exit line")
    assert {cat for _, cat, _ in parse(srv.log())} == {"connections"}, srv.log()


@pytest.mark.parametrize("log, error", [
    ({"categories": {"audit": "info", "bogus": "info"}}, "log.categories: unknown setting 'bogus'"),
    ({"categories": {"audit": "loud"}}, "log.categories.audit must be debug, info, warn, error or off"),
    ({"syslog_facility": "kernel"}, "log.syslog_facility must be daemon, user, auth, authpriv or local0 to local7"),
    ({"syslog": "yes"}, "'syslog' must be true or false"),
    ({"files": "x"}, "log: unknown setting 'files'"),
])
def test_log_config_errors(tmp_path, log, error):
    path = tmp_path / "bad.conf"
    write_config(path, tls=False, log=log)
    out = check_config(path)
    assert out.returncode == 1
    assert error in out.stderr, out.stderr


def test_general_level_off_is_refused(tmp_path):
    path = tmp_path / "bad.conf"
    write_config(path, tls=False, log_level="off")
    out = check_config(path)
    assert out.returncode == 1 and "log.level must be debug, info, warn or error" in out.stderr


# --------------------------------------------------------------------------------------
# The writer thread: a stuck log never stalls the loop


def test_stuck_log_drops_lines_and_counts_them(tmp_path, tls_files):
    """The log is a FIFO nobody reads (a disk that stopped answering): clients are still
    served at full speed, the lines that did not fit are counted, and once the log moves
    again the count is written."""
    srv = Server(tmp_path / "s", tls_files, log_level="warn", flood_enabled=False,
                 log={"file": "fifo", "categories": {"audit": "info"}})
    fifo = srv.dir / "fifo"
    os.mkfifo(fifo, 0o600)
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(rfd, 1031, 4096)  # F_SETPIPE_SZ: the smallest pipe, filled by a few lines
    try:
        srv.start()
        c = srv.connect("alice")
        n = 3000
        c.send_raw(b"".join(b"OPER nosuch%d x\r\n" % i for i in range(n)))
        started = time.monotonic()
        for i in range(n):
            c.expect(lambda l: l.command == "491")
        sync(c)
        served = time.monotonic() - started
        # the writer is stuck; read everything now
        data = b""
        deadline = time.monotonic() + 15
        while b"log lines dropped" not in data and time.monotonic() < deadline:
            try:
                chunk = os.read(rfd, 65536)
            except BlockingIOError:
                time.sleep(0.01)
                continue
            data += chunk
        text = data.decode()
        dropped = [int(m) for m in re.findall(r"warn general: (\d+) log lines dropped", text)]
        assert len(dropped) == 1 and dropped[0] > 0, text[-2000:]
        failed = [m for m in messages(text) if m.startswith("OPER failed name=nosuch")]
        # every attempt is either in the log or counted
        assert len(failed) + dropped[0] == n, (len(failed), dropped)
        assert failed[:3] == ['OPER failed name=nosuch%d reason="no such operator" from %s' % (i, who("alice"))
                              for i in range(3)]
        assert served < 10, served
    finally:
        # keep reading so the writer can flush at shutdown
        stop = threading.Event()

        def drain():
            while not stop.is_set():
                try:
                    if not os.read(rfd, 65536):
                        time.sleep(0.01)
                except BlockingIOError:
                    time.sleep(0.01)
        t = threading.Thread(target=drain, daemon=True)
        t.start()
        srv.stop()
        stop.set()
        t.join()
        os.close(rfd)


# --------------------------------------------------------------------------------------
# syslog


def test_syslog_loads_and_serves(make_server):
    """log.syslog = true without a file: the server runs, REHASH works, and nothing goes
    to stderr (the lines go to syslog; without /dev/log the C library drops them)."""
    srv = make_server(log_level="warn", log={"syslog": True, "syslog_facility": "local3"},
                      sections={"accounts": accounts_section()}, extra=operators_text(oper_block()))
    root = srv.connect("root")
    oper_up(root)
    root.send("REHASH")
    root.expect(lambda l: l.command == "382")
    srv.signal(signal.SIGHUP)
    root.expect(snotice("root", "Configuration reloaded (SIGHUP)"))
    assert srv.stderr() == ""


def private_dev_log(directory):
    """A command prefix that runs a program in new user and mount namespaces whose /dev
    holds only null, zero, random, urandom and a log socket bound here, so syslog(3)
    writes to this test. Returns (prefix, socket), or None where namespaces are refused."""
    dev = directory / "dev"
    dev.mkdir()
    nodes = ["null", "zero", "random", "urandom"]
    for n in nodes:
        (dev / n).touch()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(dev / "log"))
    script = "".join("mount --bind /dev/%s %s/%s && " % (n, dev, n) for n in nodes)
    script += 'mount --rbind %s /dev && exec "$@"' % dev
    prefix = ["unshare", "-Urm", "sh", "-c", script, "sh"]
    probe = subprocess.run(prefix + ["sh", "-c", "test -S /dev/log && test -c /dev/null"], capture_output=True)
    if probe.returncode != 0:
        sock.close()
        return None
    return prefix, sock


def test_syslog_lines(tmp_path, tls_files):
    """log.syslog = true with syslog_facility local3: each line reaches /dev/log as
    "<PRI>... parleyd[pid]: category: text", PRI being local3 and the line's severity."""
    ns = private_dev_log(tmp_path)
    if ns is None:
        pytest.skip("user and mount namespaces are not available here (unshare -Urm)")
    prefix, sock = ns
    sock.settimeout(0.2)
    srv = Server(tmp_path / "s", tls_files, log_level="warn",
                 log={"syslog": True, "syslog_facility": "local3", "categories": {"audit": "info"}},
                 sections={"accounts": accounts_section()}, extra=operators_text(oper_block()))
    srv.wrapper = prefix
    got = []

    def received():
        try:
            while True:
                got.append(sock.recv(4096).decode())
        except socket.timeout:
            pass
        return got

    try:
        srv.start()
        c = srv.connect("alice")
        c.send("OPER root wrong")
        c.expect(lambda l: l.command == "464")
        want = 'audit: OPER failed name=root reason="bad password" from ' + who("alice")
        wait_for(lambda: any(m.endswith(want) for m in received()), what="the audit line on /dev/log")
        line = [m for m in got if m.endswith(want)][0]
        # local3 (19) * 8 + info (6)
        assert re.fullmatch(r"<158>\w{3} [ \d]\d \d\d:\d\d:\d\d parleyd\[\d+\]: " + re.escape(want), line), line
        srv.signal(signal.SIGHUP)
        wait_for(lambda: any(m.endswith("audit: REHASH from SIGHUP") for m in received()),
                 what="REHASH from SIGHUP on /dev/log")
        assert srv.stderr() == ""
    finally:
        srv.stop()
        sock.close()
