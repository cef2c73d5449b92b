"""Connection registration: NICK/USER, CAP negotiation, PASS, nick rules, and the
replies the dispatcher gives (451, 421, 461, 462)."""

import re
import time

import pytest

from conftest import HOST, NETWORK, SERVER_NAME, check_welcome

S = ":" + SERVER_NAME


def test_register_without_cap_no_motd(server):
    c = server.client()
    c.send("NICK alice")
    c.send("USER alice 0 * :Alice Liddell")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    check_welcome(lines, "alice", "alice")
    c.assert_silent(0.1)


def test_register_with_motd(make_server):
    srv = make_server(motd="Welcome to the test.\n\nThird line, after a blank one.\n")
    c = srv.client()
    lines = c.register("bob", user="bobuser")
    check_welcome(lines, "bob", "bobuser",
                  motd=["Welcome to the test.", "", "Third line, after a blank one."])


def test_user_before_nick(server):
    c = server.client()
    c.send("USER carol 0 * :Carol")
    c.assert_silent(0.1)
    c.send("NICK carol")
    c.expect(S + " 001 carol :Welcome to the %s IRC Network carol!carol@%s" % (NETWORK, HOST))
    c.expect(S + " 422 carol :MOTD File is missing")


def test_username_is_truncated_and_cleaned(server):
    c = server.client()
    c.send("NICK dave")
    c.send("USER d@v!e_is_a_long_username 0 * :Dave")
    c.expect(S + " 001 dave :Welcome to the %s IRC Network dave!dve_is_a_l@%s" % (NETWORK, HOST))


def test_registration_waits_for_both_nick_and_user(server):
    c = server.client()
    c.send("NICK erin")
    c.assert_silent(0.2)
    c.send("USER erin 0 * :Erin")
    c.expect(re.compile(r"^:\S+ 001 erin "))


def test_realname_with_spaces_and_middle_params(server):
    c = server.client()
    c.send("NICK frank")
    c.send("USER frank unused unused :Frank the Tester")
    c.expect(re.compile(r"^:\S+ 001 frank "))


# --- CAP ---------------------------------------------------------------------------------


def test_cap_ls_302_lists_caps(server):
    c = server.client()
    caps = c.cap_ls("302")
    for name in ("batch", "cap-notify", "labeled-response"):
        assert name in caps
    for name, value in caps.items():
        assert re.fullmatch(r"[a-z0-9./-]+", name), name


def test_cap_ls_reply_format(server):
    c = server.client()
    c.send("CAP LS 302")
    line = c.expect_next(re.compile(r"^%s CAP \* LS (\* )?:\S" % re.escape(S)))
    assert not line.match.group(1), "a short list fits on one line: %r" % line
    names = line.params[-1].split(" ")
    assert all(names) and len(names) == len(set(names)), "duplicates or empty entries: %r" % line


def test_cap_ls_301_has_no_values(server):
    c = server.client()
    c.send("CAP LS")
    line = c.expect(lambda l: l.command == "CAP")
    assert line.params[:2] == ["*", "LS"]
    assert len(line.params) == 3, "a 301 client gets a single LS line: %r" % line
    for tok in line.params[-1].split():
        assert "=" not in tok, "CAP LS without 302 must not show values: %r" % line


def test_cap_holds_registration_until_end(server):
    c = server.client()
    c.send("CAP LS 302")
    c.expect(lambda l: l.command == "CAP")
    c.send("NICK gina")
    c.send("USER gina 0 * :Gina")
    c.assert_silent(0.3)
    c.send("CAP REQ :batch")
    c.expect(S + " CAP gina ACK :batch")
    c.assert_silent(0.1)
    c.send("CAP LIST")
    # CAP LS 302 enables cap-notify implicitly.
    c.expect(S + " CAP gina LIST :batch cap-notify")
    c.send("CAP END")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    check_welcome(lines, "gina", "gina")


def test_cap_req_alone_holds_registration(server):
    c = server.client()
    c.send("CAP REQ :labeled-response")
    c.expect(S + " CAP * ACK :labeled-response")
    c.send("NICK hank")
    c.send("USER hank 0 * :Hank")
    c.assert_silent(0.3)
    c.send("CAP END")
    c.expect(re.compile(r"^:\S+ 001 hank "))


