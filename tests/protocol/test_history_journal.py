"""The history journal survives damage and a full disk, and private files stay private.

* A journal holding torn and corrupt records (left by a crash, a full disk, a bad
  sector): at replay every intact record is stored, each damaged one is skipped with one
  log line, and no message is ever stored with truncated text.
* A journal in the line format of the previous version is replayed line by line at
  upgrade; its torn last line is skipped, not stored cut.
* A full disk while the database is down: the chat goes on; the loss is logged once per
  episode (its start, then its total) and operators get one server notice at its start,
  not one per batch; once there is room again, nothing damaged is stored and every
  message is either stored or counted lost. SQLite's own failures on a full disk are
  logged once per episode too (its first error, then a count).
* The SQLite file (and its -wal/-shm), the journal and the directories parleyd creates for
  them are readable by the owner only (0600, 0700), whatever the umask.

The journal's record format (ircd/journal.h) is written here independently, so the tests
also pin it down: RS "PJ1 " <len, 8 hex> " " <crc32, 8 hex> " " <payload> LF, the payload
being the ten fields of a row separated by tabs, escaped, NULL as \\N."""

import os
import re
import stat
import subprocess
import time
import zlib

import pytest

from chanutil import join, register_account, sync

from conftest import new_backend, wait_for
from operutil import oper_up, operators_text

CAPS = ["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"]
SENDER = "alice!alice@127.0.0.1"


# --------------------------------------------------------------------------------------
# The journal format, written independently of the daemon


def esc(field):
    if field is None:
        return b"\\N"
    b = field.encode()
    for raw, out in ((b"\\", b"\\\\"), (b"\t", b"\\t"), (b"\n", b"\\n"), (b"\r", b"\\r"), (b"\x1e", b"\\e")):
        b = b.replace(raw, out)
    return b


def record(fields):
    payload = b"\t".join(esc(f) for f in fields)
    return b"\x1ePJ1 %08x %08x " % (len(payload), zlib.crc32(payload)) + payload + b"\n"


def row(i, text, base=1700000000000):
    """The ten journal fields of a message text sent to #room, the i-th of a run that
    began at base (ms)."""
    ms = base + i
    seq = ms << 12
    return [str(seq), str(ms), "%016x" % seq, "#room", "#room", SENDER, None, "PRIVMSG", None, text]


def old_line(fields):
    """A row in the previous version's journal format: one line, the same escapes."""
    return b"\t".join(esc(f) for f in fields) + b"\n"


def start(make_server, backend, journal, **more):
    sections = {"accounts": {"scrypt_n": 1024}, "history": {"journal": str(journal)}}
    return make_server(backend=backend, flood_enabled=False, sections=sections, **more)


def stored(backend):
    return [tuple(r) for r in backend.query("SELECT msgid, text FROM messages ORDER BY seq")]


def latest(c, target, n=50):
    """The texts CHATHISTORY LATEST returns for target, oldest first."""
    c.send("CHATHISTORY LATEST %s * %d" % (target, n))
    head = c.expect(lambda l: l.command in ("BATCH", "FAIL"))
    assert head.command == "BATCH", head
    lines = c.read_until(lambda l: l.command == "BATCH" and l.params[0] == "-" + head.params[0][1:])
    return [l.params[1] for l in lines[:-1]]


def skipped_lines(srv):
    return [l for l in srv.stderr().splitlines() if "damaged bytes at offset" in l]


# --------------------------------------------------------------------------------------
# Damaged journals


