"""Protocol test harness for parleyd.

Everything a protocol test needs lives here:

* ``write_config(path, **settings)`` writes a libconfig file in the format of
  conf/parley.conf (server/admin/limits/log/tls/listen/class, storage, and any other
  group through ``sections=``), with a plaintext and a TLS listener on free 127.0.0.1
  ports. ``DEFAULT_SETTINGS`` lists every setting; ``HARNESS_SECTIONS`` the groups
  every test config gets (no host cloaking, so replies show 127.0.0.1).
* ``Server`` runs one parleyd process (``parleyd -f CONFIG``, stderr captured to a
  file; a configured ``log.file`` is read by ``Server.log()``). ``Server.stop()`` sends SIGTERM and asserts a clean exit: status 0 within
  5 s and no sanitizer report on stderr.
* Fixtures: ``server`` (a server with the default settings), ``make_server``
  (factory: ``make_server(ping_frequency=1, motd="hi")``), ``tls_files`` (the
  self-signed certificate generated once per session), ``client_cert``.
* Storage backends: ``backend`` runs a test twice, on SQLite and on a private MariaDB
  server (the session fixture ``mariadb``, tests/lib/mariadb_server.py), each time on a
  fresh database; ``make_server(backend=backend, ...)`` points the server's storage
  section at it (the default storage stays a per-server SQLite file). Without mariadbd
  installed the MariaDB half fails (``make deps`` installs it). ``accounts_section``
  gives fast scrypt settings; ``sasl_plain`` / ``authenticate`` drive SASL.
* ``Client``: a line-oriented IRC client for tests (plain or TLS) with ``send``,
  ``send_raw``, ``getline``, ``expect``, ``read_until``, ``assert_silent``,
  ``expect_closed`` and ``register``.
* ``Line``: a received line (a str) with its parsed ``tags``, ``source``,
  ``command`` and ``params``; ``parse_line`` parses any line.

The daemon under test is $PARLEYD (absolute path), by default ircd/parleyd of the
repository this file is in, so the same suite runs against the ASan build.
"""

import os
import re
import signal
import socket
import ssl
import subprocess
import time
from collections import deque
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PARLEYD = os.environ.get("PARLEYD") or str(ROOT / "ircd" / "parleyd")

HOST = "127.0.0.1"
SERVER_NAME = "irc.parley.test"
NETWORK = "ParleyTest"
VERSION = "parley-0.1"

# Seconds a test waits for an expected line before failing. Generous enough for the
# ASan build on a loaded machine; waits for lines that do arrive cost nothing.
TIMEOUT = float(os.environ.get("PARLEY_TEST_TIMEOUT", "3"))

# Every setting write_config understands, with the value tests get by default.
# Flood control stays enabled (so its code runs in every test) but with a burst large
# enough that ordinary tests are never slowed down by it.
DEFAULT_SETTINGS = {
    "server_name": SERVER_NAME,
    "network": NETWORK,
    "description": "Parley test server",
    "motd": None,  # MOTD text (written to a file), or None for no MOTD (422)
    "password": "",
    "admin_location": "Parley test location",
    "admin_location2": "Second location line",
    "admin_email": "admin@parley.test",
    "nicklen": 30,
    "registration_timeout": 10,
    "log_level": "info",
    # More settings of the log group: {"file": "parley.log", "categories": {...}}. A log
    # file is read like stderr by Server.log() (and for the "started" line).
    "log": None,
    "sendq": 1048576,
    "ping_frequency": 120,
    "ping_timeout": 60,
    "max_clients": 10000,
    "flood_enabled": True,
    "flood_rate": 10.0,
    "flood_burst": 100,
    "tls": True,  # add the TLS listener (and the tls section)
    # tls.sts = { ... } (a dict), its port defaulting to the TLS listener's; None: no STS
    "sts": None,
    # storage = { ... }: an SQLite database next to the config and the repository's
    # schema directory, so nothing is created in the working tree. None leaves the
    # section out (daemon defaults).
    "storage": "default",
    # More top-level groups, rendered as libconfig: {"accounts": {"registration": True}}.
    # Python bools, ints, floats, strings and nested dicts map to libconfig values. A
    # group given here replaces the same group of HARNESS_SECTIONS.
    "sections": None,
    # More settings of the server group: {"user": "nobody", "allow_root": True}.
    "server_keys": None,
    "extra": "",  # raw text appended to the file
    # More listen entries, as libconfig text: '{ address = "127.0.0.1"; port = 1234; }'
    # (the test picks their ports, e.g. with free_port()).
    "extra_listeners": (),
}