def test_cap_req_nak_unknown_is_all_or_nothing(server):
    c = server.client()
    c.send("CAP LS 302")
    c.expect(lambda l: l.command == "CAP")
    c.send("CAP REQ :no-such-cap")
    c.expect(S + " CAP * NAK :no-such-cap")
    c.send("CAP REQ :batch no-such-cap")
    c.expect(S + " CAP * NAK :batch no-such-cap")
    c.send("CAP LIST")
    c.expect(S + " CAP * LIST :cap-notify")
    c.send("CAP REQ :batch labeled-response")
    c.expect(S + " CAP * ACK :batch labeled-response")
    c.send("CAP REQ :-batch")
    c.expect(S + " CAP * ACK :-batch")
    c.send("CAP LIST")
    c.expect(S + " CAP * LIST :cap-notify labeled-response")


def test_cap_list_301_has_no_cap_notify(server):
    c = server.client()
    c.send("CAP LS")
    c.expect(lambda l: l.command == "CAP")
    c.send("CAP LIST")
    c.expect(S + " CAP * LIST :")


def test_cap_bad_subcommand_410(server):
    c = server.client()
    c.send("CAP FOO")
    c.expect(S + " 410 * FOO :Invalid CAP command")
    c.register("ivan")
    c.send("CAP BAR baz")
    c.expect(S + " 410 ivan BAR :Invalid CAP command")


def test_cap_without_subcommand_461(server):
    c = server.client()
    c.send("CAP")
    c.expect(S + " 461 * CAP :Not enough parameters")


def test_cap_after_registration(server):
    c = server.connect("judy")
    c.send("CAP LS 302")
    line = c.expect(lambda l: l.command == "CAP")
    assert line.params[:2] == ["judy", "LS"] and "batch" in line.params[-1].split(), line
    c.send("CAP REQ :batch")
    c.expect(S + " CAP judy ACK :batch")
    c.send("CAP END")
    c.send("CAP LIST")
    c.expect(S + " CAP judy LIST :batch cap-notify")
    c.assert_silent(0.1)


def test_register_helper_with_caps(server):
    c = server.client()
    lines = c.register("kate", caps=["batch", "labeled-response"])
    check_welcome(lines, "kate", "kate")


# --- PASS ----------------------------------------------------------------------------------


def test_pass_mismatch(make_server):
    srv = make_server(password="s3cret word")
    c = srv.client()
    c.send("PASS wrong")
    c.send("NICK liam")
    c.send("USER liam 0 * :Liam")
    lines = c.expect_closed()
    assert lines == [S + " 464 liam :Password incorrect",
                     "ERROR :Closing Link: %s (Bad password)" % HOST]


def test_pass_missing(make_server):
    srv = make_server(password="s3cret")
    c = srv.client()
    c.send("NICK mona")
    c.send("USER mona 0 * :Mona")
    lines = c.expect_closed()
    assert lines == [S + " 464 mona :Password incorrect",
                     "ERROR :Closing Link: %s (Bad password)" % HOST]


def test_pass_correct(make_server):
    srv = make_server(password="s3cret word")
    c = srv.client()
    c.send("PASS :s3cret word")
    c.send("NICK ned")
    c.send("USER ned 0 * :Ned")
    c.expect(re.compile(r"^:\S+ 001 ned "))
    c.expect(S + " 422 ned :MOTD File is missing")
    c.send("PASS again")
    c.expect(S + " 462 ned :You may not reregister")


def test_pass_last_one_wins_and_cap_end_checks_it(make_server):
    srv = make_server(password="right")
    c = srv.client()
    c.send("CAP LS 302")
    c.send("PASS wrong")
    c.send("PASS right")
    c.send("NICK olga")
    c.send("USER olga 0 * :Olga")
    c.send("CAP END")
    c.expect(re.compile(r"^:\S+ 001 olga "))


def test_pass_needs_a_parameter(server):
    c = server.client()
    c.send("PASS")
    c.expect(S + " 461 * PASS :Not enough parameters")


# --- NICK ------------------------------------------------------------------------------------


