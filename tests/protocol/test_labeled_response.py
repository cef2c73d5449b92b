"""IRCv3 labeled-response (with batch)."""

import re

from conftest import SERVER_NAME

S = ":" + SERVER_NAME
CAPS = ["batch", "labeled-response"]


def test_labeled_ping_single_line(server):
    c = server.connect("lab", caps=CAPS)
    c.send("@label=abc123 PING tok")
    line = c.expect_next("@label=abc123 %s PONG %s :tok" % (S, SERVER_NAME))
    assert line.tags == {"label": "abc123"}
    c.assert_silent(0.1)


def test_labeled_lusers_batch(server):
    c = server.connect("lab", caps=CAPS)
    c.send("@label=lu1 LUSERS")
    start = c.expect_next(re.compile(r"^@label=lu1 %s BATCH \+(\S+) labeled-response$" % re.escape(S)))
    ref = start.match.group(1)
    lines = c.read_until(lambda l: l.command == "BATCH")
    assert lines[-1] == "%s BATCH -%s" % (S, ref)
    body = lines[:-1]
    for l in body:
        assert l.tags == {"batch": ref}, l
        assert l.startswith("@batch=%s :" % ref), l
    assert [l.split(" ", 1)[1] for l in body] == [
        S + " 251 lab :There are 1 users and 0 invisible on 1 servers",
        S + " 254 lab 0 :channels formed",
        S + " 255 lab :I have 1 clients and 0 servers",
        S + " 265 lab 1 1 :Current local users 1, max 1",
        S + " 266 lab 1 1 :Current global users 1, max 1",
    ]
    # A second labeled batch works the same way.
    c.send("@label=lu2 LUSERS")
    c.expect_next(re.compile(r"^@label=lu2 %s BATCH \+\S+ labeled-response$" % re.escape(S)))
    c.read_until(lambda l: l.command == "BATCH")
    c.assert_silent(0.1)


def test_labeled_pong_gets_ack(server):
    c = server.connect("lab", caps=CAPS)
    c.send("@label=pp PONG :whatever")
    c.expect_next("@label=pp %s ACK" % S)


def test_labeled_error_reply(server):
    c = server.connect("lab", caps=CAPS)
    c.send("@label=e1 FOOBAR")
    c.expect_next("@label=e1 %s 421 lab FOOBAR :Unknown command" % S)
    c.send("@label=e2 PING")
    c.expect_next("@label=e2 %s 461 lab PING :Not enough parameters" % S)


def test_label_among_other_tags(server):
    c = server.connect("lab", caps=CAPS)
    c.send("@+example.com/x=1;label=multi;+y PING t")
    line = c.expect_next(lambda l: l.command == "PONG")
    assert line.tags == {"label": "multi"}, line


def test_label_ignored_without_cap(server):
    c = server.connect("plain")
    c.send("@label=abc PING tok")
    c.expect_next("%s PONG %s :tok" % (S, SERVER_NAME))
    c.send("@label=def PONG tok")
    c.assert_silent(0.2)


def test_label_value_is_escaped_in_reply(server):
    c = server.connect("lab", caps=CAPS)
    c.send(r"@label=a\:b\sc PING tok")
    line = c.expect_next(lambda l: l.command == "PONG" or "PONG" in l)
    assert line.tags.get("label") == "a;b c", line
    assert line.startswith(r"@label=a\:b\sc "), line


def test_labeled_command_before_registration(server):
    c = server.client()
    c.send("CAP LS 302")
    c.expect(lambda l: l.command == "CAP")
    c.send("CAP REQ :batch labeled-response")
    c.expect(S + " CAP * ACK :batch labeled-response")
    c.send("@label=pre PING early")
    c.expect_next("@label=pre %s PONG %s :early" % (S, SERVER_NAME))
    c.send("NICK lab")
    c.send("USER lab 0 * :Lab")
    c.send("CAP END")
    c.expect(re.compile(r"^:\S+ 001 lab "))
