/* test_parse.c - unit tests for ircd/parse.c: msg_parse, msg_serialize, tag_escape,
 * tag_unescape, msg_tag and utf8_valid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

/* msg_parse works in place and writes a NUL at line[len], so every line gets its own
 * heap copy with exactly one spare byte (ASan then catches any write past it). The
 * copy lives in `current` until the next parse or done(). */
struct parsed {
	char *buf;
	struct msg msg;
	enum parse_result r;
};

/* Test allocations are tracked so that the teardown frees whatever a failing
 * assertion (which longjmps out of the test) left behind: under ASan only real
 * failures are reported, never leaks caused by them. */
static void *tracked[16];
static char *current; /* the line being parsed */

static void *xalloc(size_t n)
{
	for (size_t i = 0; i < sizeof tracked / sizeof *tracked; i++)
		if (!tracked[i]) {
			tracked[i] = malloc(n);
			assert_non_null(tracked[i]);
			return tracked[i];
		}
	fail_msg("too many live test allocations");
	return NULL;
}

static void xfree(void *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < sizeof tracked / sizeof *tracked; i++)
		if (tracked[i] == p) {
			tracked[i] = NULL;
			free(p);
			return;
		}
	fail_msg("freeing an untracked pointer");
}

static int free_tracked(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof tracked / sizeof *tracked; i++) {
		free(tracked[i]);
		tracked[i] = NULL;
	}
	current = NULL;
	return 0;
}

static enum parse_result parse_len(struct parsed *p, const char *line, size_t len)
{
	xfree(current);
	current = p->buf = xalloc(len + 1);
	assert_non_null(p->buf);
	memcpy(p->buf, line, len);
	p->buf[len] = 'X'; /* must be overwritten by the parser's terminator */
	memset(&p->msg, 0, sizeof p->msg);
	p->r = msg_parse(p->buf, len, &p->msg);
	return p->r;
}

static enum parse_result parse(struct parsed *p, const char *line)
{
	return parse_len(p, line, strlen(line));
}

static void done(struct parsed *p)
{
	assert_ptr_equal(p->buf, current);
	xfree(current);
	current = p->buf = NULL;
}

/* A line of n bytes: prefix, then filler 'a' up to n. */
static char *make_line(const char *prefix, size_t n)
{
	size_t pl = strlen(prefix);
	assert_true(n >= pl);
	char *s = xalloc(n + 1);
	assert_non_null(s);
	memcpy(s, prefix, pl);
	memset(s + pl, 'a', n - pl);
	s[n] = '\0';
	return s;
}

/* "@" + tags of total section length n (including '@' and the trailing space). */
static char *make_tags(size_t n)
{
	assert_true(n >= 4);
	char *s = xalloc(n + 1);
	assert_non_null(s);
	s[0] = '@';
	s[1] = 'k';
	s[2] = '=';
	memset(s + 3, 'v', n - 4);
	s[n - 1] = ' ';
	s[n] = '\0';
	return s;
}

static char *concat(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = xalloc(la + lb + 1);
	assert_non_null(s);
	memcpy(s, a, la);
	memcpy(s + la, b, lb + 1);
	return s;
}

/* ---- msg_parse: basic structure ---- */

static void test_parse_command_only(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "PING"), PARSE_OK);
	assert_string_equal(p.msg.command, "PING");
	assert_null(p.msg.source);
	assert_int_equal(p.msg.ntags, 0);
	assert_int_equal(p.msg.nparams, 0);
	done(&p);
}

static void test_parse_command_case_preserved(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "privMsg #chan :hi"), PARSE_OK);
	assert_string_equal(p.msg.command, "privMsg");
	assert_int_equal(p.msg.nparams, 2);
	done(&p);

	assert_int_equal(parse(&p, "nick Alice"), PARSE_OK);
	assert_string_equal(p.msg.command, "nick");
	assert_string_equal(p.msg.params[0], "Alice");
	done(&p);
}

static void test_parse_source(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, ":nick!user@host.example PRIVMSG #chan :hello world"), PARSE_OK);
	assert_non_null(p.msg.source);
	assert_string_equal(p.msg.source, "nick!user@host.example");
	assert_string_equal(p.msg.command, "PRIVMSG");
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[0], "#chan");
	assert_string_equal(p.msg.params[1], "hello world");
	done(&p);

	/* server source, numeric command */
	assert_int_equal(parse(&p, ":irc.example.net 001 alice :Welcome"), PARSE_OK);
	assert_string_equal(p.msg.source, "irc.example.net");
	assert_string_equal(p.msg.command, "001");
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[0], "alice");
	assert_string_equal(p.msg.params[1], "Welcome");
	done(&p);
}