@pytest.mark.parametrize("nick", ["1abc", "-dash", "#chan", "ni!ck", "ni@ck", "ni,ck", "ni.ck",
                                  "ni*ck", "ni?ck", "n\u00e9", "&amp", "a:b", "$x"])
def test_nick_erroneous_432(server, nick):
    c = server.client()
    c.send("NICK " + nick)
    c.expect(S + " 432 * %s :Erroneous nickname" % nick)


def test_nick_length_limit(make_server):
    srv = make_server(nicklen=9)
    c = srv.client()
    c.send("NICK abcdefghij")
    c.expect(S + " 432 * abcdefghij :Erroneous nickname")
    c.send("NICK abcdefghi")
    c.send("USER x 0 * :x")
    c.expect(re.compile(r"^:\S+ 001 abcdefghi "))
    line = c.expect(lambda l: l.command == "005")
    assert "NICKLEN=9" in line.params


def test_nick_special_characters_valid(server):
    c = server.client()
    lines = c.register("[a]`_^{|}\\-9")
    assert lines[0].params[0] == "[a]`_^{|}\\-9"


def test_nick_missing_431(server):
    c = server.client()
    c.send("NICK")
    c.expect(S + " 431 * :No nickname given")
    c.send("NICK :")
    c.expect(S + " 431 * :No nickname given")
    c.register("pam")
    c.send("NICK")
    c.expect(S + " 431 pam :No nickname given")


def test_nick_collision_433_case_insensitive(server):
    a = server.connect("Nick[")
    b = server.client()
    b.send("NICK nick{")
    b.expect(S + " 433 * nick{ :Nickname is already in use")
    b.send("NICK NICK[")
    b.expect(S + " 433 * NICK[ :Nickname is already in use")
    b.send("NICK nick[")
    b.expect(S + " 433 * nick[ :Nickname is already in use")
    b.register("other")
    b.send("NICK nick{")
    b.expect(S + " 433 other nick{ :Nickname is already in use")
    a.assert_silent(0.05)


def test_nick_collision_with_unregistered_reservation(server):
    a = server.client()
    a.send("NICK quinn")
    a.send("PING sync")
    a.expect(S + " PONG %s :sync" % SERVER_NAME)
    b = server.client()
    b.send("NICK Quinn")
    b.expect(S + " 433 * Quinn :Nickname is already in use")


def test_nick_change_echo(server):
    c = server.connect("rita", user="ritau")
    c.send("NICK rose")
    c.expect(":rita!ritau@%s NICK :rose" % HOST)
    # Changing only the case of one's own nick is allowed.
    c.send("NICK ROSE")
    c.expect(":rose!ritau@%s NICK :ROSE" % HOST)
    # The same nick again is a no-op.
    c.send("NICK ROSE")
    c.assert_silent(0.2)
    # The old nick is free again.
    d = server.client()
    d.register("rita")


def test_nick_change_rfc1459_case_of_own_nick(server):
    c = server.connect("Sam[x]", user="sam")
    c.send("NICK sam{x}")
    c.expect(":Sam[x]!sam@%s NICK :sam{x}" % HOST)


def test_nick_change_before_registration_frees_old_nick(server):
    a = server.client()
    a.send("NICK tina")
    a.send("NICK tara")
    a.send("USER tara 0 * :Tara")
    a.expect(re.compile(r"^:\S+ 001 tara "))
    b = server.client()
    b.register("tina")


# --- dispatcher replies --------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["LUSERS", "MOTD", "VERSION", "TIME", "INFO", "ADMIN",
                                     "PRIVMSG someone :hi", "JOIN #chan", "FOOBAR"])
def test_commands_before_registration_451(server, command):
    c = server.client()
    c.send(command)
    c.expect(S + " 451 * :You have not registered")
    c.send("NICK uma")
    c.send(command)
    c.expect(S + " 451 uma :You have not registered")


def test_ping_allowed_before_registration(server):
    c = server.client()
    c.send("PING early")
    c.expect(S + " PONG %s :early" % SERVER_NAME)


def test_unknown_command_421(server):
    c = server.connect("vera")
    c.send("FOOBAR baz :qux")
    c.expect(S + " 421 vera FOOBAR :Unknown command")
    c.send("foobar")
    c.expect(S + " 421 vera foobar :Unknown command")


