"""HELP and HELP <command> for NickServ, ChanServ and HistServ. The tests walk each
service's list: every command it lists has its own help (its syntax, then at least one
line saying what it does), and, for NickServ and ChanServ, the service knows it. A command
added without help, or help for a command that is gone, fails here."""

import pytest

from conftest import accounts_section
from operutil import sync

SERVICES = ["NickServ", "ChanServ", "HistServ"]


def start(make_server, backend):
    return make_server(backend=backend, sections={"accounts": accounts_section()})


def notices(c, service, text):
    """Sends text to service; returns the texts of the NOTICEs it answered with."""
    c.send("PRIVMSG %s :%s" % (service, text))
    lines = sync(c)
    src = "%s!%s@services." % (service, service)
    assert all(l.command == "NOTICE" and l.source == src for l in lines), lines
    return [l.params[-1] for l in lines]


def listed(c, service):
    """(name, summary) of each command HELP lists."""
    lines = notices(c, service, "HELP")
    assert lines[0].startswith("%s commands" % service), lines
    out = []
    for text in lines[1:]:
        assert text.startswith("  "), lines
        out.append((text.split()[0], text[2:]))
    return out


@pytest.mark.parametrize("service", SERVICES)
def test_every_listed_command_has_help(make_server, backend, service):
    srv = start(make_server, backend)
    c = srv.connect("helper")
    commands = listed(c, service)
    assert len(commands) >= 4 and commands[-1][0] == "HELP", commands
    for name, summary in commands:
        syntax = summary.split(" - ")[0]
        for asked in (name, name.lower()):
            lines = notices(c, service, "HELP " + asked)
            assert lines[0] == "Syntax: " + syntax, (name, lines)
            assert len(lines) >= 2 and all(l.strip() for l in lines[1:]), (name, lines)
        if service != "HistServ":  # HistServ answers a bare command with its usage line
            assert not any(l.startswith("Unknown command") for l in notices(c, service, name)), name
    assert notices(c, service, "HELP FROBNICATE") == ["No help for FROBNICATE. Use HELP for a list."]


def test_nickserv_help_topics(make_server, backend):
    """The exact text of one topic per service."""
    srv = start(make_server, backend)
    c = srv.connect("helper")
    assert notices(c, "NickServ", "HELP LOGOUT") == ["Syntax: LOGOUT",
                                                     "Logs you out; you keep your nick and channels."]
    assert notices(c, "ChanServ", "HELP op") == ["Syntax: OP <#channel> [nick]",
                                                 "Without a nick, to yourself. Needs op access."]
    assert notices(c, "HistServ", "HELP DELETE") == [
        "Syntax: DELETE <#channel|nick> <msgid>",
        "The msgid is the one PLAY and SEARCH show in parentheses."]
    # the ChanServ list names every SET option
    chanserv = dict(listed(c, "ChanServ"))
    for option in ("DESCRIPTION", "MLOCK", "TOPICLOCK", "KEEPTOPIC", "RESTRICTED", "REPLAY", "RETENTION"):
        assert option in chanserv["SET"], chanserv["SET"]
