"""The harness's own line parser (pure; no server)."""

from conftest import Line, escape_tag_value, parse_line, unescape_tag_value


def test_parse_plain():
    assert parse_line(":irc.x 001 nick :Welcome home") == ({}, "irc.x", "001", ["nick", "Welcome home"])
    assert parse_line("PING tok") == ({}, None, "PING", ["tok"])
    assert parse_line("CMD a  b :") == ({}, None, "CMD", ["a", "b", ""])
    assert parse_line("CMD :: x") == ({}, None, "CMD", [": x"])


def test_parse_tags():
    tags, source, command, params = parse_line(r"@a=1;b;c=x\sy\:z\\w\r\n;+d/e=;f=\q\ :n!u@h PRIVMSG #c :hi")
    assert tags == {"a": "1", "b": "", "c": "x y;z\\w\r\n", "+d/e": "", "f": "q"}
    assert (source, command, params) == ("n!u@h", "PRIVMSG", ["#c", "hi"])


def test_escape_round_trip():
    for v in ["plain", "a b;c\\d\r\ne", "", "\\", ";;"]:
        assert unescape_tag_value(escape_tag_value(v)) == v


def test_line_attributes():
    line = Line("@label=x :srv BATCH +L1 labeled-response")
    assert line.tags == {"label": "x"}
    assert line.source == "srv" and line.command == "BATCH" and line.params == ["+L1", "labeled-response"]
    assert Line(":nick!u@h NICK :new").nick == "nick"