def test_damaged_journal_replayed(make_server, backend, tmp_path):
    """Left by an earlier run: a good record, a record torn mid-write with later records
    appended after it, a record with one flipped byte, a good one, and a torn tail. The
    three intact messages are stored (and readable), each of the three damaged records
    gets one log line, and nothing truncated is stored."""
    journal = tmp_path / "history.journal"
    # #room is registered first: only a registered room's history reaches back before
    # the channel's current life (an unregistered one starts empty: test_history_privacy),
    # and only to the life it was registered in, so the journaled messages come after.
    srv = start(make_server, backend, journal)
    founder = srv.connect("founder")
    register_account(founder)
    join(founder, "#room")
    founder.send("PRIVMSG ChanServ :REGISTER #room")
    founder.expect(":ChanServ!ChanServ@services. NOTICE founder :#room is now registered to founder.")
    srv.stop()

    base = int(time.time() * 1000) + 1000
    good = [row(1, "first message", base), row(3, "second message", base), row(5, "third message", base)]
    torn = record(row(2, "this message was torn by a full disk", base))
    flipped = bytearray(record(row(4, "this one has a flipped byte", base)))
    flipped[-5] ^= 0x04
    tail = record(row(6, "and this one was cut at the end of the file", base))
    journal.write_bytes(record(good[0]) + torn[:60] + record(good[1]) + bytes(flipped) + record(good[2])
                        + tail[:-12])
    srv = start(make_server, backend, journal)
    wait_for(lambda: "history: replayed" in srv.stderr(), timeout=15, what="the journal replayed")
    assert stored(backend) == [(f[2], f[9]) for f in good]
    assert "history: replayed 3 journaled messages; skipped 3 damaged records" in srv.stderr(), srv.stderr()
    bad = skipped_lines(srv)
    assert len(bad) == 3, bad
    assert "(bad length (torn or overwritten))" in bad[0], bad
    assert "(checksum mismatch)" in bad[1], bad
    assert "(incomplete (cut off at the end of the file))" in bad[2], bad
    wait_for(lambda: not journal.exists(), what="the journal removed once replayed")

    alice = srv.connect("alice", caps=CAPS)
    join(alice, "#room")
    assert latest(alice, "#room") == ["first message", "second message", "third message"]


def test_old_format_journal_replayed(make_server, backend, tmp_path):
    """A journal of the previous version (one line per message) found at upgrade: its
    complete lines are stored, its torn last line is skipped (the old code stored it with
    its text cut), with a log line saying which format it read."""
    journal = tmp_path / "history.journal"
    rows = [row(1, "old one"), row(2, "old two \\ with a backslash"), row(3, "old three, torn by the crash")]
    journal.write_bytes(old_line(rows[0]) + old_line(rows[1]) + old_line(rows[2])[:-9])

    srv = start(make_server, backend, journal)
    wait_for(lambda: "history: replayed" in srv.stderr(), timeout=15, what="the journal replayed")
    assert stored(backend) == [(rows[0][2], "old one"), (rows[1][2], "old two \\ with a backslash")]
    assert "is in the line format of an earlier version" in srv.stderr()
    assert "history: replayed 2 journaled messages; skipped 1 damaged records" in srv.stderr(), srv.stderr()
    bad = skipped_lines(srv)
    assert len(bad) == 1 and "incomplete old-format line" in bad[0], bad


def test_journal_torn_while_down(make_server, mariadb_backend, tmp_path):
    """The daemon's own journal, damaged while MariaDB is down: its last record is cut
    (a crash in the middle of an append), the daemon appends more after it, then a byte of
    an earlier record flips. When the database is back every intact message is stored, in
    order, and the two damaged ones are skipped with one log line each."""
    db = mariadb_backend.mariadb
    journal = tmp_path / "history.journal"
    srv = start(make_server, mariadb_backend, journal)
    alice, bob = srv.connect("alice", caps=CAPS), srv.connect("bob", caps=CAPS)
    join(alice, "#room")
    join(bob, "#room", alice)

    def say(text):
        alice.send("PRIVMSG #room :" + text)
        bob.expect(lambda l: l.command == "PRIVMSG" and l.params == ["#room", text])
        sync(alice)

    def records():
        try:
            return journal.read_bytes().count(b"\n")
        except FileNotFoundError:
            return 0

    db.kill()
    try:
        texts = ["down %d: %s" % (i, "words " * 10) for i in range(8)]
        for i, t in enumerate(texts[:5]):
            say(t)
            wait_for(lambda: records() == i + 1, what="message %d journaled" % i)
        data = journal.read_bytes()
        journal.write_bytes(data[:-20])  # the fifth record torn
        for t in texts[5:]:
            say(t)
        wait_for(lambda: records() == 7, what="three more records appended after the torn one")
        data = bytearray(journal.read_bytes())
        second = data.index(texts[1].encode())
        data[second + 3] ^= 0x01  # a flipped bit in the second message's text
        journal.write_bytes(bytes(data))
    finally:
        db.spawn()
    wait_for(lambda: "history: replayed" in srv.stderr(), timeout=20, what="the journal replayed")
    got = [t for _, t in stored(mariadb_backend)]
    assert got == [texts[0], texts[2], texts[3], texts[5], texts[6], texts[7]], got
    assert "history: replayed 6 journaled messages; skipped 2 damaged records" in srv.stderr(), srv.stderr()
    assert len(skipped_lines(srv)) == 2, skipped_lines(srv)