static void test_parse_middle_and_trailing(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "USER guest 0 * :Real Name Here"), PARSE_OK);
	assert_string_equal(p.msg.command, "USER");
	assert_int_equal(p.msg.nparams, 4);
	assert_string_equal(p.msg.params[0], "guest");
	assert_string_equal(p.msg.params[1], "0");
	assert_string_equal(p.msg.params[2], "*");
	assert_string_equal(p.msg.params[3], "Real Name Here");
	done(&p);

	/* last param without ':' */
	assert_int_equal(parse(&p, "MODE #chan +k key"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 3);
	assert_string_equal(p.msg.params[2], "key");
	done(&p);

	/* a ':' inside a middle param is just a byte */
	assert_int_equal(parse(&p, "MODE #chan +k a:b :c"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 4);
	assert_string_equal(p.msg.params[2], "a:b");
	assert_string_equal(p.msg.params[3], "c");
	done(&p);
}

static void test_parse_empty_trailing(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "TOPIC #chan :"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[0], "#chan");
	assert_string_equal(p.msg.params[1], "");
	done(&p);

	assert_int_equal(parse(&p, "AWAY :"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 1);
	assert_string_equal(p.msg.params[0], "");
	done(&p);
}

static void test_parse_trailing_spaces_and_colons(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "PRIVMSG #c :: a :b  c  "), PARSE_OK);
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[1], ": a :b  c  ");
	done(&p);

	assert_int_equal(parse(&p, "PRIVMSG #c ::)"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[1], ":)");
	done(&p);

	assert_int_equal(parse(&p, "PRIVMSG #c :   leading"), PARSE_OK);
	assert_string_equal(p.msg.params[1], "   leading");
	done(&p);
}

static void test_parse_multiple_spaces(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, ":src   PRIVMSG    #chan     :hi  there"), PARSE_OK);
	assert_string_equal(p.msg.source, "src");
	assert_string_equal(p.msg.command, "PRIVMSG");
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[0], "#chan");
	assert_string_equal(p.msg.params[1], "hi  there");
	done(&p);

	/* spaces at the end are separators, not an empty parameter */
	assert_int_equal(parse(&p, "PING  x   "), PARSE_OK);
	assert_string_equal(p.msg.command, "PING");
	assert_int_equal(p.msg.nparams, 1);
	assert_string_equal(p.msg.params[0], "x");
	done(&p);

	assert_int_equal(parse(&p, "QUIT   "), PARSE_OK);
	assert_string_equal(p.msg.command, "QUIT");
	assert_int_equal(p.msg.nparams, 0);
	done(&p);

	assert_int_equal(parse(&p, "@a=1;b   CMD  x"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 2);
	assert_string_equal(p.msg.command, "CMD");
	assert_int_equal(p.msg.nparams, 1);
	assert_string_equal(p.msg.params[0], "x");
	done(&p);
}

static void test_parse_fifteen_params(void **state)
{
	(void)state;
	struct parsed p;
	char num[16];

	assert_int_equal(parse(&p, "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 15);
	for (int i = 0; i < 15; i++) {
		snprintf(num, sizeof num, "%d", i + 1);
		assert_string_equal(p.msg.params[i], num);
	}
	done(&p);

	/* the 15th takes the rest of the line, spaces included */
	assert_int_equal(parse(&p, "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 a b  c :d"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 15);
	assert_string_equal(p.msg.params[13], "14");
	assert_string_equal(p.msg.params[14], "a b  c :d");
	done(&p);

	/* an explicit trailing as the 15th loses its ':' */
	assert_int_equal(parse(&p, "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :x y"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 15);
	assert_string_equal(p.msg.params[14], "x y");
	done(&p);

	/* trailing earlier than 15 */
	assert_int_equal(parse(&p, "CMD 1 2 3 :4 5 6 7 8 9 10 11 12 13 14 15 16"), PARSE_OK);
	assert_int_equal(p.msg.nparams, 4);
	assert_string_equal(p.msg.params[3], "4 5 6 7 8 9 10 11 12 13 14 15 16");
	done(&p);
}

static void test_parse_empty_line(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, ""), PARSE_EMPTY);
	assert_null(p.msg.command);
	done(&p);
}

/* A line of nothing but spaces is blank too; it must never yield PARSE_OK with an
 * empty command. */
static void test_parse_whitespace_only_line(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "   "), PARSE_EMPTY);
	done(&p);
}

/* Leading spaces: either skipped or rejected, but PARSE_OK must never come with an
 * empty command (and "PING" must not turn into a parameter). */
static void test_parse_leading_spaces(void **state)
{
	(void)state;
	struct parsed p;
	if (parse(&p, "  PING x") == PARSE_OK) {
		assert_non_null(p.msg.command);
		assert_string_equal(p.msg.command, "PING");
		assert_int_equal(p.msg.nparams, 1);
		assert_string_equal(p.msg.params[0], "x");
	}
	done(&p);
}

