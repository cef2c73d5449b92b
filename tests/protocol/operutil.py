"""Helpers shared by test_oper.py and test_chanserv.py.

* ``oper_hash(password)``: an operator password hash from ``parleyd -mkpasswd`` (cached).
* ``operators_text(*blocks)``: the raw ``operators = ( {...}, ... );`` text for the
  ``extra=`` setting of make_server (the ``sections=`` mechanism only renders groups).
* ``oper_block(name, password, **more)``: one operator block (hosts "*@127.0.0.1").
* ``connect_from(srv, ip)``: a Client whose socket is bound to the source address ip
  (127.0.0.2 and friends work on Linux loopback).
* ``oper_up(c, name, password)``: OPER, expecting 381 and the +os MODE line.
* ``sync(c)`` / ``quiet(*clients)``: PING barriers.
* ``cs(c, text)`` / ``cs_notice(c, text)``: talking to ChanServ.
* ``login_pass(name, password)``: the PASS argument logging in at connection.
"""

import functools
import itertools
import re
import socket
import subprocess

from conftest import (HOST, PARLEYD, SERVER_NAME, Client, accounts_section, conf_value)

S = ":" + SERVER_NAME
CHANSERV = "ChanServ!ChanServ@services."
NICKSERV = "NickServ!NickServ@services."
OPER_PASSWORD = "operpass123"
ALL_PRIVS = "kill ban rehash die see_hidden sa wallops reports route"

_tokens = itertools.count(1)


@functools.lru_cache(maxsize=None)
def oper_hash(password):
    out = subprocess.run([PARLEYD, "-mkpasswd", password], capture_output=True, text=True,
                         timeout=60, check=True)
    h = out.stdout.strip()
    assert h.startswith("$scrypt$"), out
    return h


def oper_block(name="root", password=OPER_PASSWORD, hosts="*@127.0.0.1", **more):
    block = {"name": name, "password": oper_hash(password), "hosts": hosts}
    block.update(more)
    return block


def operators_text(*blocks):
    """operators = ( {...}, ... ); for make_server(extra=...)."""
    if not blocks:
        blocks = (oper_block(),)
    return "operators = %s;\n" % conf_value(list(blocks))


def oper_sections(**more):
    """sections= for an operator test server: fast accounts plus whatever more gives."""
    sections = {"accounts": accounts_section()}
    sections.update(more)
    return sections


def connect_from(srv, ip, port=None, **kwargs):
    """A Client connected to srv from the source address ip (not registered)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((ip, 0))
    sock.settimeout(5)
    sock.connect((HOST, port or srv.port))
    c = Client(port or srv.port, sock=sock, name="client:%s" % ip, **kwargs)
    srv.clients.append(c)
    return c


def is_connection_notice(line):
    """The connect/exit server notices every +s operator gets for every client."""
    return " :*** Client connecting: " in line or " :*** Client exiting: " in line


def sync(c):
    """PING round trip; returns (consumes) the lines received before the PONG, except
    the connect/exit notices (tested on their own in test_connect_notice)."""
    tok = "sync%d" % next(_tokens)
    c.send("PING " + tok)
    lines = c.read_until(lambda l: l.command == "PONG" and l.params[-1:] == [tok])
    return [l for l in lines[:-1] if not is_connection_notice(l)]


def quiet(*clients):
    """Asserts no client got anything not yet consumed (PING barriers, actor first)."""
    for c in clients:
        extra = sync(c)
        assert not extra, "%r: unexpected lines: %r" % (c, extra)


def mask(nick, host=HOST):
    return "%s!%s@%s" % (nick, nick[:10], host)


def oper_up(c, name="root", password=OPER_PASSWORD):
    """OPER that must succeed: 381 then the +os user mode."""
    c.send("OPER %s %s" % (name, password))
    c.expect("%s 381 %s :You are now an IRC operator" % (S, c.nick))
    c.expect(lambda l: l.command == "MODE" and l.params == [c.nick, "+os"]
             and l.nick == c.nick)
    # the new operator has +s: it gets the server notice about itself too
    c.expect(lambda l: l.command == "NOTICE" and l.params[0] == c.nick
             and l.params[1].startswith("*** %s (" % c.nick) and "is now an operator (%s)" % name in l.params[1])


def snotice(nick, text):
    return "%s NOTICE %s :*** %s" % (S, nick, text)


def cs(c, text):
    c.send("PRIVMSG ChanServ :" + text)


def cs_notice(c, text):
    nick = c if isinstance(c, str) else c.nick
    return ":%s NOTICE %s :%s" % (CHANSERV, nick, text)


def cs_mode(chan, modes):
    return ":%s MODE %s %s" % (CHANSERV, chan, modes)


def login_pass(name, password):
    return "%s:%s" % (name, password)


def join(c, chan, *members):
    """c joins chan; consumes its JOIN ... 366 and the JOIN line each member sees."""
    c.send("JOIN " + chan)
    lines = c.read_until(lambda l: l.command == "366" and l.params[1:2] == [chan])
    assert lines[0].command == "JOIN" and lines[0].nick == c.nick, lines
    for m in members:
        m.expect(lambda l: l.command == "JOIN" and l.nick == c.nick and l.params[0] == chan)
    return lines


def whois(c, nick):
    c.send("WHOIS " + nick)
    return c.read_until(lambda l: l.command == "318")


def numeric_of(lines, code):
    return [l for l in lines if l.command == code]


CLOAK_RE = re.compile(r"^[0-9a-f]{8}\.[0-9a-f]{8}\.[0-9a-f]{4}\.parley$")
