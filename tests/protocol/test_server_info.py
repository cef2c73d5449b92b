"""Server information commands: MOTD, LUSERS, VERSION, TIME, INFO, ADMIN."""

import calendar
import re
import time

import pytest

from conftest import SERVER_NAME, VERSION

S = ":" + SERVER_NAME


def test_motd(make_server):
    srv = make_server(motd="First line\r\n  indented\n\nlast")
    c = srv.connect("reader")
    c.send("MOTD")
    lines = c.read_until(lambda l: l.command == "376")
    assert lines == [
        S + " 375 reader :- %s Message of the day - " % SERVER_NAME,
        S + " 372 reader :- First line",
        S + " 372 reader :-   indented",
        S + " 372 reader :- ",
        S + " 372 reader :- last",
        S + " 376 reader :End of /MOTD command.",
    ]
    c.send("MOTD " + SERVER_NAME.upper())
    assert c.read_until(lambda l: l.command == "376") == lines


def test_motd_missing(server):
    c = server.connect("reader")
    c.send("MOTD")
    c.expect_next(S + " 422 reader :MOTD File is missing")


@pytest.mark.parametrize("command", ["MOTD", "VERSION", "TIME", "INFO", "ADMIN"])
def test_other_server_402(server, command):
    c = server.connect("asker")
    c.send(command + " other.server.example")
    c.expect_next(S + " 402 asker other.server.example :No such server")
    c.assert_silent(0.1)


def lusers(c):
    c.send("LUSERS")
    return c.read_until(lambda l: l.command == "266")


def test_lusers_counts(server):
    a = server.connect("one")
    b = server.connect("two")
    u = server.client()
    u.send("NICK unreg")
    u.send("PING sync")
    u.expect_next(S + " PONG %s :sync" % SERVER_NAME)
    assert lusers(a) == [
        S + " 251 one :There are 2 users and 0 invisible on 1 servers",
        S + " 253 one 1 :unknown connection(s)",
        S + " 254 one 0 :channels formed",
        S + " 255 one :I have 2 clients and 0 servers",
        S + " 265 one 2 2 :Current local users 2, max 2",
        S + " 266 one 2 2 :Current global users 2, max 2",
    ]
    b.send("QUIT :bye")
    b.expect_closed()
    u.close()
    # The unregistered connection's close is noticed asynchronously.
    deadline = time.monotonic() + 3
    while True:
        lines = lusers(a)
        if not any(l.command == "253" for l in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert lines == [
        S + " 251 one :There are 1 users and 0 invisible on 1 servers",
        S + " 254 one 0 :channels formed",
        S + " 255 one :I have 1 clients and 0 servers",
        S + " 265 one 1 2 :Current local users 1, max 2",
        S + " 266 one 1 2 :Current global users 1, max 2",
    ]


def test_version(server):
    c = server.connect("ver")
    c.send("VERSION")
    c.expect_next(S + " 351 ver %s %s :Parley IRC server" % (VERSION, SERVER_NAME))
    line = c.expect_next(lambda l: l.command == "005")
    assert line.params[0] == "ver" and line.params[-1] == "are supported by this server"
    assert "CASEMAPPING=rfc1459" in line.params
    c.send("VERSION " + SERVER_NAME)
    c.expect(S + " 351 ver %s %s :Parley IRC server" % (VERSION, SERVER_NAME))


def test_time(server):
    c = server.connect("clock")
    before = int(time.time())
    c.send("TIME")
    line = c.expect_next(re.compile(r"^%s 391 clock %s (\d+) :(.*)$" % (re.escape(S), re.escape(SERVER_NAME))))
    after = int(time.time())
    ts = int(line.match.group(1))
    assert before - 1 <= ts <= after + 1
    text = line.match.group(2)
    t = time.strptime(text, "%A %B %d %Y -- %H:%M:%S +00:00")
    assert abs(calendar.timegm(t) - ts) <= 1, (text, ts)


def test_info(server):
    c = server.connect("curious")
    c.send("INFO")
    lines = c.read_until(lambda l: l.command == "374")
    assert lines[0] == S + " 371 curious :" + VERSION
    assert lines[-1] == S + " 374 curious :End of INFO list"
    assert all(l.command == "371" and l.params[0] == "curious" and len(l.params) == 2 for l in lines[:-1])
    assert any(re.fullmatch(r"Started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", l.params[1]) for l in lines)


def test_admin(server):
    c = server.connect("boss")
    c.send("ADMIN")
    assert c.read_until(lambda l: l.command == "259") == [
        S + " 256 boss %s :Administrative info" % SERVER_NAME,
        S + " 257 boss :Parley test location",
        S + " 258 boss :Second location line",
        S + " 259 boss :admin@parley.test",
    ]


def test_admin_location2_defaults_to_description(make_server):
    srv = make_server(admin_location2="", description="A test description")
    c = srv.connect("boss")
    c.send("ADMIN")
    c.expect(S + " 258 boss :A test description")