static void test_parse_no_command(void **state)
{
	(void)state;
	struct parsed p;
	static const char *const lines[] = {
	    "@a=b",           /* tags, no space */
	    "@a=b ",          /* tags and a space */
	    "@a=b;c   ",      /* tags and spaces */
	    ":nick!u@h",      /* source, no space */
	    ":nick!u@h ",     /* source and a space */
	    ":nick!u@h    ",  /* source and spaces */
	    "@a=b :nick",     /* tags and source */
	    "@a=b :nick   ",  /* tags, source and spaces */
	    " @a=b PING",     /* a command cannot start with '@' (found by fuzz_parse) */
	    "@a=b @c PING",
	    ":nick @PING",
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		enum parse_result r = parse(&p, lines[i]);
		if (r != PARSE_NO_COMMAND)
			fail_msg("\"%s\": got %d, expected PARSE_NO_COMMAND", lines[i], r);
		done(&p);
	}
}

/* A tag needs a key: "@=x" is dropped (the serializer would write it as "@"), the
 * other tags stay. Found by fuzz_parse. */
static void test_parse_tag_without_key_dropped(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "@=x;a=1;= PING"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 1);
	assert_string_equal(p.msg.tags[0].key, "a");
	assert_string_equal(p.msg.tags[0].value, "1");
	assert_string_equal(p.msg.command, "PING");
	done(&p);
}

static void test_parse_respects_len(void **state)
{
	(void)state;
	struct parsed p;
	/* only len bytes are parsed; what follows is ignored and terminated */
	assert_int_equal(parse_len(&p, "PING xyz\r\nQUIT", 6), PARSE_OK);
	assert_string_equal(p.msg.command, "PING");
	assert_int_equal(p.msg.nparams, 1);
	assert_string_equal(p.msg.params[0], "x");
	done(&p);
}

/* ---- tags ---- */

static void test_parse_tags_with_and_without_values(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "@id=123;flag;empty=;+draft/x=y :nick PRIVMSG #c :hi"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 4);
	assert_string_equal(p.msg.tags[0].key, "id");
	assert_string_equal(p.msg.tags[0].value, "123");
	assert_string_equal(p.msg.tags[1].key, "flag");
	assert_null(p.msg.tags[1].value);
	assert_string_equal(p.msg.tags[2].key, "empty");
	assert_string_equal(p.msg.tags[3].key, "+draft/x");

	assert_string_equal(msg_tag(&p.msg, "id"), "123");
	assert_string_equal(msg_tag(&p.msg, "flag"), "");
	assert_string_equal(msg_tag(&p.msg, "empty"), "");
	assert_string_equal(msg_tag(&p.msg, "+draft/x"), "y");
	assert_null(msg_tag(&p.msg, "missing"));
	assert_null(msg_tag(&p.msg, "ID")); /* tag keys are case-sensitive */
	assert_null(msg_tag(&p.msg, "fla"));

	assert_string_equal(p.msg.source, "nick");
	assert_string_equal(p.msg.command, "PRIVMSG");
	assert_int_equal(p.msg.nparams, 2);
	assert_string_equal(p.msg.params[1], "hi");
	done(&p);
}

static void test_parse_tags_empty_parts_skipped(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "@;a=1;;b; CMD"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 2);
	assert_string_equal(msg_tag(&p.msg, "a"), "1");
	assert_string_equal(msg_tag(&p.msg, "b"), "");
	done(&p);

	assert_int_equal(parse(&p, "@ CMD"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 0);
	assert_string_equal(p.msg.command, "CMD");
	done(&p);
}

static void test_parse_tag_escapes(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "@k=a\\:b\\sc\\\\d\\re\\nf;z=1 CMD"), PARSE_OK);
	assert_string_equal(msg_tag(&p.msg, "k"), "a;b c\\d\re\nf");
	assert_string_equal(msg_tag(&p.msg, "z"), "1");
	done(&p);

	/* unknown escape: the backslash goes, the character stays */
	assert_int_equal(parse(&p, "@k=a\\bc\\x CMD"), PARSE_OK);
	assert_string_equal(msg_tag(&p.msg, "k"), "abcx");
	done(&p);

	/* a trailing lone backslash is dropped */
	assert_int_equal(parse(&p, "@k=abc\\;j=\\ CMD"), PARSE_OK);
	assert_string_equal(msg_tag(&p.msg, "k"), "abc");
	assert_string_equal(msg_tag(&p.msg, "j"), "");
	done(&p);

	/* only the first '=' separates key and value */
	assert_int_equal(parse(&p, "@k=a=b==;e== CMD"), PARSE_OK);
	assert_string_equal(msg_tag(&p.msg, "k"), "a=b==");
	assert_string_equal(msg_tag(&p.msg, "e"), "=");
	done(&p);

	/* an escaped backslash at the end is kept */
	assert_int_equal(parse(&p, "@k=abc\\\\ CMD"), PARSE_OK);
	assert_string_equal(msg_tag(&p.msg, "k"), "abc\\");
	done(&p);
}

