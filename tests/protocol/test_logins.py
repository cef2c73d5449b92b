"""Login storms (issue 18): password checks on a pool of crypto threads, one per online
CPU by default (accounts.crypto_threads), with each client's replies still in order."""

import os
import time

from conftest import HOST, SERVER_NAME, accounts_section, register_account, sasl_plain

S = ":" + SERVER_NAME
PASSWORD = "correcthorse"


def crypto_threads(srv):
    """The daemon's threads named "crypto" (workq.c names each worker after its queue)."""
    tasks = "/proc/%d/task" % srv.proc.pid
    names = []
    for t in os.listdir(tasks):
        try:
            with open(os.path.join(tasks, t, "comm")) as f:
                names.append(f.read().strip())
        except FileNotFoundError:
            pass
    return names.count("crypto")


def wait_threads(srv, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while crypto_threads(srv) != want and time.monotonic() < deadline:
        time.sleep(0.05)
    return crypto_threads(srv)


def test_crypto_pool_defaults_to_one_thread_per_cpu(make_server, backend):
    srv = make_server(backend=backend, sections={"accounts": accounts_section()})
    assert wait_threads(srv, os.cpu_count()) == os.cpu_count()


def test_crypto_pool_size_from_config(make_server, backend):
    srv = make_server(backend=backend, sections={"accounts": accounts_section(crypto_threads=3)})
    assert wait_threads(srv, 3) == 3


def test_parallel_logins_each_get_their_own_replies_in_order(make_server, backend):
    # Several clients log in at once on the pool, each followed by a command that must
    # wait for its login: every client sees 900, 903, then its own PONG.
    srv = make_server(backend=backend, sections={"accounts": accounts_section(crypto_threads=2)})
    for i in range(4):
        register_account(srv, "user%d" % i, PASSWORD)
    clients = []
    for i in range(8):
        c = srv.client()
        c.send("CAP REQ :sasl")
        c.expect("%s CAP * ACK :sasl" % S)
        c.send("NICK n%d" % i)
        c.send("USER n%d 0 * :x" % i)
        clients.append(c)
    for i, c in enumerate(clients):
        c.send("AUTHENTICATE PLAIN")
        c.expect("AUTHENTICATE +")
    for i, c in enumerate(clients):
        good = i % 2 == 0
        c.send("AUTHENTICATE " + sasl_plain("user%d" % (i // 2), PASSWORD if good else "wrong-one"))
        c.send("PING :after%d" % i)
    for i, c in enumerate(clients):
        if i % 2 == 0:
            c.expect_next("%s 900 n%d n%d!n%d@%s user%d :You are now logged in as user%d"
                          % (S, i, i, i, HOST, i // 2, i // 2))
            c.expect_next("%s 903 n%d :SASL authentication successful" % (S, i))
        else:
            c.expect_next("%s 904 n%d :SASL authentication failed" % (S, i))
        c.expect_next("%s PONG %s :after%d" % (S, SERVER_NAME, i))


# ---- the verification cache ----

# scrypt made slow on purpose (p multiplies the time, not the memory), so a check that
# skips it stands out whatever else runs on the machine.
SLOW = {"scrypt_n": 32768, "scrypt_p": 16, "max_failed_logins": 100}
FAST_ENOUGH = 0.3  # a cached check: an HMAC and a database read


def slow_server(make_server, backend, **accounts):
    return make_server(backend=backend, sections={"accounts": dict(SLOW, **accounts)})


# Hashing a password with SLOW takes seconds of CPU (over 3 s on a loaded machine).
SLOW_REPLY = 30


def register_slow(srv, name, password):
    register_account(srv, name, password, timeout=SLOW_REPLY)


def timed_login(srv, account, password, nick="timer"):
    """One SASL PLAIN login on a new connection: (result numeric, seconds from the
    response to the result)."""
    c = srv.client()
    c.send("CAP REQ :sasl")
    c.expect("%s CAP * ACK :sasl" % S)
    c.send("NICK " + nick)
    c.send("USER %s 0 * :x" % nick)
    c.send("AUTHENTICATE PLAIN")
    c.expect("AUTHENTICATE +")
    t = time.monotonic()
    c.send("AUTHENTICATE " + sasl_plain(account, password))
    last = c.read_until(lambda l: l.command in ("903", "904"), timeout=20)[-1]
    elapsed = time.monotonic() - t
    c.close()
    return last.command, elapsed


def test_cache_skips_scrypt_for_a_recent_right_password(make_server, backend):
    srv = slow_server(make_server, backend)
    register_slow(srv, "alice", PASSWORD)
    result, cold = timed_login(srv, "alice", PASSWORD)
    assert result == "903"
    assert cold > 2 * FAST_ENOUGH, cold  # the first check ran scrypt
    for _ in range(3):
        result, warm = timed_login(srv, "alice", PASSWORD)
        assert result == "903"
        assert warm < FAST_ENOUGH, (cold, warm)
    # By nick or in another case, the same account: cached too.
    assert timed_login(srv, "ALICE", PASSWORD)[0] == "903"
    # A wrong password is never cached: it always pays for scrypt, and fails.
    for _ in range(2):
        result, wrong = timed_login(srv, "alice", PASSWORD + "x")
        assert result == "904"
        assert wrong > 2 * FAST_ENOUGH, wrong


def test_cached_logins_still_count_against_the_throttle(make_server, backend):
    # Failures fill the throttle; a right password, even a cached one, is then refused
    # like any other attempt (904) until the window passes.
    srv = slow_server(make_server, backend, max_failed_logins=2)
    register_slow(srv, "alice", PASSWORD)
    assert timed_login(srv, "alice", PASSWORD)[0] == "903"
    assert timed_login(srv, "alice", "wrong-password")[0] == "904"
    assert timed_login(srv, "alice", "wrong-password")[0] == "904"
    result, t = timed_login(srv, "alice", PASSWORD)
    assert result == "904"


def test_cache_off(make_server, backend):
    srv = slow_server(make_server, backend, login_cache_seconds=0)
    register_slow(srv, "alice", PASSWORD)
    for _ in range(2):
        result, t = timed_login(srv, "alice", PASSWORD)
        assert result == "903"
        assert t > 2 * FAST_ENOUGH, t


def test_cache_entries_expire(make_server, backend):
    srv = slow_server(make_server, backend, login_cache_seconds=2)
    register_slow(srv, "alice", PASSWORD)
    assert timed_login(srv, "alice", PASSWORD)[0] == "903"
    assert timed_login(srv, "alice", PASSWORD)[1] < FAST_ENOUGH
    time.sleep(2.5)
    result, t = timed_login(srv, "alice", PASSWORD)
    assert result == "903"
    assert t > 2 * FAST_ENOUGH, t


def nickserv(c, text):
    c.send("PRIVMSG NickServ :" + text)
    return c.read_until(lambda l: l.command == "NOTICE" and "NickServ" in l.source, timeout=SLOW_REPLY)[-1].params[-1]


def test_password_change_and_drop_forget_the_cached_password(make_server, backend):
    srv = slow_server(make_server, backend)
    register_slow(srv, "alice", PASSWORD)
    assert timed_login(srv, "alice", PASSWORD)[0] == "903"
    assert timed_login(srv, "alice", PASSWORD)[1] < FAST_ENOUGH
    c = srv.connect("alice")
    assert nickserv(c, "IDENTIFY " + PASSWORD) == "You are now identified for alice."
    assert nickserv(c, "SET PASSWORD newpassword1") == "Password changed."
    # The old password no longer logs in, cached or not; the new one is checked with
    # scrypt once, then cached.
    assert timed_login(srv, "alice", PASSWORD)[0] == "904"
    result, t = timed_login(srv, "alice", "newpassword1")
    assert result == "903" and t > 2 * FAST_ENOUGH, t
    assert timed_login(srv, "alice", "newpassword1")[1] < FAST_ENOUGH
    # DROP, then the same name and password registered again: a new account, whose
    # first login is checked with scrypt again.
    assert nickserv(c, "DROP newpassword1") == "Your account has been dropped."
    c.close()
    register_slow(srv, "alice", "newpassword1")
    result, t = timed_login(srv, "alice", "newpassword1")
    assert result == "903" and t > 2 * FAST_ENOUGH, t