# --------------------------------------------------------------------------------------
# A full disk


@pytest.fixture
def tiny_disk(tmp_path):
    """A 64 KiB tmpfs (root only: skipped where it cannot be mounted). Remount it with
    grow(size) to give room again."""
    d = tmp_path / "disk"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(d)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): %s" % r.stderr.strip())
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


def grow(disk, size):
    subprocess.run(["mount", "-o", "remount,size=%s" % size, str(disk)], check=True)


def fill(path):
    """Fills the file system of path with one file; returns it."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return filler


class Chat:
    """alice talks in #room; an operator with +s watches the server notices."""

    def __init__(self, srv):
        self.srv = srv
        self.oper = srv.connect("oper")
        oper_up(self.oper)
        self.alice = srv.connect("alice", caps=CAPS)
        join(self.alice, "#room")
        self.sent = []

    def burst(self, n, width=150):
        """n messages at once; returns when all were relayed (echoed)."""
        texts = ["m%05d %s" % (len(self.sent) + i, "x" * width) for i in range(n)]
        began = time.monotonic()
        self.alice.send_raw("".join("PRIVMSG #room :%s\r\n" % t for t in texts).encode())
        self.alice.read_until(lambda l: l.command == "PRIVMSG" and l.params == ["#room", texts[-1]], timeout=15)
        sync(self.alice)
        self.sent += texts
        return time.monotonic() - began

    def notices(self, text):
        return [l for l in self.oper.drain(0.2) if l.command == "NOTICE" and text in l.params[-1]]


LOSS_BEGINS = "messages are being lost"
LOSS_TOTAL = "messages lost while the journal was not writable"


def lost_total(srv):
    lines = [l for l in srv.stderr().splitlines() if LOSS_TOTAL in l]
    assert len(lines) == 1, lines
    return int(lines[0].split("history: ")[1].split()[0])


def check_episode(srv, chat):
    """One log line at the start of the loss, one with the total at its end; every
    message is stored intact, in order, or counted lost."""
    err = srv.stderr()
    assert err.count(LOSS_BEGINS) == 1, err[-4000:]
    lost = lost_total(srv)
    assert lost > 0
    texts = [t for _, t in stored(srv.backend)]
    assert set(texts) <= set(chat.sent), [t for t in texts if t not in chat.sent][:3]
    assert texts == sorted(texts), "stored out of order"
    assert len(texts) + lost == len(chat.sent), (len(texts), lost, len(chat.sent))
    assert texts[-5:] == chat.sent[-5:], "the messages after the disk had room again were not stored"


