"""IRCv3 Strict Transport Security (issue 14): the `sts` capability, configured in
`tls.sts`. A plaintext listener advertises where TLS is (`sts=port=P`, never a
duration: a policy is only to be trusted from a secure connection); a TLS listener
advertises how long to keep the policy (`sts=duration=D`, `preload` when set). Values
show only to CAP LS 302 clients; the capability cannot be requested. duration 0
withdraws the policy: TLS clients are told so and plaintext clients are no longer sent
away. The port must be one of the server's TLS listeners."""

from conftest import SERVER_NAME, check_config, free_port, write_config
from operutil import oper_up, operators_text, oper_sections, quiet

S = ":" + SERVER_NAME

# Every capability this server lists, in its order, as a CAP LS 302 client sees them
# (sts goes between standard-replies and userhost-in-names).
BEFORE_STS = ("account-notify account-tag away-notify batch cap-notify chghost draft/chathistory "
              "draft/message-edit draft/message-redaction draft/read-marker "
              "draft/account-registration=before-connect,custom-account-name echo-message "
              "extended-join extended-monitor invite-notify labeled-response message-tags "
              "multi-prefix sasl=PLAIN,EXTERNAL,SCRAM-SHA-256 server-time setname soju.im/search standard-replies")
AFTER_STS = "userhost-in-names znc.in/self-message"


def ls_302(value):
    sts = "sts=" + value if value else None
    return "%s CAP * LS :%s" % (S, " ".join(x for x in (BEFORE_STS, sts, AFTER_STS) if x))


def ls_301(with_sts):
    names = [t.partition("=")[0] for t in BEFORE_STS.split()] + (["sts"] if with_sts else []) + [AFTER_STS]
    return "%s CAP * LS :%s" % (S, " ".join(names))


def test_sts_cap_ls_on_plain_and_tls(make_server):
    srv = make_server(sts={"duration": 2592000})
    plain = srv.client()
    plain.send("CAP LS 302")
    plain.expect_next(ls_302("port=%d" % srv.tls_port))
    secure = srv.client(tls=True)
    secure.send("CAP LS 302")
    secure.expect_next(ls_302("duration=2592000"))


def test_sts_preload_on_tls_only(make_server):
    srv = make_server(sts={"duration": 86400, "preload": True})
    secure = srv.client(tls=True)
    secure.send("CAP LS 302")
    secure.expect_next(ls_302("duration=86400,preload"))
    plain = srv.client()
    plain.send("CAP LS 302")
    plain.expect_next(ls_302("port=%d" % srv.tls_port))


def test_sts_without_302_has_no_value(make_server):
    srv = make_server(sts={"duration": 2592000})
    for tls in (False, True):
        c = srv.client(tls=tls)
        c.send("CAP LS")
        c.expect_next(ls_301(True))


def test_sts_cannot_be_requested(make_server):
    srv = make_server(sts={"duration": 2592000})
    for tls in (False, True):
        c = srv.client(tls=tls)
        c.send("CAP LS 302")
        c.expect_next(lambda l: l.command == "CAP")
        c.send("CAP REQ :sts")
        c.expect_next(S + " CAP * NAK :sts")
        c.send("CAP REQ :batch sts")
        c.expect_next(S + " CAP * NAK :batch sts")
        c.send("CAP LIST")
        c.expect_next(S + " CAP * LIST :cap-notify")


def test_no_sts_without_config(make_server):
    srv = make_server()
    for tls in (False, True):
        c = srv.client(tls=tls)
        c.send("CAP LS 302")
        c.expect_next(ls_302(None))
        c.send("CAP REQ :sts")
        c.expect_next(S + " CAP * NAK :sts")


def test_sts_duration_zero_withdraws_the_policy(make_server):
    srv = make_server(sts={"duration": 0})
    secure = srv.client(tls=True)
    secure.send("CAP LS 302")
    secure.expect_next(ls_302("duration=0"))
    plain = srv.client()
    plain.send("CAP LS 302")
    plain.expect_next(ls_302(None))


def rehash(root, srv, old, new):
    text = srv.conf_path.read_text()
    assert old in text
    srv.conf_path.write_text(text.replace(old, new))
    root.send("REHASH")
    root.expect(lambda l: l.command == "382")
    root.expect(lambda l: "is rehashing the server configuration" in l)


def test_sts_rehash_changes_duration(make_server):
    srv = make_server(sts={"duration": 2592000}, sections=oper_sections(), extra=operators_text())
    root = srv.connect("root")
    oper_up(root)
    # registered clients with cap-notify (CAP LS 302), on each listener
    plain = srv.connect("plain", caps=[])
    secure = srv.connect("secure", caps=[], tls=True)
    rehash(root, srv, "duration = 2592000;", "duration = 600;\n    preload = true;")
    # cap-notify: the TLS client learns the new policy; the plaintext one's (the port) is
    # unchanged, so it gets nothing
    secure.expect_next(S + " CAP secure NEW :sts=duration=600,preload")
    quiet(plain, secure)
    # new connections get the new values
    c = srv.client(tls=True)
    c.send("CAP LS 302")
    c.expect_next(ls_302("duration=600,preload"))
    c = srv.client()
    c.send("CAP LS 302")
    c.expect_next(ls_302("port=%d" % srv.tls_port))
    # duration 0 withdraws the policy: TLS clients are told so, plaintext ones lose sts
    rehash(root, srv, "duration = 600;", "duration = 0;")
    secure.expect_next(S + " CAP secure NEW :sts=duration=0,preload")
    plain.expect_next(S + " CAP plain DEL :sts")
    quiet(plain, secure)
    c = srv.client()
    c.send("CAP LS 302")
    c.expect_next(ls_302(None))


def test_sts_port_must_be_a_tls_listener(tmp_path, tls_files):
    path = tmp_path / "parley.conf"
    # the plaintext listener's port
    _, port, tls_port = write_config(path, tls_files, port=free_port(), sts={"duration": 60})
    text = path.read_text().replace("port = %d;\n    duration" % tls_port, "port = %d;\n    duration" % port)
    path.write_text(text)
    out = check_config(path)
    assert out.returncode != 0
    line = [l for l in text.splitlines()].index("  sts = {") + 2
    assert "%s:%d: tls.sts.port %d is not the port of a TLS listener\n" % (path, line, port) in out.stdout + out.stderr
    # no port at all
    path.write_text(text.replace("    port = %d;\n" % port, ""))
    out = check_config(path)
    assert out.returncode != 0 and "tls.sts: 'port' is required" in out.stdout + out.stderr
    # an unknown key in the group
    path.write_text(text.replace("port = %d;" % port, "port = %d; max_age = 5;" % tls_port))
    out = check_config(path)
    assert out.returncode != 0 and "tls.sts: unknown setting 'max_age'" in out.stdout + out.stderr
    # the TLS port is fine
    path.write_text(text.replace("port = %d;\n    duration" % port, "port = %d;\n    duration" % tls_port))
    out = check_config(path)
    assert out.returncode == 0, out
