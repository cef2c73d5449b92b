"""`parleyd -t`: configuration checking, and refusing to start on a bad file."""

import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import (HOST, PARLEYD, ROOT, SERVER_NAME, Client, check_config, free_port,
                      harness_sections_text, wait_for, write_config)
from operutil import S, oper_block, oper_up, operators_text

LISTEN = 'listen = ( { address = "127.0.0.1"; port = 6667; } );\n'


def write(tmp_path, text, name="bad.conf"):
    """Writes text, then the harness's standard groups (after the text, so the line
    numbers the tests expect are those of text)."""
    path = tmp_path / name
    path.write_text(text + harness_sections_text())
    return path


def error_lines(result):
    return [l for l in (result.stderr + result.stdout).splitlines() if l.strip()]


def test_good_config_ok(tmp_path, tls_files):
    path = tmp_path / "good.conf"
    write_config(path, tls_files, motd="hello")
    r = check_config(path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "%s: configuration OK\n" % path
    assert r.stderr == ""


def test_minimal_config_ok(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n' + LISTEN, "min.conf")
    r = check_config(path)
    assert r.returncode == 0, r.stderr


def test_example_config_ok(tmp_path, tls_files):
    """conf/parley.conf as shipped, with the paths made absolute."""
    text = (ROOT / "conf" / "parley.conf").read_text()
    for shipped, here in (('"../var/tls.crt"', tls_files[0]), ('"../var/tls.key"', tls_files[1]),
                          ('"motd.txt"', ROOT / "conf" / "motd.txt")):
        assert shipped in text
        text = text.replace(shipped, '"%s"' % here)
    path = tmp_path / "example.conf"
    path.write_text(text)  # as shipped: no harness groups added
    r = check_config(path)
    assert r.returncode == 0, r.stderr


def test_unknown_key(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  nmae = "x";\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:3: server: unknown setting 'nmae'" % path]


def test_unknown_top_level_section(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n' + LISTEN + "bogus = 1;\n")
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:3: unknown setting 'bogus'" % path]


def test_out_of_range(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\nlimits = {\n  nicklen = 5;\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:3: 'nicklen' must be between 9 and 64" % path]


def test_missing_server_name(tmp_path):
    path = write(tmp_path, 'server = {\n  network = "X";\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    # One problem, one message, at a real line.
    assert error_lines(r) == ["%s:1: server: 'name' is required" % path]


def test_empty_server_name(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "";\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:2: server.name must contain a '.'" % path]


def test_server_name_needs_a_dot(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "localhost";\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:2: server.name must contain a '.'" % path]


def test_every_problem_is_reported(tmp_path):
    text = (
        "server = {\n"                          # 1
        '  network = "X";\n'                    # 2
        '  nmae = "irc.example.net";\n'         # 3
        "};\n"                                  # 4
        "limits = {\n"                          # 5
        "  nicklen = 100;\n"                    # 6
        "  registration_timeout = 0;\n"         # 7
        "};\n"                                  # 8
        "class = (\n"                           # 9
        "  {\n"                                 # 10
        '    name = "default";\n'               # 11
        "    sendq = 10;\n"                     # 12
        '    ping_frequency = "often";\n'       # 13
        "    flood = { enabled = 1; colour = 2; };\n"  # 14
        "  }\n"                                 # 15
        ");\n"                                  # 16
        'listen = ( { address = "127.0.0.1"; port = 70000; } );\n'  # 17
    )
    path = write(tmp_path, text)
    r = check_config(path)
    assert r.returncode != 0
    lines = error_lines(r)
    for line in lines:
        assert re.match(r"^%s:\d+: \S" % re.escape(str(path)), line), line
    expected = [
        "%s:1: server: 'name' is required",
        "%s:3: server: unknown setting 'nmae'",
        "%s:6: 'nicklen' must be between 9 and 64",
        "%s:7: 'registration_timeout' must be between 1 and 3600",
        "%s:12: 'sendq' must be between 4096 and 1073741824",
        "%s:13: 'ping_frequency' must be an integer",
        "%s:14: 'enabled' must be true or false",
        "%s:14: class.flood: unknown setting 'colour'",
        "%s:17: 'port' must be between 1 and 65535",
    ]
    assert sorted(lines) == sorted(e % path for e in expected)


def test_syntax_error(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  network = ;\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    lines = error_lines(r)
    assert len(lines) == 1 and re.match(r"^%s:3: .*syntax error" % re.escape(str(path)), lines[0]), lines


def test_missing_file(tmp_path):
    r = check_config(tmp_path / "nonexistent.conf")
    assert r.returncode != 0
    assert r.stderr.strip()


def test_unreadable_motd(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  motd = "/nonexistent/motd.txt";\n};\n' + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:3: cannot read MOTD file '/nonexistent/motd.txt'" % path]


def test_include_of_a_regular_file_works(tmp_path):
    (tmp_path / "server.inc").write_text('server = { name = "irc.example.net"; };\n')
    path = write(tmp_path, '@include "%s"\n' % (tmp_path / "server.inc") + LISTEN)
    r = check_config(path)
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("spelling", ["plain", "stray backslash and NUL"])
def test_include_of_a_directory_is_an_error(tmp_path, spelling):
    # libconfig 1.5 exits the process when reading an included directory fails ("input in
    # flex scanner failed"); found by tests/fuzz/fuzz_conf.c. libconfig drops a backslash
    # that escapes nothing and reads each run of characters up to its first NUL.
    (tmp_path / "conf.d").mkdir()
    name = str(tmp_path / "conf.d")
    if spelling != "plain":
        name = "\\" + name + "\0ignored"
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n'
                 '@include "%s"\n' % name + LISTEN)
    r = check_config(path)
    assert r.returncode == 1, r.stderr
    assert error_lines(r) == ["%s:2: cannot include '%s': not a readable file" % (path, tmp_path / "conf.d")]


def test_motd_directory_is_an_error(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  motd = "%s";\n};\n' % tmp_path + LISTEN)
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:3: cannot read MOTD file '%s'" % (path, tmp_path)]


def test_unknown_class_in_listener(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n'
                 'listen = ( { address = "127.0.0.1"; port = 6667; class = "vip"; } );\n')
    r = check_config(path)
    assert r.returncode != 0
    assert error_lines(r) == ["%s:2: listen: no class named 'vip'" % path]


def test_tls_listener_needs_tls_section(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n'
                 'listen = ( { address = "127.0.0.1"; port = 6697; tls = true; } );\n')
    r = check_config(path)
    assert r.returncode != 0
    lines = error_lines(r)
    assert len(lines) == 1 and "needs the 'tls' section" in lines[0], lines
    assert lines[0].startswith("%s:" % path)


def test_bad_certificate(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n'
                 'tls = { certificate = "/nonexistent.crt"; key = "/nonexistent.key"; };\n'
                 'listen = ( { address = "127.0.0.1"; port = 6697; tls = true; } );\n')
    r = check_config(path)
    assert r.returncode != 0
    assert "cannot load TLS certificate '/nonexistent.crt'" in r.stderr


def test_daemon_refuses_to_start_on_bad_config(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  nmae = "x";\n};\n' + LISTEN)
    r = subprocess.run([PARLEYD, "-f", str(path)], capture_output=True, text=True, timeout=10)
    assert r.returncode != 0
    assert "%s:3: server: unknown setting 'nmae'" % path in r.stderr


USAGE = (
    "usage: parleyd [-t] [-f config] | parleyd -mkpasswd [password] | parleyd -unban MASK [-f config]\n"
    "       parleyd -v | --version | -h | --help\n"
    "  -f FILE       configuration file (default conf/parley.conf); relative paths in it\n"
    "                resolve against its directory\n"
    "  -t            check the configuration and exit\n"
    "  -mkpasswd [P] print a password hash for an oper block (reads P from stdin if absent)\n"
    "  -unban MASK   delete the stored K-/D-line MASK (safe while parleyd runs; a running\n"
    "                daemon lifts it on REHASH or SIGHUP)\n"
    "  -v, --version print the version and exit\n"
    "  -h, --help    print this summary and exit\n")


def run_parleyd(*args, cwd=None):
    return subprocess.run([PARLEYD, *args], capture_output=True, text=True, timeout=10, cwd=cwd)


def server_version():
    """The version the source declares (what 002/004 and VERSION send)."""
    text = (ROOT / "ircd" / "ircd.h").read_text()
    return re.search(r'#define PARLEY_VERSION "([^"]+)"', text).group(1)


@pytest.mark.parametrize("option", ["-x", "-tx", "--bogus"])
def test_bad_option(tmp_path, option):
    r = run_parleyd(option)
    assert r.returncode == 2
    name = option if option.startswith("--") else "-x"
    assert r.stderr == "parleyd: unknown option %s\n" % name + USAGE
    assert r.stdout == ""


def test_option_missing_its_argument():
    r = run_parleyd("-f")
    assert r.returncode == 2
    assert r.stderr == "parleyd: option -f needs an argument\n" + USAGE
    assert r.stdout == ""


@pytest.mark.parametrize("option", ["-v", "--version"])
def test_version_option(option, tmp_path):
    # No configuration needed: it works from a directory without conf/parley.conf.
    r = run_parleyd(option, cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, server_version() + "\n", "")


def test_version_option_matches_the_version_reply(server):
    c = server.connect("ver")
    c.send("VERSION")
    reply = c.expect(re.compile(r"^:\S+ 351 "))
    assert reply.params[1] == run_parleyd("-v").stdout.strip()


@pytest.mark.parametrize("option", ["-h", "--help"])
def test_help_option(option, tmp_path):
    r = run_parleyd(option, cwd=tmp_path)
    assert (r.returncode, r.stdout, r.stderr) == (0, USAGE, "")


def test_existing_options_still_work(tmp_path):
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n' + LISTEN, "ok.conf")
    r = run_parleyd("-t", "-f", str(path))
    assert (r.returncode, r.stdout, r.stderr) == (0, "%s: configuration OK\n" % path, "")
    r = run_parleyd("-f", str(path), "-t")
    assert (r.returncode, r.stdout) == (0, "%s: configuration OK\n" % path)
    r = run_parleyd("-mkpasswd", "secret")
    assert r.returncode == 0 and r.stdout.startswith("$"), r
    r = run_parleyd("-unban")
    assert (r.returncode, r.stderr) == (2, USAGE)


# --------------------------------------------------------------------------------------
# Relative paths resolve against the configuration file's directory


def start_in_root(conf, log):
    """parleyd -f conf started with cwd=/ (as an init system does); waits for its listener."""
    with open(log, "wb") as err:
        proc = subprocess.Popen([PARLEYD, "-f", str(conf)], cwd="/", stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err)
    wait_for(lambda: proc.poll() is not None or " started (" in log.read_text(errors="replace"),
             what="parleyd to start")
    assert proc.poll() is None, log.read_text()
    return proc


def test_relative_paths_resolve_against_the_config_dir(tmp_path, tls_files):
    d = tmp_path / "etc"
    (d / "tls").mkdir(parents=True)
    (d / "var").mkdir()
    shutil.copy(tls_files[0], d / "tls" / "server.crt")
    shutil.copy(tls_files[1], d / "tls" / "server.key")
    (d / "motd.txt").write_text("first motd\n")
    (d / "motd2.txt").write_text("second motd\n")
    (d / "sql").symlink_to(ROOT / "sql")  # schema_dir "sql" resolves here too
    port, tls_port = free_port(), free_port()
    text = ('server = { name = "%s"; motd = "motd.txt"; };\n'
            'tls = { certificate = "tls/server.crt"; key = "tls/server.key"; };\n'
            'storage = { schema_dir = "sql"; sqlite = { path = "var/parley.db"; }; };\n'
            'history = { journal = "var/history.journal"; };\n'
            'log = { level = "info"; };\n'
            'listen = ( { address = "%s"; port = %d; }, { address = "%s"; port = %d; tls = true; } );\n'
            % (SERVER_NAME, HOST, port, HOST, tls_port)
            + operators_text(oper_block()) + harness_sections_text())
    conf = d / "parley.conf"
    conf.write_text(text)
    r = subprocess.run([PARLEYD, "-t", "-f", str(conf)], cwd="/", capture_output=True, text=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, "%s: configuration OK\n" % conf, "")
    strays = [Path("/motd.txt"), Path("/var/parley.db"), Path("/var/history.journal")]
    assert not any(p.exists() for p in strays)
    proc = start_in_root(conf, tmp_path / "stderr.log")
    clients = []
    try:
        c = Client(port)
        clients.append(c)
        lines = c.register("alice")
        assert "%s 372 alice :- first motd" % S in lines
        secure = Client(tls_port, tls=True)
        clients.append(secure)
        secure.register("bob")
        assert (d / "var" / "parley.db").is_file()
        assert not any(p.exists() for p in strays)
        # REHASH: the daemon's cwd is still /, the new relative MOTD path resolves the same way
        conf.write_text(text.replace('motd = "motd.txt"', 'motd = "motd2.txt"'))
        oper_up(c)
        c.send("REHASH")
        c.expect("%s 382 alice %s :Rehashing" % (S, conf))
        c.expect(lambda l: l.command == "NOTICE" and "rehashing the server configuration" in l.params[-1])
        later = Client(port)
        clients.append(later)
        lines = later.register("carol")
        assert "%s 372 carol :- second motd" % S in lines
    finally:
        for c in clients:
            c.close()
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=10)
    assert rc == 0, (tmp_path / "stderr.log").read_text()
    assert (d / "var" / "parley.db").is_file()


def test_relative_include_resolves_against_the_config_dir(tmp_path):
    # Nested includes too resolve against the main file's directory (libconfig's include_dir).
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "server.inc").write_text('@include "inc/motd.inc"\n')
    (tmp_path / "inc" / "motd.inc").write_text('server = { name = "irc.example.net"; motd = "m.txt"; };\n')
    (tmp_path / "m.txt").write_text("hi\n")
    path = write(tmp_path, '@include "inc/server.inc"\n' + LISTEN)
    r = subprocess.run([PARLEYD, "-t", "-f", str(path)], cwd="/", capture_output=True, text=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, "%s: configuration OK\n" % path, "")


def test_relative_include_of_a_directory_is_an_error(tmp_path):
    (tmp_path / "conf.d").mkdir()
    path = write(tmp_path, 'server = { name = "irc.example.net"; };\n@include "conf.d"\n' + LISTEN)
    r = subprocess.run([PARLEYD, "-t", "-f", str(path)], cwd="/", capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert error_lines(r) == ["%s:2: cannot include '%s': not a readable file" % (path, tmp_path / "conf.d")]


def test_mixed_absolute_and_relative_includes_are_an_error(tmp_path):
    (tmp_path / "a.inc").write_text('server = { name = "irc.example.net"; };\n')
    (tmp_path / "b.inc").write_text('limits = { nicklen = 20; };\n')
    path = write(tmp_path, '@include "a.inc"\n@include "%s"\n' % (tmp_path / "b.inc") + LISTEN)
    r = check_config(path)
    assert r.returncode == 1
    assert error_lines(r) == ["%s:0: @include names must be all absolute or all relative (to %s)"
                              % (path, tmp_path)]


def test_relative_path_error_names_the_resolved_file(tmp_path):
    path = write(tmp_path, 'server = {\n  name = "irc.example.net";\n  motd = "no/motd.txt";\n};\n' + LISTEN)
    r = subprocess.run([PARLEYD, "-t", "-f", str(path)], cwd="/", capture_output=True, text=True, timeout=10)
    assert r.returncode == 1
    assert error_lines(r) == ["%s:3: cannot read MOTD file '%s'" % (path, tmp_path / "no" / "motd.txt")]


def test_config_named_relatively_resolves_against_its_dir(tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "motd.txt").write_text("hi\n")
    (tmp_path / "conf" / "p.conf").write_text('server = { name = "irc.example.net"; motd = "motd.txt"; };\n'
                                                + LISTEN + harness_sections_text())
    r = subprocess.run([PARLEYD, "-t", "-f", "conf/p.conf"], cwd=str(tmp_path), capture_output=True,
                       text=True, timeout=10)
    assert (r.returncode, r.stdout, r.stderr) == (0, "conf/p.conf: configuration OK\n", "")