def test_full_disk_while_database_down(make_server, mariadb_backend, tiny_disk):
    """MariaDB down and the journal on a 64 KiB file system: the chat goes on at full speed;
    once the journal is full the loss is logged once (not per batch) and the operators get
    one notice; when the disk has room again the total is logged and noticed once; when
    the database is back the journal is replayed: every message stored intact or counted
    lost, none truncated."""
    db = mariadb_backend.mariadb
    journal = tiny_disk / "var" / "history.journal"
    srv = start(make_server, mariadb_backend, journal, extra=operators_text())
    srv.backend = mariadb_backend
    chat = Chat(srv)
    chat.burst(5)
    wait_for(lambda: int(mariadb_backend.query("SELECT COUNT(*) FROM messages")[0][0]) == 5,
             what="the first messages stored")
    db.kill()
    try:
        for _ in range(20):  # ~400 messages of ~300 journal bytes: about twice the disk
            assert chat.burst(20) < 5
            time.sleep(0.05)  # several batches, several failed appends
        wait_for(lambda: LOSS_BEGINS in srv.stderr(), what="the loss logged")
        began = chat.notices("messages are not being kept")
        assert len(began) == 1, began
        assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(journal.parent).st_mode) == 0o700
        for _ in range(5):  # still full: more losses, no more lines
            chat.burst(20)
            time.sleep(0.05)
        assert srv.stderr().count(LOSS_BEGINS) == 1
        assert LOSS_TOTAL not in srv.stderr()
        assert chat.notices("History:") == []

        grow(tiny_disk, "4m")
        chat.burst(10)
        wait_for(lambda: LOSS_TOTAL in srv.stderr(), what="the total logged once there is room")
        ended = chat.notices("messages are kept again")
        assert len(ended) == 1 and ("%d were lost" % lost_total(srv)) in ended[0], ended
    finally:
        db.spawn()
    wait_for(lambda: "history: replayed" in srv.stderr(), timeout=20, what="the journal replayed")
    chat.burst(5)
    wait_for(lambda: int(mariadb_backend.query("SELECT COUNT(*) FROM messages")[0][0]) + lost_total(srv)
             == len(chat.sent), what="every message stored or counted lost")
    check_episode(srv, chat)
    assert srv.stderr().count(LOSS_BEGINS) == 1
    assert not skipped_lines(srv), "the failed appends left damaged records behind"


def test_full_disk_sqlite(make_server, tmp_path, tiny_disk):
    """SQLite and its journal on the same file system, which fills up: the database and
    the journal both fail; the chat goes on; one log line and one notice at the start of
    the loss, one with the total once the disk has room again; every message stored
    intact or counted lost."""
    grow(tiny_disk, "8m")
    backend = new_backend("sqlite", tiny_disk / "db")
    journal = tiny_disk / "history.journal"
    srv = start(make_server, backend, journal, extra=operators_text())
    srv.backend = backend
    chat = Chat(srv)
    chat.burst(5)
    wait_for(lambda: backend.query("SELECT COUNT(*) FROM messages")[0][0] == "5", what="the first messages stored")
    filler = fill(tiny_disk)
    for _ in range(200):
        assert chat.burst(20) < 5
        time.sleep(0.03)
        if LOSS_BEGINS in srv.stderr():
            break
    assert LOSS_BEGINS in srv.stderr(), "the database never failed on the full disk"
    for _ in range(5):
        chat.burst(20)
        time.sleep(0.03)
    # SQLite may take a batch now and then on the full disk (it reuses the free pages of
    # its WAL), which ends the episode; each episode is reported once at its start and
    # once with its count at its end, and the counts add up.
    filler.unlink()
    chat.burst(10)
    wait_for(lambda: srv.stderr().count(LOSS_TOTAL) == srv.stderr().count(LOSS_BEGINS), timeout=10,
             what="every loss episode closed once there is room")
    chat.burst(5)
    notices = [l.params[-1] for l in chat.oper.drain(0.5) if l.command == "NOTICE" and "History:" in l.params[-1]]
    began = [n for n in notices if "messages are not being kept" in n]
    ended = [int(re.search(r"; (\d+) were lost", n).group(1)) for n in notices if "messages are kept again" in n]
    logged = [int(l.split("history: ")[1].split()[0]) for l in srv.stderr().splitlines() if LOSS_TOTAL in l]
    assert len(began) == len(ended) == len(logged) == srv.stderr().count(LOSS_BEGINS) >= 1, (notices, logged)
    assert ended == logged and all(n > 0 for n in logged), (ended, logged)
    wait_for(lambda: int(backend.query("SELECT COUNT(*) FROM messages")[0][0]) + sum(logged) == len(chat.sent),
             what="every message stored or counted lost")
    texts = [t for _, t in stored(backend)]
    assert set(texts) <= set(chat.sent) and texts == sorted(texts)
    assert texts[-5:] == chat.sent[-5:], "the messages after the disk had room again were not stored"