# Groups every test config gets, if this parleyd knows them (see known_sections):
# hosts stay the plain IP (no cloaking) so replies can be checked exactly.
HARNESS_SECTIONS = {
    "privacy": {"cloak_default": False},
}


# --------------------------------------------------------------------------------------
# Configuration


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def conf_str(value):
    """A libconfig string literal."""
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def conf_bool(value):
    return "true" if value else "false"


def conf_value(value, indent="  "):
    """A Python value as libconfig text: bool, int, float, str, dict (group), list."""
    if isinstance(value, bool):
        return conf_bool(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return conf_group(value, indent)
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(conf_value(v, indent + "  ") for v in value) + ")"
    return conf_str(value)


def conf_group(items, indent="  "):
    """A dict as a libconfig group "{ key = value; ... }"."""
    body = "".join("%s%s = %s;\n" % (indent, k, conf_value(v, indent + "  ")) for k, v in items.items())
    return "{\n" + body + indent[:-2] + "}"


def write_config(path, tls_files=None, port=None, tls_port=None, **settings):
    """Writes a parleyd config to path and returns (text, port, tls_port).

    settings override DEFAULT_SETTINGS (unknown names are an error). tls_files is
    (certificate, key); it is required when settings["tls"] is true. The MOTD text,
    when given, is written next to the config as motd.txt."""
    unknown = set(settings) - set(DEFAULT_SETTINGS)
    if unknown:
        raise TypeError("unknown config settings: %s" % ", ".join(sorted(unknown)))
    s = dict(DEFAULT_SETTINGS, **settings)
    path = Path(path)
    port = port or free_port()
    motd_path = ""
    if s["motd"] is not None:
        motd_file = path.parent / (path.stem + "-motd.txt")
        motd_file.write_text(s["motd"])
        motd_path = str(motd_file)
    listeners = ["  { address = %s; port = %d; }" % (conf_str(HOST), port)]
    tls_section = ""
    if s["tls"]:
        if not tls_files:
            raise ValueError("a TLS listener needs tls_files")
        tls_port = tls_port or free_port()
        listeners.append("  { address = %s; port = %d; tls = true; }" % (conf_str(HOST), tls_port))
        sts = ""
        if s["sts"] is not None:
            sts = "  sts = %s;\n" % conf_group(dict({"port": tls_port}, **s["sts"]), "    ")
        tls_section = "tls = {\n  certificate = %s;\n  key = %s;\n%s};\n" % (
            conf_str(tls_files[0]), conf_str(tls_files[1]), sts)
    else:
        tls_port = None
    listeners.extend("  " + l for l in s["extra_listeners"])
    storage = s["storage"]
    if storage == "default":
        storage = {"backend": "sqlite", "schema_dir": str(ROOT / "sql"),
                   "sqlite": {"path": str(path.parent / (path.stem + ".db"))}}
    sections = {name: value for name, value in HARNESS_SECTIONS.items() if name in known_sections()}
    sections.update(s["sections"] or {})
    if storage is not None:
        sections = dict({"storage": storage}, **sections)
    groups = "".join("%s = %s;\n" % (name, conf_group(value)) for name, value in sections.items())
    text = (
        "server = {\n"
        "  name = %(name)s;\n"
        "  network = %(network)s;\n"
        "  description = %(description)s;\n"
        "  motd = %(motd)s;\n"
        "  password = %(password)s;\n"
        "%(server_keys)s"
        "};\n"
        "admin = {\n"
        "  location = %(loc)s;\n"
        "  location2 = %(loc2)s;\n"
        "  email = %(email)s;\n"
        "};\n"
        "limits = {\n"
        "  nicklen = %(nicklen)d;\n"
        "  registration_timeout = %(regtimeout)d;\n"
        "};\n"
        "log = {\n"
        "  level = %(log_level)s;\n"
        "%(log_more)s"
        "};\n"
        "%(tls)s"
        "listen = (\n%(listeners)s\n);\n"
        "class = (\n"
        "  {\n"
        "    name = \"default\";\n"
        "    sendq = %(sendq)d;\n"
        "    ping_frequency = %(pingfreq)d;\n"
        "    ping_timeout = %(pingtimeout)d;\n"
        "    max_clients = %(maxclients)d;\n"
        "    flood = {\n"
        "      enabled = %(flood)s;\n"
        "      rate = %(rate)r;\n"
        "      burst = %(burst)d;\n"
        "    };\n"
        "  }\n"
        ");\n"
        "%(groups)s"
        "%(extra)s"
    ) % {
        "name": conf_str(s["server_name"]),
        "network": conf_str(s["network"]),
        "description": conf_str(s["description"]),
        "motd": conf_str(motd_path),
        "password": conf_str(s["password"]),
        "server_keys": "".join("  %s = %s;\n" % (k, conf_value(v)) for k, v in (s["server_keys"] or {}).items()),
        "loc": conf_str(s["admin_location"]),
        "loc2": conf_str(s["admin_location2"]),
        "email": conf_str(s["admin_email"]),
        "nicklen": s["nicklen"],
        "regtimeout": s["registration_timeout"],
        "log_level": conf_str(s["log_level"]),
        "log_more": "".join("  %s = %s;\n" % (k, conf_value(v, "    ")) for k, v in (s["log"] or {}).items()),
        "tls": tls_section,
        "listeners": ",\n".join(listeners),
        "sendq": s["sendq"],
        "pingfreq": s["ping_frequency"],
        "pingtimeout": s["ping_timeout"],
        "maxclients": s["max_clients"],
        "flood": conf_bool(s["flood_enabled"]),
        "rate": float(s["flood_rate"]),
        "burst": s["flood_burst"],
        "groups": groups,
        "extra": s["extra"],
    }
    path.write_text(text)
    return text, port, tls_port


_known_sections = None


def known_sections():
    """The names in HARNESS_SECTIONS that this parleyd accepts as top-level groups
    (asked once, with `parleyd -t`), so the harness works across daemon versions."""
    global _known_sections
    if _known_sections is None:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "probe.conf"
            path.write_text('server = { name = "probe.example"; };\n'
                            'listen = ( { address = "127.0.0.1"; port = 1; } );\n'
                            + "".join("%s = {};\n" % name for name in HARNESS_SECTIONS))
            out = check_config(path)
            text = out.stdout + out.stderr
        _known_sections = {name for name in HARNESS_SECTIONS
                           if "unknown setting '%s'" % name not in text}
    return _known_sections


def harness_sections_text():
    """HARNESS_SECTIONS (those this parleyd knows) as libconfig text, for configs a test
    writes by hand."""
    return "".join("%s = %s;\n" % (name, conf_group(HARNESS_SECTIONS[name]))
                   for name in sorted(known_sections()))


def check_config(path, timeout=10):
    """Runs `parleyd -t -f path`; returns the CompletedProcess (text output)."""
    return subprocess.run([PARLEYD, "-t", "-f", str(path)], capture_output=True, text=True,
                          timeout=timeout)


# --------------------------------------------------------------------------------------
# TLS material


def make_self_signed(directory, name, cn="localhost"):
    """Generates a self-signed certificate with `openssl req -x509`; returns (crt, key)."""
    directory = Path(directory)
    crt, key = directory / (name + ".crt"), directory / (name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=" + cn, "-keyout", str(key), "-out", str(crt)],
        check=True, capture_output=True, timeout=60)
    return str(crt), str(key)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """The server's self-signed certificate and key, generated once per session."""
    return make_self_signed(tmp_path_factory.mktemp("tls"), "server")


@pytest.fixture(scope="session")
def client_cert(tmp_path_factory):
    """A self-signed client certificate and key: (crt, key)."""
    return make_self_signed(tmp_path_factory.mktemp("client-tls"), "client", cn="parley-client")


# --------------------------------------------------------------------------------------
# The server process

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: UndefinedBehaviorSanitizer")


class Server:
    """One parleyd process on its own config and ports."""

    def __init__(self, directory, tls_files, **settings):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tls_files = tls_files
        self.settings = dict(DEFAULT_SETTINGS, **settings)
        self.name = self.settings["server_name"]
        self.conf_path = self.dir / "parley.conf"
        self.stderr_path = self.dir / "stderr.log"
        self.proc = None
        self.clients = []
        self._settings = settings
        self.returncode = None
        self.wrapper = []  # a command (and arguments) that runs parleyd, e.g. in a namespace

    # -- lifetime ----------------------------------------------------------------

    def start(self, attempts=3):
        for attempt in range(attempts):
            self.conf_text, self.port, self.tls_port = write_config(
                self.conf_path, self.tls_files, **self._settings)
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(self.wrapper + [PARLEYD, "-f", str(self.conf_path)], cwd=str(self.dir),
                                             stdin=subprocess.DEVNULL, stdout=err, stderr=err)
            if self._wait_ready():
                return self
            # Most likely a port taken between free_port() and bind(): try new ports.
            if "in use" not in self.stderr() or attempt == attempts - 1:
                break
        raise AssertionError("parleyd did not start (status %r); stderr:\n%s"
                             % (self.proc.poll(), self.stderr()))

    def _wait_ready(self, timeout=15):
        """True once the listeners accept; False if the process exited first."""
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.port, self.tls_port) if p]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            text = self.stderr() + self.log()
            if " started (" in text:
                return True
            if self.settings["log_level"] not in ("debug", "info"):
                try:
                    for p in ports:
                        socket.create_connection((HOST, p), timeout=0.5).close()
                    time.sleep(0.05)  # let the daemon see the probes go away
                    return True
                except OSError:
                    pass
            time.sleep(0.005)
        raise AssertionError("parleyd did not become ready within %ss; stderr:\n%s"
                             % (timeout, self.stderr()))

    def stderr(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_path(self):
        """The configured log.file (relative to the config's directory), or None."""
        name = (self.settings["log"] or {}).get("file")
        return None if not name else self.dir / name

    def log(self):
        """The log file's text ("" without one, or when it is not a regular file)."""
        path = self.log_path()
        try:
            return path.read_text(errors="replace") if path and path.is_file() else ""
        except FileNotFoundError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum=signal.SIGTERM):
        self.proc.send_signal(signum)

    def wait_exit(self, timeout=5.0):
        """Waits for the process to exit; asserts it did within timeout. Returns status."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("parleyd did not exit within %ss of SIGTERM; stderr:\n%s"
                                 % (timeout, self.stderr()[-4000:]))
        return self.returncode

    def stop(self, check=True):
        """SIGTERM; asserts exit status 0 within 5 s and a clean stderr (if check)."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit(5.0)
        finally:
            for c in self.clients:
                c.close()
        if check:
            self.assert_clean_exit(rc)

    def assert_clean_exit(self, rc=None):
        rc = self.proc.returncode if rc is None else rc
        err = self.stderr()
        problems = [m for m in SANITIZER_MARKERS if m in err]
        assert not problems, "sanitizer report on parleyd's stderr:\n" + err[-8000:]
        assert rc == 0, "parleyd exited with status %r; stderr:\n%s" % (rc, err[-8000:])

    # -- clients -------------------------------------------------------------------

    def client(self, tls=False, **kwargs):
        """A new connected Client (closed at teardown)."""
        c = Client(self.tls_port if tls else self.port, tls=tls, **kwargs)
        self.clients.append(c)
        return c

    def connect(self, nick, caps=None, tls=False, **kwargs):
        """A new client registered as nick (see Client.register)."""
        c = self.client(tls=tls)
        c.register(nick, caps=caps, **kwargs)
        return c


