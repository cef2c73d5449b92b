"""The manual pages cannot drift from the daemon: parley.conf(5) documents exactly the
settings in ircd/conf.c's key tables, with their types and defaults, and parleyd(8) every
option `parleyd --help` prints. Both pages render without a groff warning."""

import re
import shutil
import subprocess

import pytest

from conftest import PARLEYD, ROOT

CONF_C = ROOT / "ircd" / "conf.c"
CONF_5 = ROOT / "docs" / "man" / "parley.conf.5"
PARLEYD_8 = ROOT / "docs" / "man" / "parleyd.8"

# Defaults compiled in from the Makefile, as the page words them.
MACRO_DEFAULTS = {"PARLEY_SCHEMA_DIR": "PREFIX/share/parley/sql"}

TYPES = {"STR": "string", "INT": "integer", "SIZE": "integer", "BOOL": "boolean",
         "FLOAT": "number"}


def conf_c_tables():
    """{table name: [(key, type, default or None)]} from the `static const struct key`
    tables; default None means required, "" means none."""
    src = CONF_C.read_text()
    tables = {}
    for m in re.finditer(r"static const struct key (\w+)\[\] = \{(.*?)\n\};", src, re.S):
        rows = []
        for e in re.finditer(r"\b(STR|INT|SIZE|BOOL|FLOAT)\(\"([\w]+)\",.*?,\s*(NULL|\"[^\"]*\"|[A-Z_]+)\),",
                             m.group(2)):
            d = e.group(3)
            default = None if d == "NULL" else MACRO_DEFAULTS[d] if d[0] != '"' else d[1:-1]
            rows.append((e.group(2), TYPES[e.group(1)], default))
        assert rows, "no keys parsed from table %s" % m.group(1)
        tables[m.group(1)] = rows
    return src, tables


def conf_c_settings():
    """{"group.key": (type, default)} for every table, placed by the group path its
    load_group call names."""
    src, tables = conf_c_tables()
    paths = {}
    for m in re.finditer(r"\"([\w.]+)\",\s*(\w+_keys)(?:\s*\+\s*\d+)?,", src):
        paths.setdefault(m.group(2), set()).add(m.group(1))
    settings = {}
    for table, rows in tables.items():
        assert paths.get(table), "conf.c table %s is never loaded by load_group" % table
        assert len(paths[table]) == 1, "table %s loaded under several names" % table
        (group,) = paths[table]
        for key, typ, default in rows:
            settings["%s.%s" % (group, key)] = (typ, default)
    return settings


def man_settings():
    """{"group.key": (type, default)} from the `.B key` + `(type; default: X)` pairs."""
    text = CONF_5.read_text()
    found = {}
    for m in re.finditer(r"^\.TP\n\.B ([\w.]+)\n\((\w+); (required|default: (.*))\)$", text, re.M):
        default = m.group(4)
        if default is None:
            value = None
        elif default == "none":
            value = ""
        else:
            d = re.fullmatch(r"\\fB(.*)\\fR", default)
            assert d, "default of %s must be \\fB...\\fR or none: %r" % (m.group(1), default)
            value = d.group(1).replace("\\-", "-")
        assert m.group(1) not in found, "%s documented twice" % m.group(1)
        found[m.group(1)] = (m.group(2), value)
    return found


def test_conf_c_parsed():
    # The parser above must see the whole table set, or the checks below prove nothing.
    settings = conf_c_settings()
    assert len(settings) > 60
    assert settings["server.name"] == ("string", None)
    assert settings["class.flood.rate"] == ("number", "2")
    assert settings["connlimit.exempt"] == ("string", "127.0.0.1 0::1")


def test_every_setting_documented_with_its_default():
    code, man = conf_c_settings(), man_settings()
    missing = sorted(set(code) - set(man))
    stale = sorted(set(man) - set(code))
    assert not missing, "settings in conf.c missing from parley.conf(5): %s" % missing
    assert not stale, "parley.conf(5) documents settings conf.c does not have: %s" % stale
    wrong = {k: (man[k], code[k]) for k in code if man[k] != code[k]}
    assert not wrong, "type/default differ (man, conf.c): %s" % wrong


def help_options():
    r = subprocess.run([PARLEYD, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    return set(re.findall(r"(?<![\w-])(--?[a-z]+)", r.stdout))


def test_every_option_documented():
    options = help_options()
    assert {"-f", "-t", "-v", "--version", "-h", "--help", "-mkpasswd", "-unban"} <= options
    section = PARLEYD_8.read_text().split(".SH OPTIONS\n", 1)[1].split("\n.SH ", 1)[0]
    tags = [l for l in section.splitlines() if l.startswith(".B")]  # the .TP item tags
    for opt in sorted(options):
        pat = r"(?<![\w-])%s(?![\w-])" % re.escape(opt.replace("-", "\\-"))
        assert any(re.search(pat, t) for t in tags), "parleyd(8) OPTIONS lacks %s" % opt


@pytest.mark.parametrize("page", [CONF_5, PARLEYD_8], ids=lambda p: p.name)
def test_page_renders_cleanly(page):
    groff = shutil.which("groff")
    assert groff, "groff (Debian groff-base) is needed to check the manual pages"
    r = subprocess.run([groff, "-man", "-ww", "-z", "-Tutf8", str(page)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
