"""Storage: accounts survive a restart, what is stored, the schema version check, an
unreachable database at start, and a MariaDB server lost and regained while parleyd
runs (chat goes on; account operations answer TEMPORARILY_UNAVAILABLE; logins work
again once parleyd has reconnected)."""

import re
import subprocess
import time

from conftest import (HOST, NICKSERV, PARLEYD, ROOT, SERVER_NAME, accounts_section, authenticate,
                      free_port, mariadb_storage, register_account, sasl_plain, wait_for, write_config)

S = ":" + SERVER_NAME
NS = ":" + NICKSERV
PASSWORD = "hunter2hunter2"


def start(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": accounts_section(**accounts)})


def ns(c, text):
    c.send("PRIVMSG NickServ :" + text)


def sasl_client(srv, nick):
    c = srv.client()
    c.cap_ls()
    c.send("CAP REQ :sasl")
    c.expect("%s CAP * ACK :sasl" % S)
    c.send("NICK " + nick)
    c.send("USER %s 0 * :Parley Tester" % nick)
    return c


def sasl_result(srv, account, password):
    c = sasl_client(srv, "probe")
    result = authenticate(c, account, password).command
    c.close()
    return result


def run_parleyd(directory, tls_files, storage, timeout=30):
    """Runs parleyd on a config with this storage group until it exits; returns
    (CompletedProcess, seconds it ran). Fails if it is still running after timeout."""
    conf = directory / "parley.conf"
    write_config(conf, tls_files, storage=storage, sections={"accounts": accounts_section()})
    began = time.monotonic()
    proc = subprocess.Popen([PARLEYD, "-f", str(conf)], cwd=str(directory), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError("parleyd kept running with an unusable database; stderr:\n" + err)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), time.monotonic() - began


# --------------------------------------------------------------------------------------
# Persistence


def test_restart_persistence(make_server, backend):
    srv = start(make_server, backend)
    alice = srv.connect("alice")
    alice.send("REGISTER * alice@example.org " + PASSWORD)
    alice.expect_next("%s REGISTER SUCCESS alice :Account successfully registered" % S)
    alice.expect(lambda l: l.command == "900")
    ns(alice, "SET PASSWORD newpassword1")
    alice.expect_next(NS + " NOTICE alice :Password changed.")
    ns(alice, "CERT ADD " + "cd" * 32)
    alice.expect_next(NS + " NOTICE alice :Certificate fingerprint added.")
    ns(alice, "INFO")
    info = alice.read_until(NS + " NOTICE alice :End of info.")
    register_account(srv, "bob", PASSWORD)
    srv.stop()  # SIGTERM: asserts a clean exit
    assert srv.proc.returncode == 0

    srv2 = start(make_server, backend)
    assert sasl_result(srv2, "alice", "newpassword1") == "903"
    assert sasl_result(srv2, "alice", PASSWORD) == "904"
    assert sasl_result(srv2, "bob", PASSWORD) == "903"
    c = srv2.connect("alice")
    c.send("REGISTER alice * " + PASSWORD)
    c.expect_next("%s FAIL REGISTER ACCOUNT_EXISTS alice :Account already exists" % S)
    ns(c, "IDENTIFY newpassword1")
    c.expect(lambda l: l.command == "900")
    c.expect_next(NS + " NOTICE alice :You are now identified for alice.")
    ns(c, "INFO")
    assert c.read_until(NS + " NOTICE alice :End of info.") == info
    ns(c, "CERT LIST")
    c.expect_next(NS + " NOTICE alice :Certificate fingerprints for alice: " + "cd" * 32)


def test_what_is_stored(make_server, backend):
    srv = start(make_server, backend)
    c = srv.connect("Alice")
    c.send("REGISTER * alice@example.org " + PASSWORD)
    c.expect_next("%s REGISTER SUCCESS Alice :Account successfully registered" % S)
    rows = backend.query("SELECT name_key, name, email, password, verified, verify_code FROM accounts")
    assert len(rows) == 1, rows
    key, name, email, password, verified, code = rows[0]
    assert (key, name, email, verified, code) == ("alice", "Alice", "alice@example.org", "1", None), rows
    # The password is an scrypt hash with the configured cost, never the password.
    assert re.fullmatch(r"\$scrypt\$1024\$8\$1\$[^$]+\$[^$]+", password), password
    assert PASSWORD not in password
    assert backend.query("SELECT nick_key, nick, account_key FROM account_nicks") == [("alice", "Alice", "alice")]
    # Every migration of this backend was applied, once.
    migrations = sorted(int(p.name.split("_")[0]) for p in (ROOT / "sql" / backend.name).glob("*.sql"))
    versions = sorted(int(v) for (v,) in backend.query("SELECT version FROM schema_version"))
    assert versions == migrations


def test_newer_schema_is_refused(make_server, backend, tmp_path, tls_files):
    srv = start(make_server, backend)
    srv.stop()
    backend.query("INSERT INTO schema_version (version) VALUES (999)")
    result, _ = run_parleyd(tmp_path, tls_files, backend.storage)
    assert result.returncode != 0
    assert re.search(r"database schema version 999 is newer than this parleyd knows \(\d+\)", result.stderr), \
        result.stderr
    assert backend.name in result.stderr, result.stderr


# --------------------------------------------------------------------------------------
# An unreachable database at start


def test_unreachable_database_at_start(backend, tmp_path, tls_files):
    """parleyd refuses to start, with a message naming the backend and the address."""
    if backend.name == "sqlite":
        # parleyd creates a missing directory (0700), but not one under a regular file
        (tmp_path / "not-a-directory").write_text("")
        path = tmp_path / "not-a-directory" / "parley.db"
        cases = [({"backend": "sqlite", "schema_dir": str(ROOT / "sql"), "sqlite": {"path": str(path)}},
                  str(path))]
    else:
        port = free_port()  # nothing listens there
        tcp = mariadb_storage(backend.mariadb, backend.database)
        del tcp["mariadb"]["socket"]
        tcp["mariadb"].update(host="127.0.0.1", port=port)
        sock = mariadb_storage(backend.mariadb, backend.database)
        sock["mariadb"]["socket"] = str(tmp_path / "no-such.sock")
        cases = [(tcp, "127.0.0.1:%d" % port), (sock, str(tmp_path / "no-such.sock"))]
    for storage, address in cases:
        result, took = run_parleyd(tmp_path, tls_files, storage)
        err = result.stderr
        assert result.returncode != 0, err
        assert re.search(r"cannot open %s database .*%s" % (backend.name, re.escape(address)), err), err
        assert "AddressSanitizer" not in err and "runtime error" not in err, err
        assert " started (" not in err, err  # it never served
        assert took < 15, took


# --------------------------------------------------------------------------------------
# MariaDB lost and regained at run time


def unavailable_note():
    return "%s NOTE AUTHENTICATE TEMPORARILY_UNAVAILABLE :The account database is unavailable; try again shortly" % S


def test_mariadb_outage_and_recovery(make_server, mariadb_backend):
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend, max_failed_logins=100)
    register_account(srv, "alice", PASSWORD)
    p1, p2 = srv.connect("p1"), srv.connect("p2")
    for c in (p1, p2):
        c.send("JOIN #room")
        c.read_until(lambda l: l.command == "366")
    p1.read_until(":p2!p2@%s JOIN #room" % HOST)
    waiting = sasl_client(srv, "late")  # will log in during and after the outage
    db.kill()
    try:
        # Chat does not depend on the database.
        p1.send("PRIVMSG p2 :are you there")
        p2.expect_next(":p1!p1@%s PRIVMSG p2 :are you there" % HOST)
        p2.send("PRIVMSG #room :yes")
        p1.expect_next(":p2!p2@%s PRIVMSG #room :yes" % HOST)
        p3 = srv.connect("p3")
        # A SASL login fails at once, saying why.
        began = time.monotonic()
        waiting.send("AUTHENTICATE PLAIN")
        waiting.expect_next("AUTHENTICATE +")
        waiting.send("AUTHENTICATE " + sasl_plain("alice", PASSWORD))
        waiting.expect_next(unavailable_note())
        waiting.expect_next("%s 904 late :SASL authentication failed" % S)
        assert time.monotonic() - began < 3  # no waiting on connection timeouts (5 s)
        # So do REGISTER and NickServ.
        p3.send("REGISTER bob * " + PASSWORD)
        line = p3.expect_next(lambda l: l.command == "FAIL")
        assert line.params[:2] == ["REGISTER", "TEMPORARILY_UNAVAILABLE"], line
        ns(p3, "IDENTIFY alice " + PASSWORD)
        p3.expect_next(NS + " NOTICE p3 :Login failed: The account database is temporarily unavailable; "
                       "try again shortly.")
        p1.send("PRIVMSG p2 :still fine")
        p2.expect_next(":p1!p1@%s PRIVMSG p2 :still fine" % HOST)
    finally:
        db.spawn()
    # parleyd reconnects by itself (backoff): logins work again within ~15 s.
    deadline = time.monotonic() + 15
    while True:
        result = authenticate(waiting, "alice", PASSWORD)
        if result.command == "903":
            break
        assert result == "%s 904 late :SASL authentication failed" % S, result
        assert time.monotonic() < deadline, "no successful login within 15 s of MariaDB coming back"
        time.sleep(0.5)
    waiting.send("CAP END")
    waiting.read_until(lambda l: l.command in ("376", "422"))
    waiting.send("WHOIS late")
    waiting.expect("%s 330 late late alice :is logged in as" % S)
    p3.send("REGISTER bob * " + PASSWORD)
    p3.expect_next("%s REGISTER SUCCESS bob :Account successfully registered" % S)
    p3.expect_next(lambda l: l.command == "900")
    p1.send("PRIVMSG p2 :all good")
    p2.expect_next(":p1!p1@%s PRIVMSG p2 :all good" % HOST)
    wait_for(lambda: "reconnected" in srv.stderr(), what="the reconnection logged")


def test_mariadb_outage_replies_name_the_account(make_server, mariadb_backend):
    """draft/account-registration: FAIL REGISTER|VERIFY TEMPORARILY_UNAVAILABLE <account> <message>."""
    db = mariadb_backend.mariadb
    srv = start(make_server, mariadb_backend)
    c = srv.connect("carl")
    db.kill()
    try:
        c.send("REGISTER * * " + PASSWORD)
        c.expect_next("%s FAIL REGISTER TEMPORARILY_UNAVAILABLE carl :Account registration is temporarily "
                      "unavailable" % S)
        c.send("VERIFY carl 0123456789abcdef")
        line = c.expect_next(lambda l: l.command == "FAIL")
        assert line.params[:3] == ["VERIFY", "TEMPORARILY_UNAVAILABLE", "carl"], line
    finally:
        db.spawn()
