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