def test_command_starting_with_at_is_ignored(server):
    # A space before the tags, or a second tag section, leaves a "command" starting with
    # '@': no command, so the line is ignored like tags without a command (no 421).
    c = server.connect("xena")
    c.send(" @label=x PING a")
    c.send("@a=1 @b PING b")
    c.send("PING c")
    c.expect_next(S + " PONG %s :c" % SERVER_NAME)


def test_commands_are_case_insensitive(server):
    c = server.connect("walt")
    c.send("ping lower")
    c.expect(S + " PONG %s :lower" % SERVER_NAME)
    c.send("Lusers")
    c.expect(re.compile(r"^:\S+ 251 walt "))


def test_too_few_params_461(server):
    c = server.client()
    c.send("USER onlyone")
    c.expect(S + " 461 * USER :Not enough parameters")
    c.send("USER a b c")
    c.expect(S + " 461 * USER :Not enough parameters")
    c.register("xena")
    c.send("PING")
    c.expect(S + " 461 xena PING :Not enough parameters")


def test_user_unusable_username_fails(server):
    c = server.client()
    c.send("USER @!@ 0 * :Real")
    c.expect(S + " 468 * :Your username is not valid (ASCII letters and digits only)")
    # The failed USER did not count: a proper one still registers.
    c.send("NICK yuri")
    c.send("USER yuri 0 * :Yuri")
    c.expect(re.compile(r"^:\S+ 001 yuri "))


def test_user_empty_realname_461(server):
    c = server.client()
    c.send("USER noreal 0 * :")
    c.expect(S + " 461 * USER :Not enough parameters")


def test_user_realname_must_be_utf8(server):
    c = server.client()
    c.send_raw(b"USER badreal 0 * :caf\xe9\r\n")
    c.expect(S + " FAIL USER INVALID_REALNAME :Your realname must be valid UTF-8")
    c.send("NICK badreal")
    c.send("USER badreal 0 * :caf\u00e9")
    c.expect(re.compile(r"^:\S+ 001 badreal "))


def test_user_twice_462(server):
    c = server.client()
    c.send("USER zed 0 * :Zed")
    c.send("USER zed2 0 * :Zed")
    c.expect(S + " 462 * :You may not reregister")
    c.send("NICK zed")
    lines = c.read_until(lambda l: l.command in ("376", "422"))
    assert lines[0] == S + " 001 zed :Welcome to the %s IRC Network zed!zed@%s" % (NETWORK, HOST)
    c.send("USER zed 0 * :Zed")
    c.expect(S + " 462 zed :You may not reregister")


# --- QUIT and timeouts ---------------------------------------------------------------------------


def test_quit_with_reason(server):
    c = server.connect("quentin")
    c.send("QUIT :Gone to lunch, back soon")
    c.expect_error_close("Quit: Gone to lunch, back soon")


def test_quit_without_reason(server):
    c = server.connect("quincy")
    c.send("QUIT")
    c.expect_error_close("Quit: ")


def test_quit_before_registration(server):
    c = server.client()
    c.send("NICK early")
    c.send("QUIT :whatever")
    c.expect_error_close("Client Quit")
    # The reserved nick was released.
    server.connect("early")


def test_registration_timeout(make_server):
    srv = make_server(registration_timeout=1)
    start = time.monotonic()
    silent = srv.client()
    half = srv.client()
    half.send("NICK halfway")
    negotiating = srv.client()
    negotiating.send("CAP LS 302")
    negotiating.send("NICK capper")
    negotiating.send("USER capper 0 * :Capper")
    done = srv.client()
    done.register("finished")
    silent.expect_error_close("Registration timed out", timeout=4)
    half.expect_error_close("Registration timed out", timeout=4)
    lines = negotiating.expect_error_close("Registration timed out", timeout=4)
    assert [l.command for l in lines] == ["CAP", "ERROR"], lines
    elapsed = time.monotonic() - start
    assert 0.8 <= elapsed < 3.5, elapsed
    # A registered client is not affected.
    done.send("PING still")
    done.expect(S + " PONG %s :still" % SERVER_NAME)
    # The timed-out client's nick was released.
    srv.connect("halfway")