static void test_parse_duplicate_tags_last_wins(void **state)
{
	(void)state;
	struct parsed p;
	assert_int_equal(parse(&p, "@a=1;b=2;a=3 CMD"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 2);
	assert_string_equal(msg_tag(&p.msg, "a"), "3");
	assert_string_equal(msg_tag(&p.msg, "b"), "2");
	done(&p);

	/* a later valueless duplicate wins too */
	assert_int_equal(parse(&p, "@a=1;a CMD"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 1);
	assert_string_equal(msg_tag(&p.msg, "a"), "");
	done(&p);

	assert_int_equal(parse(&p, "@a;a=x\\sy CMD"), PARSE_OK);
	assert_int_equal(p.msg.ntags, 1);
	assert_string_equal(msg_tag(&p.msg, "a"), "x y");
	done(&p);
}

static char *many_tags(int n)
{
	char *s = xalloc((size_t)n * 8 + 16);
	assert_non_null(s);
	size_t w = 0;
	s[w++] = '@';
	for (int i = 0; i < n; i++)
		w += (size_t)sprintf(s + w, "%st%d=%d", i ? ";" : "", i, i);
	strcpy(s + w, " CMD");
	return s;
}

static void test_parse_tag_count_limit(void **state)
{
	(void)state;
	struct parsed p;
	char *line = many_tags(MSG_MAX_TAGS);
	assert_int_equal(parse(&p, line), PARSE_OK);
	assert_int_equal(p.msg.ntags, MSG_MAX_TAGS);
	assert_string_equal(msg_tag(&p.msg, "t0"), "0");
	assert_string_equal(msg_tag(&p.msg, "t63"), "63");
	assert_string_equal(p.msg.command, "CMD");
	done(&p);
	xfree(line);

	line = many_tags(MSG_MAX_TAGS + 1);
	assert_int_equal(parse(&p, line), PARSE_BAD_TAGS);
	done(&p);
	xfree(line);
}

/* ---- length limits ---- */

static void test_parse_body_limit(void **state)
{
	(void)state;
	struct parsed p;
	/* 510 bytes + CRLF = 512: accepted */
	char *line = make_line("PRIVMSG #c :", 510);
	assert_int_equal(parse(&p, line), PARSE_OK);
	assert_int_equal(strlen(p.msg.params[1]), 510 - strlen("PRIVMSG #c :"));
	done(&p);
	xfree(line);

	line = make_line("PRIVMSG #c :", 511);
	assert_int_equal(parse(&p, line), PARSE_TOO_LONG);
	done(&p);
	xfree(line);

	/* the source counts as body */
	line = make_line(":nick!user@host PRIVMSG #c :", 510);
	assert_int_equal(parse(&p, line), PARSE_OK);
	done(&p);
	xfree(line);
	line = make_line(":nick!user@host PRIVMSG #c :", 511);
	assert_int_equal(parse(&p, line), PARSE_TOO_LONG);
	done(&p);
	xfree(line);

	/* far too long */
	line = make_line("PRIVMSG #c :", 5000);
	assert_int_equal(parse(&p, line), PARSE_TOO_LONG);
	done(&p);
	xfree(line);
}

static void test_parse_tag_limit(void **state)
{
	(void)state;
	struct parsed p;
	char *body = make_line("PRIVMSG #c :", 510);

	/* 8191-byte tag section (with '@' and the space) and a full 510-byte body */
	char *tags = make_tags(MSG_TAGS_MAX);
	char *line = concat(tags, body);
	assert_int_equal(strlen(line), MSG_TAGS_MAX + 510);
	assert_int_equal(parse(&p, line), PARSE_OK);
	assert_int_equal(p.msg.ntags, 1);
	assert_int_equal(strlen(msg_tag(&p.msg, "k")), MSG_TAGS_MAX - 4);
	assert_string_equal(p.msg.command, "PRIVMSG");
	done(&p);
	xfree(line);
	xfree(tags);

	/* one more tag byte */
	tags = make_tags(MSG_TAGS_MAX + 1);
	line = concat(tags, "PING x");
	assert_int_equal(parse(&p, line), PARSE_TOO_LONG);
	done(&p);
	xfree(line);
	xfree(tags);

	/* tags within their limit do not give the body more room */
	tags = make_tags(100);
	char *body511 = make_line("PRIVMSG #c :", 511);
	line = concat(tags, body511);
	assert_int_equal(parse(&p, line), PARSE_TOO_LONG);
	done(&p);
	xfree(line);
	xfree(body511);
	xfree(tags);

	/* tags without a command: short ones are PARSE_NO_COMMAND (tested above), but
	 * 8192 bytes of tags are over the limit whether a space follows or not */
	tags = make_line("@k=", MSG_TAGS_MAX + 1);
	assert_null(strchr(tags, ' '));
	assert_int_equal(parse(&p, tags), PARSE_TOO_LONG);
	done(&p);
	xfree(tags);

	xfree(body);
}

/* ---- tag_escape / tag_unescape ---- */

static void test_tag_escape(void **state)
{
	(void)state;
	char out[64];
	memset(out, 'Z', sizeof out);
	assert_int_equal(tag_escape("a;b c\\d\re\nf", out, sizeof out), 16);
	assert_string_equal(out, "a\\:b\\sc\\\\d\\re\\nf");

	assert_int_equal(tag_escape("", out, sizeof out), 0);
	assert_string_equal(out, "");

	assert_int_equal(tag_escape("plain-value_1.2", out, sizeof out), 15);
	assert_string_equal(out, "plain-value_1.2");

	/* equals and other bytes pass through */
	assert_int_equal(tag_escape("a=b", out, sizeof out), 3);
	assert_string_equal(out, "a=b");
}

static void test_tag_escape_size(void **state)
{
	(void)state;
	/* "ab" needs 3 bytes with the terminator */
	for (size_t size = 0; size <= 3; size++) {
		char *out = xalloc(size ? size : 1);
		assert_non_null(out);
		int r = tag_escape("ab", out, size);
		if (size < 3)
			assert_int_equal(r, -1);
		else {
			assert_int_equal(r, 2);
			assert_string_equal(out, "ab");
		}
		xfree(out);
	}
	/* "a b" escapes to 4 bytes, needs 5: an escape pair never gets split */
	for (size_t size = 0; size <= 5; size++) {
		char *out = xalloc(size ? size : 1);
		assert_non_null(out);
		int r = tag_escape("a b", out, size);
		if (size < 5)
			assert_int_equal(r, -1);
		else {
			assert_int_equal(r, 4);
			assert_string_equal(out, "a\\sb");
		}
		xfree(out);
	}
}

static void test_tag_unescape(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""},
	    {"plain", "plain"},
	    {"a\\:b", "a;b"},
	    {"a\\sb", "a b"},
	    {"a\\\\b", "a\\b"},
	    {"\\r\\n", "\r\n"},
	    {"\\b\\q", "bq"},      /* unknown escapes drop the backslash */
	    {"end\\", "end"},      /* trailing backslash dropped */
	    {"\\", ""},
	    {"\\\\\\", "\\"},      /* escaped backslash, then a lone one */
	    {"\\\\s", "\\s"},      /* escaped backslash then a plain 's' */
	    {"\\:\\:\\s\\s", ";;  "},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char buf[32];
		strcpy(buf, cases[i].in);
		tag_unescape(buf);
		if (strcmp(buf, cases[i].out) != 0)
			fail_msg("unescape \"%s\": got \"%s\", expected \"%s\"", cases[i].in, buf, cases[i].out);
	}
}

