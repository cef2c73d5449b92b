"""History while MariaDB is away (MariaDB only): the chat goes on without waiting, every
message goes to history.journal, and once the database is back the daemon replays the
journal by itself, storing each message exactly once and in order; reads during the
outage answer FAIL ... MESSAGE_ERROR in the draft/chathistory form."""

import time

from chanutil import join, mask, sync

from conftest import SERVER_NAME, Backend, mariadb_storage, wait_for

import mariadb_server

CAPS = ["batch", "server-time", "message-tags", "echo-message", "draft/chathistory"]
PAST = "timestamp=2020-01-01T00:00:00.000Z"


def start(make_server, backend, journal):
    return make_server(backend=backend, flood_enabled=False,
                       sections={"accounts": {"scrypt_n": 1024}, "history": {"journal": str(journal)}})


def read_batch(c, kind, *params):
    head = c.expect_next(lambda l: l.command == "BATCH")
    assert head.params[1:] == [kind] + list(params), head
    ref = head.params[0][1:]
    lines = c.read_until(lambda l: l.command == "BATCH" and l.params[0] == "-" + ref, timeout=10)
    return lines[:-1]


def all_history(c, target):
    """Every stored message of target, oldest first, in pages of 100 (AFTER msgid)."""
    out = []
    sel = PAST
    while True:
        c.send("CHATHISTORY AFTER %s %s 100" % (target, sel))
        head = c.expect_next(lambda l: l.command in ("BATCH", "FAIL"))
        if head.command == "FAIL":
            return None  # not readable (yet)
        c.pending.appendleft(head)
        page = read_batch(c, "chathistory", target)
        if not page:
            return out
        out += page
        sel = "msgid=" + page[-1].tags["msgid"]


def journal_lines(path):
    """The records in the journal (one per message, each ending in a newline)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def test_journal_replayed_after_outage(make_server, mariadb_backend, tmp_path):
    db = mariadb_backend.mariadb
    journal = tmp_path / "journal" / "history.journal"
    journal.parent.mkdir()
    srv = start(make_server, mariadb_backend, journal)
    alice, bob = srv.connect("alice", caps=CAPS), srv.connect("bob", caps=CAPS)
    join(alice, "#room")
    join(bob, "#room", alice)
    sent = []  # the echoes, in the order the server relayed them

    def chat(i, text):
        sender, receiver = (alice, bob) if i % 2 == 0 else (bob, alice)
        began = time.monotonic()
        sender.send("PRIVMSG #room :" + text)
        echo = sender.expect_next(lambda l: l.command == "PRIVMSG" and l.params == ["#room", text])
        got = receiver.expect_next(lambda l: l.command == "PRIVMSG" and l.params == ["#room", text])
        assert got.tags["msgid"] == echo.tags["msgid"] and got.source == mask(sender)
        sent.append(echo)
        return time.monotonic() - began

    for i in range(10):
        chat(i, "before %d" % i)
    wait_for(lambda: int(mariadb_backend.query("SELECT COUNT(*) FROM messages")[0][0]) == 10,
             what="the first messages stored")

    db.kill()
    try:
        # The chat keeps flowing, message by message, without waiting on the database.
        began = time.monotonic()
        slowest = max(chat(i, "during %03d" % i) for i in range(300))
        assert slowest < 0.5, "a message took %.2f s to arrive during the outage" % slowest
        assert time.monotonic() - began < 10
        # Everything relayed during the outage is in the journal.
        # (each journal append is fsynced: on a busy disk the journal may lag the chat by
        # a few seconds, never lose any of it)
        wait_for(lambda: journal_lines(journal) == 300, timeout=10, what="300 journaled messages")
    finally:
        db.spawn()

    # Back: the daemon replays the journal by itself; nobody needs to speak first.
    deadline = time.monotonic() + 15
    stored = None
    while time.monotonic() < deadline:
        stored = all_history(alice, "#room")
        if stored is not None and len(stored) >= len(sent):
            break
        time.sleep(0.5)
    replayed_alone = stored is not None and len(stored) >= len(sent)
    if not replayed_alone:
        # Check the rest anyway, after a message that makes the daemon write again.
        chat(0, "after the outage")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            stored = all_history(alice, "#room")
            if stored is not None and len(stored) >= len(sent):
                break
            time.sleep(0.5)
    assert stored is not None and len(stored) == len(sent), (len(stored or []), len(sent))
    # Exactly once each, in the order relayed, with the original msgid, time, source, text.
    assert [l.tags["msgid"] for l in stored] == [e.tags["msgid"] for e in sent]
    assert [l.tags["time"] for l in stored] == [e.tags["time"] for e in sent]
    assert [(l.source, l.params) for l in stored] == [(e.source, e.params) for e in sent]
    rows = mariadb_backend.query("SELECT msgid, text FROM messages ORDER BY seq")
    assert [r[0] for r in rows] == [e.tags["msgid"] for e in sent]
    assert [r[1] for r in rows] == [e.params[1] for e in sent]
    wait_for(lambda: not journal.exists(), what="the journal removed once replayed")
    wait_for(lambda: "replayed 300 journaled messages" in srv.stderr(), what="the replay logged")
    assert replayed_alone, ("the journal was replayed only when another message was written, not when the "
                            "database came back: history stayed incomplete for readers until then")


def test_reads_during_outage(make_server, mariadb_backend, tmp_path):
    """CHATHISTORY fails at once with "FAIL CHATHISTORY MESSAGE_ERROR <subcommand>
    <target> :..." (the spec's form); HistServ says so in a NOTICE; the chat goes on."""
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend, tmp_path / "history.journal")
    alice, bob = srv.connect("alice", caps=CAPS), srv.connect("bob")
    join(alice, "#room")
    join(bob, "#room", alice)
    alice.send("PRIVMSG #room :stored")
    bob.expect(lambda l: l.params[-1:] == ["stored"])
    sync(alice)
    db.kill()
    try:
        began = time.monotonic()
        bob.send("PRIVMSG HistServ :PLAY #room")
        bob.expect_next(":HistServ!HistServ@services. NOTICE bob :History is temporarily unavailable.")
        alice.send("PRIVMSG #room :still talking")
        bob.expect_next(":%s PRIVMSG #room :still talking" % mask(alice))
        sync(alice)
        for sub, args in (("LATEST", "#room * 10"), ("BEFORE", "#room timestamp=2100-01-01T00:00:00.000Z 10")):
            alice.send("CHATHISTORY %s %s" % (sub, args))
            line = alice.expect_next(lambda l: l.command == "FAIL")
            assert line.source == SERVER_NAME, line
            assert line.params[:4] == ["CHATHISTORY", "MESSAGE_ERROR", sub, "#room"] and len(line.params) >= 5, line
        assert time.monotonic() - began < 3
    finally:
        db.spawn()