def test_full_disk_sqlite_logged_once(make_server, tmp_path, tiny_disk):
    """SQLite on a file system that fills up (the journal elsewhere): the storage layer
    logs "database or disk is full" once for the whole episode, not once per history
    batch (nor a "reconnected" per batch), and once the database has worked for 2 s one
    line with the number of failed attempts."""
    grow(tiny_disk, "8m")
    backend = new_backend("sqlite", tiny_disk / "db")
    srv = start(make_server, backend, tmp_path / "history.journal", extra=operators_text())
    chat = Chat(srv)
    chat.burst(5)
    wait_for(lambda: backend.query("SELECT COUNT(*) FROM messages")[0][0] == "5", what="the first messages stored")
    filler = fill(tiny_disk)
    for _ in range(200):
        chat.burst(20)
        time.sleep(0.03)
        if srv.stderr().count("history: database failing") and srv.stderr().count("disk is full"):
            break
    for _ in range(10):  # batch after batch fails
        chat.burst(20)
        time.sleep(0.05)
    filler.unlink()
    chat.burst(5)
    time.sleep(2.1)
    chat.burst(1)
    wait_for(lambda: "storage: the database works again" in srv.stderr(), what="the end of the episode logged")
    err = srv.stderr()
    assert err.count("database or disk is full") == 1, err[-4000:]
    assert err.count("storage: reconnected") <= 1, err[-4000:]  # only if reopening the file failed once
    ended = [l for l in err.splitlines() if "storage: the database works again" in l]
    assert len(ended) == 1 and int(ended[0].split("; ")[1].split()[0]) > 1, ended


# --------------------------------------------------------------------------------------
# File modes


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_private_file_modes(make_server, backend, tmp_path):
    """Started with a umask of 000 and a var directory that does not exist yet: parleyd
    creates the directory 0700 and the SQLite file (with its -wal and -shm) 0600; on
    MariaDB the journal, written while the database is down, is 0600 in a directory it
    created 0700."""
    var = tmp_path / "fresh" / "var"
    journal = var / "history.journal"
    if backend.name == "sqlite":
        backend = new_backend("sqlite", tmp_path / "unused")
        backend.path = var / "parley.db"
        backend.storage["sqlite"]["path"] = str(backend.path)
    old = os.umask(0)
    try:
        srv = start(make_server, backend, journal)
    finally:
        os.umask(old)
    alice = srv.connect("alice", caps=CAPS)
    join(alice, "#room")
    if backend.name == "sqlite":
        alice.send("PRIVMSG #room :stored")
        wait_for(lambda: backend.query("SELECT COUNT(*) FROM messages")[0][0] == "1", what="a message stored")
        files = [backend.path] + [p for p in (var / "parley.db-wal", var / "parley.db-shm") if p.exists()]
        assert len(files) == 3, files  # WAL mode: both exist while the daemon runs
        assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
    else:
        backend.mariadb.kill()
        try:
            alice.send("PRIVMSG #room :journaled")
            wait_for(lambda: journal.exists(), what="the journal written")
            # checked while the database is down: once it is back the journal is
            # replayed and removed within a second
            files = [journal]
            assert {str(p): oct(mode(p)) for p in files} == {str(p): "0o600" for p in files}
        finally:
            backend.mariadb.spawn()
    assert oct(mode(var)) == "0o700"
    assert oct(mode(var.parent)) == "0o700"  # every directory parleyd created