static void test_tag_escape_unescape_inverse(void **state)
{
	(void)state;
	static const char *const values[] = {
	    "", "x", "; ;", "\\", "\\\\s", "a\r\nb", "trailing\\", "sp ace;semi\\back\rcr\nlf", "héllo 😀",
	};
	for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
		char esc[128];
		int n = tag_escape(values[i], esc, sizeof esc);
		assert_true(n >= 0);
		assert_int_equal((size_t)n, strlen(esc));
		assert_null(strchr(esc, ' '));
		assert_null(strchr(esc, ';'));
		assert_null(strchr(esc, '\r'));
		assert_null(strchr(esc, '\n'));
		tag_unescape(esc);
		assert_string_equal(esc, values[i]);
	}
}

/* ---- msg_serialize ---- */

static void test_serialize_basic(void **state)
{
	(void)state;
	char out[512];
	struct msg m = {0};
	m.command = "PRIVMSG";
	m.source = "nick!user@host";
	m.params[0] = "#chan";
	m.params[1] = "hello world";
	m.nparams = 2;
	int n = msg_serialize(&m, out, sizeof out);
	assert_string_equal(out, ":nick!user@host PRIVMSG #chan :hello world\r\n");
	assert_int_equal(n, (int)strlen(out));

	struct msg q = {0};
	q.command = "PING";
	assert_int_equal(msg_serialize(&q, out, sizeof out), 6);
	assert_string_equal(out, "PING\r\n");
}