def test_slow_database_spills_to_journal(make_server, tmp_path):
    """A database that is up but not keeping up (here: SQLite locked by another process
    for 2 s while 30,000 messages arrive): past 20,000 queued rows the storage thread
    appends batches to the journal instead of holding them in memory, then replays them.
    Every message ends up stored once, in the order relayed; nothing waits."""
    import sqlite3
    from conftest import new_backend
    backend = new_backend("sqlite", tmp_path / "db")
    journal = tmp_path / "history.journal"
    srv = start(make_server, backend, journal)
    alice = srv.connect("alice", caps=CAPS)
    join(alice, "#room")
    alice.send("PRIVMSG #room :warm-up")
    wait_for(lambda: backend.query("SELECT COUNT(*) FROM messages")[0][0] == "1", what="the first message stored")

    lock = sqlite3.connect(str(backend.path), isolation_level=None, timeout=10)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        n = 30000
        began = time.monotonic()
        alice.send_raw("".join("PRIVMSG #room :m%d\r\n" % i for i in range(n)))
        sync(alice)  # every message relayed, while the database is still locked
        assert time.monotonic() - began < 2, "the chat waited for the database"
        time.sleep(2 - (time.monotonic() - began))
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    wait_for(lambda: backend.query("SELECT COUNT(*) FROM messages")[0][0] == str(n + 1), timeout=30,
             what="every message stored")
    texts = [r[0] for r in backend.query("SELECT text FROM messages ORDER BY seq")]
    assert texts == ["warm-up"] + ["m%d" % i for i in range(n)]
    wait_for(lambda: "history: replayed" in srv.stderr(), what="the backlog going through the journal")
    wait_for(lambda: not journal.exists(), what="the journal removed after its replay")


def test_server_refusing_bulk_inserts(make_server, tmp_path):
    """A MariaDB that refuses array binding (statement-based binary logging) still gets
    every message: the daemon warns once and writes multi-row INSERT text instead."""
    db = mariadb_server.MariaDB(tmp_path / "binlog-mariadb",
                                ["--log-bin=binlog", "--binlog-format=STATEMENT", "--server-id=1"])
    try:
        db.start()
        backend = Backend("mariadb", mariadb_storage(db, db.create_database("parley_bulk")), mariadb=db,
                          database="parley_bulk")
        srv = start(make_server, backend, tmp_path / "history.journal")
        alice, bob = srv.connect("alice", caps=CAPS), srv.connect("bob", caps=CAPS)
        join(alice, "#room")
        join(bob, "#room", alice)
        texts = ["line %d" % i for i in range(300)]
        alice.send_raw("".join("PRIVMSG #room :%s\r\n" % t for t in texts).encode())
        bob.read_until(lambda l: l.command == "PRIVMSG" and l.params == ["#room", texts[-1]], timeout=15)
        sync(alice)
        got = all_history(bob, "#room")
        assert [l.params[1] for l in got] == texts
        wait_for(lambda: "writing history with multi-row INSERTs instead" in srv.stderr(), what="the warning")
        assert srv.stderr().count("writing history with multi-row INSERTs instead") == 1, srv.stderr()
        rows = backend.query("SELECT COUNT(*), COUNT(DISTINCT seq) FROM messages")
        assert rows == [("300", "300")], rows
    finally:
        db.stop()