@pytest.fixture
def make_server(tmp_path, tls_files):
    """Factory: make_server(**settings) starts a server with those DEFAULT_SETTINGS
    overrides. Every server it made is stopped at teardown, asserting a clean exit."""
    servers = []

    def factory(**settings):
        backend = settings.pop("backend", None)  # a Backend: its storage section
        if backend is not None:
            settings["storage"] = backend.storage
        srv = Server(tmp_path / ("server%d" % len(servers)), tls_files, **settings)
        servers.append(srv)
        return srv.start()

    yield factory
    errors = []
    for srv in servers:
        try:
            srv.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n\n".join(errors)


@pytest.fixture
def server(make_server):
    """A running server with the default test settings."""
    return make_server()


# --------------------------------------------------------------------------------------
# Lines


def unescape_tag_value(value):
    """Unescapes an IRCv3 message-tag value."""
    out = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\":
            i += 1
            if i == len(value):
                break  # a trailing lone backslash is dropped
            out.append({":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}.get(value[i], value[i]))
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def escape_tag_value(value):
    return (value.replace("\\", "\\\\").replace(";", "\\:").replace(" ", "\\s")
            .replace("\r", "\\r").replace("\n", "\\n"))


def parse_line(line):
    """Parses an IRC line (without CRLF) into (tags, source, command, params).

    tags maps each key to its unescaped value ("" when the tag has no value);
    source is None when absent."""
    tags = {}
    rest = line
    if rest.startswith("@"):
        tagpart, _, rest = rest[1:].partition(" ")
        for item in tagpart.split(";"):
            if not item:
                continue
            key, eq, value = item.partition("=")
            tags[key] = unescape_tag_value(value) if eq else ""
        rest = rest.lstrip(" ")
    source = None
    if rest.startswith(":"):
        source, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    command, _, rest = rest.partition(" ")
    params = []
    while rest:
        rest = rest.lstrip(" ")
        if not rest:
            break
        if rest.startswith(":"):
            params.append(rest[1:])
            break
        param, _, rest = rest.partition(" ")
        params.append(param)
    return tags, source, command, params


class Line(str):
    """A received line (without CRLF), with its parsed parts as attributes."""

    match = None  # the re.Match when expect() matched a regex

    def _parsed(self):
        p = self.__dict__.get("_p")
        if p is None:
            p = self.__dict__["_p"] = parse_line(self)
        return p

    @property
    def tags(self):
        return self._parsed()[0]

    @property
    def source(self):
        return self._parsed()[1]

    @property
    def command(self):
        return self._parsed()[2]

    @property
    def params(self):
        return self._parsed()[3]

    @property
    def nick(self):
        """The nick part of the source (or the whole source)."""
        return (self.source or "").split("!", 1)[0]


def _matcher(pattern):
    """A predicate from an exact string, a compiled regex (searched) or a callable."""
    if isinstance(pattern, re.Pattern):
        def pred(line):
            m = pattern.search(line)
            if m:
                line.match = m
            return m is not None
        return pred
    if callable(pattern):
        return pattern
    return lambda line: line == pattern


def numeric(num, *params, server=SERVER_NAME):
    """An exact numeric line: numeric("001", "alice", ":Welcome")."""
    return " ".join((":" + server, num) + params)


def check_welcome(lines, nick, user, motd=None, nicklen=30):
    """Asserts the welcome burst of a lone client (the only user on its server), as
    Client.register returns it: exact 001-003, 004's shape, 005's key tokens, the
    LUSERS lines, then 422 (motd None) or the MOTD lines given."""
    S = ":" + SERVER_NAME
    lines = list(lines)
    prefix = "%s!%s@%s" % (nick, user, HOST)
    assert lines[0] == "%s 001 %s :Welcome to the %s IRC Network %s" % (S, nick, NETWORK, prefix)
    assert lines[1] == "%s 002 %s :Your host is %s, running version %s" % (S, nick, SERVER_NAME, VERSION)
    assert re.fullmatch(r"%s 003 %s :This server was created \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
                        % (re.escape(S), re.escape(nick)), lines[2]), lines[2]
    myinfo = re.fullmatch(r"%s 004 %s %s %s ([A-Za-z]+) ([A-Za-z]+) ([A-Za-z]+)"
                          % tuple(map(re.escape, (S, nick, SERVER_NAME, VERSION))), lines[3])
    assert myinfo, lines[3]
    isupport = [l for l in lines if l.command == "005"]
    assert isupport and lines[4:4 + len(isupport)] == isupport
    tokens = {}
    for l in isupport:
        assert l.params[0] == nick and l.params[-1] == "are supported by this server", l
        assert 2 <= len(l.params) <= 15, l
        for tok in l.params[1:-1]:
            k, _, v = tok.partition("=")
            tokens[k] = v
    assert tokens["NETWORK"] == NETWORK
    assert tokens["CASEMAPPING"] == "rfc1459"
    assert tokens["NICKLEN"] == str(nicklen)
    # Every channel mode ISUPPORT announces is in 004's channel mode list, and the ones
    # taking a parameter in its third list.
    if "CHANMODES" in tokens:
        groups = tokens["CHANMODES"].split(",")
        assert set("".join(groups)) <= set(myinfo.group(2)), (tokens["CHANMODES"], lines[3])
        assert set("".join(groups[:3])) <= set(myinfo.group(3)), (tokens["CHANMODES"], lines[3])
    rest = lines[4 + len(isupport):]
    lusers = [
        "%s 251 %s :There are 1 users and 0 invisible on 1 servers" % (S, nick),
        "%s 254 %s 0 :channels formed" % (S, nick),
        "%s 255 %s :I have 1 clients and 0 servers" % (S, nick),
        "%s 265 %s 1 1 :Current local users 1, max 1" % (S, nick),
        "%s 266 %s 1 1 :Current global users 1, max 1" % (S, nick),
    ]
    assert rest[:len(lusers)] == lusers
    rest = rest[len(lusers):]
    if motd is None:
        assert rest == ["%s 422 %s :MOTD File is missing" % (S, nick)]
    else:
        want = ["%s 375 %s :- %s Message of the day - " % (S, nick, SERVER_NAME)]
        want += ["%s 372 %s :- %s" % (S, nick, m) for m in motd]
        want += ["%s 376 %s :End of /MOTD command." % (S, nick)]
        assert rest == want


# --------------------------------------------------------------------------------------
# The client


class Client:
    """A test IRC client. Received lines wait in a queue until a test consumes them:
    expect() takes the first line that matches and leaves the others in order."""

    def __init__(self, port, host=HOST, tls=False, certfile=None, keyfile=None,
                 timeout=TIMEOUT, name=None, sock=None):
        self.port = port
        self.tls = tls
        self.timeout = timeout
        self.name = name or "client:%d" % port
        self.pending = deque()  # received, not yet consumed
        self.history = []  # every line received, for failure messages
        self.buf = b""
        self.eof = False
        self.eof_reason = None
        self.nick = None
        raw = sock or socket.create_connection((host, port), timeout=timeout)
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            if certfile:
                ctx.load_cert_chain(certfile, keyfile)
            raw.settimeout(timeout)
            raw = ctx.wrap_socket(raw, server_hostname="localhost")
        self.sock = raw

    # -- sending -----------------------------------------------------------------------

    def send(self, line):
        """Sends one line; CRLF is added."""
        self.send_raw(line.encode("utf-8", "surrogateescape") + b"\r\n")

    def send_raw(self, data):
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.sock.settimeout(self.timeout)
        self.sock.sendall(data)

    # -- receiving ---------------------------------------------------------------------

    def _fill(self, timeout):
        """Reads once (waiting at most timeout seconds). Returns True if bytes came."""
        if self.eof:
            return False
        try:
            self.sock.settimeout(max(timeout, 0.0001))
            data = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLWantReadError, BlockingIOError):
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self.eof, self.eof_reason = True, repr(e)
            data = b""
        if not data:
            self.eof = True
            self.eof_reason = self.eof_reason or "EOF"
            if self.buf:  # a final line without CRLF
                self._push(self.buf)
                self.buf = b""
            return False
        self.buf += data
        while b"\n" in self.buf:
            raw, self.buf = self.buf.split(b"\n", 1)
            self._push(raw[:-1] if raw.endswith(b"\r") else raw)
        return True

    def _push(self, raw):
        line = Line(raw.decode("utf-8", "surrogateescape"))
        line.raw = raw
        self.pending.append(line)
        self.history.append(line)

    def _describe(self, what, timeout):
        lines = "\n".join("    " + repr(l) for l in self.pending) or "    (none)"
        recent = "\n".join("    " + repr(l) for l in self.history[-30:]) or "    (none)"
        state = " (connection closed: %s)" % self.eof_reason if self.eof else ""
        return ("%s: %s within %.1fs%s.\n  unconsumed lines:\n%s\n  last lines received:\n%s"
                % (self.name, what, timeout, state, lines, recent))

    def _wait(self, pred, timeout, what):
        """Removes and returns the first pending line satisfying pred (reading more as
        needed); fails after timeout or at EOF."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        checked = 0
        while True:
            for i in range(checked, len(self.pending)):
                if pred(self.pending[i]):
                    line = self.pending[i]
                    del self.pending[i]
                    return line
            checked = len(self.pending)
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                raise AssertionError(self._describe("no line " + what, timeout))
            self._fill(left)

    def getline(self, timeout=None):
        """The next received line."""
        return self._wait(lambda l: True, timeout, "at all")

    def expect(self, pattern, timeout=None):
        """Returns (and consumes) the first line equal to pattern (a str), matching it
        (a compiled regex, searched; the match is in line.match) or satisfying it (a
        callable). Lines before it stay queued. Fails listing every line seen."""
        return self._wait(_matcher(pattern), timeout, "matching %r" % (pattern,))

    def expect_next(self, pattern, timeout=None):
        """Like expect, but the match must be the very next line."""
        line = self.getline(timeout)
        if not _matcher(pattern)(line):
            raise AssertionError(self._describe("next line %r does not match %r" % (line, pattern),
                                                self.timeout if timeout is None else timeout))
        return line

    def read_until(self, pattern, timeout=None):
        """Consumes lines up to and including the first that matches pattern (see
        expect); returns them all, the match last."""
        pred = _matcher(pattern)
        out = []
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.getline(max(deadline - time.monotonic(), 0))
            except AssertionError:
                self.pending.extendleft(reversed(out))
                raise AssertionError(self._describe("no line matching %r" % (pattern,), timeout))
            out.append(line)
            if pred(line):
                return out

    def drain(self, duration=0.0):
        """Reads for duration seconds (or what is already there) and returns, consuming,
        everything received."""
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if not self._fill(max(left, 0)) and left <= 0:
                break
            if self.eof:
                break
        out = list(self.pending)
        self.pending.clear()
        return out

    def assert_silent(self, duration=0.3):
        """Asserts nothing is received (or left unconsumed) for duration seconds."""
        deadline = time.monotonic() + duration
        while not self.pending and not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        if self.pending or (self.eof and self.eof_reason):
            raise AssertionError(self._describe("expected silence, got lines or a close", duration))

    def expect_closed(self, timeout=None):
        """Waits until the server closes the connection; returns (consuming) the lines
        still unconsumed when it did."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(self._describe("connection not closed", timeout))
            self._fill(left)
        out = list(self.pending)
        self.pending.clear()
        return out

    def expect_error_close(self, reason, timeout=None):
        """Expects "ERROR :Closing Link: 127.0.0.1 (<reason>)" as the last line, then EOF."""
        lines = self.expect_closed(timeout)
        want = "ERROR :Closing Link: %s (%s)" % (HOST, reason)
        assert lines and lines[-1] == want, self._describe(
            "expected %r as the last line before the close; lines: %r" % (want, lines),
            self.timeout if timeout is None else timeout)
        return lines

    # -- registration ------------------------------------------------------------------

    def cap_ls(self, version="302"):
        """Sends CAP LS [version]; returns {cap: value or None} from the (possibly
        multi-line) reply."""
        self.send("CAP LS %s" % version if version else "CAP LS")
        caps = {}
        while True:
            line = self.expect(lambda l: l.command == "CAP" and len(l.params) >= 3 and l.params[1] == "LS")
            for tok in line.params[-1].split():
                name, eq, value = tok.partition("=")
                caps[name] = value if eq else None
            if not (len(line.params) == 4 and line.params[2] == "*"):
                return caps

    def register(self, nick, caps=None, user=None, realname="Parley Tester", password=None,
                 timeout=None):
        """Registers as nick. With caps (a list, possibly empty) it negotiates first:
        CAP LS 302, CAP REQ (all of caps, must be ACKed), and CAP END after NICK/USER.
        Waits for the end of the MOTD (376) or 422 and returns every line received
        after NICK/USER were sent, the 376/422 last."""
        if caps is not None:
            self.cap_ls()
            if caps:
                self.send("CAP REQ :" + " ".join(caps))
                ack = self.expect(lambda l: l.command == "CAP" and len(l.params) >= 3
                                  and l.params[1] in ("ACK", "NAK"))
                assert ack.params[1] == "ACK" and sorted(ack.params[-1].split()) == sorted(caps), \
                    "CAP REQ %r not acknowledged: %r" % (caps, ack)
        if password is not None:
            self.send("PASS :" + password)
        self.send("NICK " + nick)
        self.send("USER %s 0 * :%s" % (user or nick[:10], realname))
        if caps is not None:
            self.send("CAP END")
        lines = self.read_until(lambda l: l.command in ("376", "422"), timeout)
        assert any(l.command == "001" for l in lines), "no 001 before the end of MOTD: %r" % lines
        self.nick = nick
        return lines

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __repr__(self):
        return "<Client %s>" % self.name


def wait_for(predicate, timeout=TIMEOUT, interval=0.01, what="condition"):
    """Polls predicate until it is true; fails after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# Storage backends: the same tests on SQLite and on a real MariaDB server

import base64  # noqa: E402
import itertools  # noqa: E402
import shutil  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "lib"))
import mariadb_server  # noqa: E402

BACKENDS = ("sqlite", "mariadb")

# Accounts settings for tests: a cheap scrypt (N=1024) so registrations and logins take
# milliseconds even under ASan.
FAST_ACCOUNTS = {"scrypt_n": 1024}


def accounts_section(**overrides):
    """The accounts group for a test config: FAST_ACCOUNTS plus overrides."""
    return dict(FAST_ACCOUNTS, **overrides)


class Backend:
    """The database a test's server uses. name is "sqlite" or "mariadb"; storage is the
    storage group for write_config (what make_server(backend=...) uses); path is the
    SQLite file, or mariadb (the MariaDB) and database its database name."""

    def __init__(self, name, storage, path=None, mariadb=None, database=None):
        self.name = name
        self.storage = storage
        self.path = path
        self.mariadb = mariadb
        self.database = database

    def query(self, sql):
        """Runs sql directly on the database (not through parleyd); returns the rows as
        tuples of strings (None for NULL)."""
        if self.name == "sqlite":
            con = sqlite3.connect(str(self.path), timeout=10)
            try:
                rows = con.execute(sql).fetchall()
                con.commit()
            finally:
                con.close()
            return [tuple(None if v is None else str(v) for v in row) for row in rows]
        out = subprocess.run(
            ["mariadb", "--no-defaults", "-uroot", "--socket=" + self.mariadb.socket, "--batch", "--raw",
             "--default-character-set=utf8mb4",
             "--skip-column-names", "-D", self.database, "-e", sql],
            check=True, capture_output=True, text=True, timeout=30).stdout
        return [tuple(None if v == "NULL" else v for v in line.split("\t"))
                for line in out.splitlines()]

    def __repr__(self):
        return "<Backend %s %s>" % (self.name, self.database or self.path)


def mariadb_storage(mariadb, database):
    """The storage group for database on mariadb, through its UNIX socket."""
    return {"backend": "mariadb", "schema_dir": str(ROOT / "sql"),
            "mariadb": {"socket": mariadb.socket, "user": mariadb_server.USER,
                        "password": mariadb_server.PASSWORD, "database": database}}


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory):
    """A private MariaDB server (its own data directory and socket) for the session.
    Missing mariadbd is an error, not a skip: CI installs it (make deps)."""
    if not mariadb_server.available():
        pytest.fail("mariadbd is not installed; the MariaDB storage tests need it "
                    "(make deps installs mariadb-server)", pytrace=False)
    db = mariadb_server.MariaDB(tmp_path_factory.mktemp("mariadb"))
    try:
        db.start()
        yield db
    finally:
        db.stop()
        shutil.rmtree(db.datadir, ignore_errors=True)  # ~35 MB; mariadbd.log stays


_database_ids = itertools.count(1)


def new_backend(name, directory, mariadb=None):
    """A fresh, empty database of the backend name: a new SQLite file in directory, or a
    new database parley_tN on mariadb."""
    if name == "sqlite":
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "accounts.db"
        return Backend("sqlite", {"backend": "sqlite", "schema_dir": str(ROOT / "sql"),
                                  "sqlite": {"path": str(path)}}, path=path)
    if mariadb.proc is None or mariadb.proc.poll() is not None:
        mariadb.spawn()  # an earlier test killed it and did not get to restart it
    database = mariadb.create_database("parley_t%d" % next(_database_ids))
    return Backend("mariadb", mariadb_storage(mariadb, database), mariadb=mariadb, database=database)


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path):
    """Parametrizes a test over SQLite and MariaDB; a fresh database each time. Use
    make_server(backend=backend, ...)."""
    mariadb = request.getfixturevalue("mariadb") if request.param == "mariadb" else None
    return new_backend(request.param, tmp_path / "backend", mariadb)


@pytest.fixture
def mariadb_backend(mariadb, tmp_path):
    """A fresh MariaDB database, for MariaDB-only tests (failure and recovery)."""
    return new_backend("mariadb", tmp_path / "backend", mariadb)


# SASL


def sasl_plain(account, password, authzid=""):
    """The base64 SASL PLAIN response for account/password."""
    raw = ("%s\0%s\0%s" % (authzid, account, password)).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


def send_sasl_response(client, payload):
    """Sends a base64 response as AUTHENTICATE lines of 400 bytes, with a final
    AUTHENTICATE + when the last chunk is full (or the response empty)."""
    chunks = [payload[i:i + 400] for i in range(0, len(payload), 400)]
    for chunk in chunks:
        client.send("AUTHENTICATE " + chunk)
    if not chunks or len(chunks[-1]) == 400:
        client.send("AUTHENTICATE +")


def authenticate(client, account, password, mechanism="PLAIN"):
    """Runs one SASL exchange (sasl already acknowledged). Consumes the lines up to the
    first 903/904/905/906/907 and returns that one (the 900 before a 903 is consumed)."""
    client.send("AUTHENTICATE " + mechanism)
    client.expect("AUTHENTICATE +")
    if mechanism == "EXTERNAL":
        client.send("AUTHENTICATE +")
    else:
        send_sasl_response(client, sasl_plain(account, password))
    return client.read_until(lambda l: l.command in ("903", "904", "905", "906", "907"))[-1]


# Accounts

NICKSERV = "NickServ!NickServ@services."
_setup_ids = itertools.count(1)


def register_account(server, name, password, email="*", timeout=None):
    """Registers the account name (REGISTER from a short-lived connection whose nick is
    not name, so the nick stays free) and disconnects. timeout: for the REGISTER reply,
    for servers whose password hashing is made slow on purpose."""
    c = server.connect("setup%d" % next(_setup_ids))
    c.send("REGISTER %s %s %s" % (name, email, password))
    c.expect(":%s REGISTER SUCCESS %s :Account successfully registered" % (SERVER_NAME, name), timeout=timeout)
    c.send("QUIT")
    c.expect_closed()
    c.close()