static void test_serialize_trailing_rules(void **state)
{
	(void)state;
	static const struct {
		const char *last, *want;
	} cases[] = {
	    {"word", "CMD a word\r\n"},
	    {"", "CMD a :\r\n"},
	    {"two words", "CMD a :two words\r\n"},
	    {":colon", "CMD a ::colon\r\n"},
	    {"mid:colon", "CMD a mid:colon\r\n"},
	    {" lead", "CMD a : lead\r\n"},
	    {"trail ", "CMD a :trail \r\n"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char out[128];
		struct msg m = {0};
		m.command = "CMD";
		m.params[0] = "a";
		m.params[1] = cases[i].last;
		m.nparams = 2;
		assert_int_equal(msg_serialize(&m, out, sizeof out), (int)strlen(cases[i].want));
		assert_string_equal(out, cases[i].want);
	}
}

static void test_serialize_tags(void **state)
{
	(void)state;
	char out[256];
	struct msg m = {0};
	m.tags[0] = (struct msg_tag){"time", "2024-01-01T00:00:00.000Z"};
	m.tags[1] = (struct msg_tag){"flag", NULL};
	m.tags[2] = (struct msg_tag){"empty", ""};
	m.tags[3] = (struct msg_tag){"+x/y", "a;b c\\d\r\n"};
	m.ntags = 4;
	m.command = "TAGMSG";
	m.params[0] = "#c";
	m.nparams = 1;
	int n = msg_serialize(&m, out, sizeof out);
	assert_string_equal(out,
	                    "@time=2024-01-01T00:00:00.000Z;flag;empty;+x/y=a\\:b\\sc\\\\d\\r\\n TAGMSG #c\r\n");
	assert_int_equal(n, (int)strlen(out));
}

/* For every buffer size smaller than needed the serializer fails without writing past
 * the buffer; at exactly length + 1 it succeeds. */
static void check_serialize_sizes(const struct msg *m, const char *want)
{
	size_t need = strlen(want) + 1;
	for (size_t size = 0; size <= need + 1; size++) {
		char *out = xalloc(size ? size : 1);
		assert_non_null(out);
		int n = msg_serialize(m, out, size);
		if (size < need) {
			if (n != -1)
				fail_msg("size %zu: got %d, expected -1", size, n);
		} else {
			assert_int_equal(n, (int)strlen(want));
			assert_memory_equal(out, want, need);
		}
		xfree(out);
	}
}

static void test_serialize_out_of_space(void **state)
{
	(void)state;
	struct msg m = {0};
	m.tags[0] = (struct msg_tag){"a", "x y"};
	m.tags[1] = (struct msg_tag){"b", NULL};
	m.ntags = 2;
	m.source = "srv.example";
	m.command = "NOTICE";
	m.params[0] = "*";
	m.params[1] = "some text";
	m.nparams = 2;
	check_serialize_sizes(&m, "@a=x\\sy;b :srv.example NOTICE * :some text\r\n");

	struct msg q = {0};
	q.command = "PING";
	q.params[0] = "";
	q.nparams = 1;
	check_serialize_sizes(&q, "PING :\r\n");
}

/* ---- round trips ---- */

static void test_roundtrip_canonical_lines(void **state)
{
	(void)state;
	static const char *const lines[] = {
	    "PING",
	    "PING token",
	    "PING :",
	    "privmsg #chan :lower case command",
	    ":irc.example.net 001 alice :Welcome to the network alice!a@b",
	    ":nick!user@host PRIVMSG #chan :hello world",
	    ":nick!user@host PRIVMSG #chan ::-) smile",
	    "USER guest 0 * :Real Name",
	    "MODE #chan +ov alice bob",
	    "@id=42;flag :n!u@h PRIVMSG #c :x y",
	    "@id=42;flag :n!u@h PRIVMSG #c x",
	    "@+draft/reply=abc;time=2024-01-01T00:00:00.000Z TAGMSG #c",
	    "@k=a\\:b\\sc\\\\d\\re\\nf CMD",
	    "@a;b;c CMD p1 p2 :p3 p4",
	    "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15",
	    "CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 :15 16",
	    ":s 005 n CASEMAPPING=rfc1459 NICKLEN=30 :are supported by this server",
	};
	for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
		struct parsed p;
		assert_int_equal(parse(&p, lines[i]), PARSE_OK);
		char out[1024];
		int n = msg_serialize(&p.msg, out, sizeof out);
		char want[1024];
		snprintf(want, sizeof want, "%s\r\n", lines[i]);
		if (n < 0 || strcmp(out, want) != 0)
			fail_msg("round trip of \"%s\": got \"%s\" (%d)", lines[i], n < 0 ? "" : out, n);
		assert_int_equal(n, (int)strlen(want));
		done(&p);
	}
}

static void assert_msg_equal(const struct msg *a, const struct msg *b)
{
	assert_int_equal(a->ntags, b->ntags);
	for (int i = 0; i < a->ntags; i++) {
		const char *va = msg_tag(a, a->tags[i].key);
		const char *vb = msg_tag(b, a->tags[i].key);
		assert_non_null(vb);
		assert_string_equal(va, vb);
	}
	if (a->source || b->source) {
		assert_non_null(a->source);
		assert_non_null(b->source);
		assert_string_equal(a->source, b->source);
	}
	assert_string_equal(a->command, b->command);
	assert_int_equal(a->nparams, b->nparams);
	for (int i = 0; i < a->nparams; i++)
		assert_string_equal(a->params[i], b->params[i]);
}

static void roundtrip_msg(const struct msg *m)
{
	char out[MSG_LINE_MAX + 3];
	int n = msg_serialize(m, out, sizeof out);
	assert_true(n >= 2);
	assert_int_equal((size_t)n, strlen(out));
	assert_memory_equal(out + n - 2, "\r\n", 2);
	struct parsed p;
	assert_int_equal(parse_len(&p, out, (size_t)n - 2), PARSE_OK);
	assert_msg_equal(m, &p.msg);
	done(&p);
}

static void test_roundtrip_built_messages(void **state)
{
	(void)state;
	static const char *const lasts[] = {
	    "x", "", ":", "::", ":starts", "has space", " ", "  two  ", "a:b", "end:", "tab\there",
	};
	for (size_t i = 0; i < sizeof lasts / sizeof *lasts; i++) {
		struct msg m = {0};
		m.source = "nick!user@host";
		m.command = "PRIVMSG";
		m.params[0] = "#chan";
		m.params[1] = lasts[i];
		m.nparams = 2;
		roundtrip_msg(&m);

		/* the same value as the only parameter */
		struct msg q = {0};
		q.command = "AWAY";
		q.params[0] = lasts[i];
		q.nparams = 1;
		roundtrip_msg(&q);
	}

	/* tags with values needing every escape, valueless tags */
	struct msg t = {0};
	t.tags[0] = (struct msg_tag){"a", "semi;colon"};
	t.tags[1] = (struct msg_tag){"b", "sp ace"};
	t.tags[2] = (struct msg_tag){"c", "back\\slash"};
	t.tags[3] = (struct msg_tag){"d", "cr\rlf\n"};
	t.tags[4] = (struct msg_tag){"e", NULL};
	t.tags[5] = (struct msg_tag){"+vendor.example/f", "\\s literally"};
	t.tags[6] = (struct msg_tag){"g", "trailing\\"};
	t.ntags = 7;
	t.command = "TAGMSG";
	t.params[0] = "#c";
	t.nparams = 1;
	roundtrip_msg(&t);

	/* all 15 parameters, the last with spaces */
	struct msg f = {0};
	static const char *const ps[15] = {"1", "2", "3", "4", "5", "6", "7", "8",
	                                   "9", "10", "11", "12", "13", "14", "last one"};
	f.command = "CMD";
	for (int i = 0; i < 15; i++)
		f.params[i] = ps[i];
	f.nparams = 15;
	roundtrip_msg(&f);

	/* no params, no source, no tags */
	struct msg z = {0};
	z.command = "QUIT";
	roundtrip_msg(&z);
}

/* ---- utf8_valid ---- */

static bool valid(const char *s) { return utf8_valid(s, strlen(s)); }

static void test_utf8_valid_sequences(void **state)
{
	(void)state;
	assert_true(utf8_valid("", 0));
	assert_true(valid("plain ASCII text ~!@#"));
	assert_true(valid("\x7f"));
	assert_true(valid("h\xc3\xa9llo"));            /* U+00E9 */
	assert_true(valid("\xc2\x80"));                /* U+0080, smallest 2-byte */
	assert_true(valid("\xdf\xbf"));                /* U+07FF */
	assert_true(valid("\xe0\xa0\x80"));            /* U+0800, smallest 3-byte */
	assert_true(valid("\xe2\x82\xac"));            /* U+20AC euro */
	assert_true(valid("\xed\x9f\xbf"));            /* U+D7FF, just below surrogates */
	assert_true(valid("\xee\x80\x80"));            /* U+E000, just above */
	assert_true(valid("\xef\xbf\xbf"));            /* U+FFFF */
	assert_true(valid("\xf0\x9f\x98\x80"));        /* U+1F600 grinning face */
	assert_true(valid("smile \xf0\x9f\x98\x80!")); /* mixed */
	assert_true(valid("\xf0\x90\x80\x80"));        /* U+10000 */
	assert_true(valid("\xf4\x8f\xbf\xbf"));        /* U+10FFFF, the last one */
	/* an embedded NUL is a valid (ASCII) byte when len says so */
	assert_true(utf8_valid("a\0b", 3));
}

static void test_utf8_invalid_sequences(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "\x80",                 /* lone continuation */
	    "a\xbf" "b",            /* continuation in the middle */
	    "\xc0\x80",             /* overlong NUL */
	    "\xc0\xaf",             /* overlong '/' */
	    "\xc1\xbf",             /* overlong U+007F */
	    "\xe0\x80\xaf",         /* overlong 3-byte '/' */
	    "\xe0\x9f\xbf",         /* overlong U+07FF */
	    "\xf0\x80\x80\xaf",     /* overlong 4-byte '/' */
	    "\xf0\x8f\xbf\xbf",     /* overlong U+FFFF */
	    "\xed\xa0\x80",         /* U+D800 high surrogate */
	    "\xed\xbf\xbf",         /* U+DFFF low surrogate */
	    "\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 surrogate pair for U+1F600 */
	    "\xf4\x90\x80\x80",     /* U+110000 */
	    "\xf7\xbf\xbf\xbf",     /* U+1FFFFF */
	    "\xf8\x88\x80\x80\x80", /* 5-byte form */
	    "\xfc\x84\x80\x80\x80\x80", /* 6-byte form */
	    "\xfe",
	    "\xff",
	    "\xc3",                 /* truncated 2-byte */
	    "\xe2\x82",             /* truncated 3-byte */
	    "\xf0\x9f\x98",         /* truncated 4-byte */
	    "\xf0\x9f",
	    "x\xf0",
	    "\xc3" "a",             /* continuation missing */
	    "\xe2\x28\xa1",         /* bad second byte */
	    "\xe2\x82\x28",         /* bad third byte */
	    "\xf0\x9f\x98\x28",     /* bad fourth byte */
	    "ok \xf0\x9f\x98\x80 then \xc0\x80", /* bad after good */
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (valid(bad[i]))
			fail_msg("case %zu accepted as valid UTF-8", i);
}

static void test_utf8_len_respected(void **state)
{
	(void)state;
	/* a valid 4-byte sequence cut by len is truncated */
	const char *s = "\xf0\x9f\x98\x80";
	assert_true(utf8_valid(s, 4));
	assert_false(utf8_valid(s, 3));
	assert_false(utf8_valid(s, 1));
	assert_true(utf8_valid(s, 0));
	/* bytes after len are not looked at */
	assert_true(utf8_valid("ab\xff", 2));
}

/* str_copy always terminates and stops at the buffer; str_put never writes past cap. */
static void test_str_copy_and_put(void **state)
{
	(void)state;
	char small[4];
	assert_int_equal(str_copy(small, sizeof small, "ab"), 2);
	assert_string_equal(small, "ab");
	assert_int_equal(str_copy(small, sizeof small, "abcdef"), 3);
	assert_string_equal(small, "abc");
	char buf[8];
	memset(buf, 'x', sizeof buf);
	size_t n = str_put(buf, 6, 0, ":a");
	n = str_put(buf, 6, n, " b");
	assert_int_equal(n, 4);
	n = str_put(buf, 6, n, "cdef");
	assert_int_equal(n, 6);
	assert_memory_equal(buf, ":a bcdxx", 8);
	assert_int_equal(str_put(buf, 6, n, "z"), 6);
	assert_int_equal(buf[6], 'x');
}

int main(void)
{
#define T(fn) cmocka_unit_test_teardown(fn, free_tracked)
	const struct CMUnitTest tests[] = {
	    T(test_parse_command_only),
	    T(test_parse_command_case_preserved),
	    T(test_parse_source),
	    T(test_parse_middle_and_trailing),
	    T(test_parse_empty_trailing),
	    T(test_parse_trailing_spaces_and_colons),
	    T(test_parse_multiple_spaces),
	    T(test_parse_fifteen_params),
	    T(test_parse_empty_line),
	    T(test_parse_whitespace_only_line),
	    T(test_parse_leading_spaces),
	    T(test_parse_no_command),
	    T(test_parse_tag_without_key_dropped),
	    T(test_parse_respects_len),
	    T(test_parse_tags_with_and_without_values),
	    T(test_parse_tags_empty_parts_skipped),
	    T(test_parse_tag_escapes),
	    T(test_parse_duplicate_tags_last_wins),
	    T(test_parse_tag_count_limit),
	    T(test_parse_body_limit),
	    T(test_parse_tag_limit),
	    T(test_tag_escape),
	    T(test_tag_escape_size),
	    T(test_tag_unescape),
	    T(test_tag_escape_unescape_inverse),
	    T(test_serialize_basic),
	    T(test_serialize_trailing_rules),
	    T(test_serialize_tags),
	    T(test_serialize_out_of_space),
	    T(test_roundtrip_canonical_lines),
	    T(test_roundtrip_built_messages),
	    T(test_utf8_valid_sequences),
	    T(test_utf8_invalid_sequences),
	    T(test_utf8_len_respected),
	    T(test_str_copy_and_put),
	};
	return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
