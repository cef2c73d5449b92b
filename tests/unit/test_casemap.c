/* test_casemap.c - unit tests for ircd/casemap.c: the rfc1459 casemapping. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "casemap.h"

/* rfc1459: A-Z fold to a-z, and [ \ ] ^ are the upper-case forms of { | } ~. */
static int expected_lower(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	switch (c) {
	case '[': return '{';
	case '\\': return '|';
	case ']': return '}';
	case '^': return '~';
	default: return c;
	}
}

static void test_table_every_byte(void **state)
{
	(void)state;
	int changed = 0;
	for (int c = 0; c < 256; c++) {
		int got = casemap_lower((unsigned char)c);
		if (got != expected_lower(c))
			fail_msg("casemap_lower(0x%02x '%c') = 0x%02x, expected 0x%02x", c,
			         c >= 32 && c < 127 ? c : '?', got, expected_lower(c));
		assert_int_equal(casemap_table[c], got);
		changed += got != c;
	}
	assert_int_equal(changed, 26 + 4);
}

static void test_table_specials(void **state)
{
	(void)state;
	assert_int_equal(casemap_lower('['), '{');
	assert_int_equal(casemap_lower('\\'), '|');
	assert_int_equal(casemap_lower(']'), '}');
	assert_int_equal(casemap_lower('^'), '~');
	/* the lower-case forms stay */
	assert_int_equal(casemap_lower('{'), '{');
	assert_int_equal(casemap_lower('|'), '|');
	assert_int_equal(casemap_lower('}'), '}');
	assert_int_equal(casemap_lower('~'), '~');
	/* neighbours that are not part of rfc1459 folding */
	assert_int_equal(casemap_lower('@'), '@');
	assert_int_equal(casemap_lower('_'), '_');
	assert_int_equal(casemap_lower('`'), '`');
	assert_int_equal(casemap_lower(0x7f), 0x7f);
	/* no folding of non-ASCII bytes (e.g. Latin-1 or UTF-8 'É') */
	assert_int_equal(casemap_lower(0xc9), 0xc9);
	assert_int_equal(casemap_lower(0xc3), 0xc3);
}

static void test_table_idempotent(void **state)
{
	(void)state;
	for (int c = 0; c < 256; c++)
		assert_int_equal(casemap_lower(casemap_lower((unsigned char)c)), casemap_lower((unsigned char)c));
}

static void test_cmp_equal_names(void **state)
{
	(void)state;
	assert_int_equal(casemap_cmp("", ""), 0);
	assert_int_equal(casemap_cmp("nick", "nick"), 0);
	assert_int_equal(casemap_cmp("NiCk", "nIcK"), 0);
	assert_int_equal(casemap_cmp("Nick[away]", "nick{AWAY}"), 0);
	assert_int_equal(casemap_cmp("a\\b", "A|B"), 0);
	assert_int_equal(casemap_cmp("a^", "A~"), 0);
	assert_int_equal(casemap_cmp("[]\\^", "{}|~"), 0);
	assert_int_equal(casemap_cmp("{}|~", "[]\\^"), 0);
	assert_int_equal(casemap_cmp("#Chan[1]", "#chan{1}"), 0);
}

static void test_cmp_different_names(void **state)
{
	(void)state;
	assert_true(casemap_cmp("a", "b") < 0);
	assert_true(casemap_cmp("B", "a") > 0);
	assert_true(casemap_cmp("abc", "ab") > 0);
	assert_true(casemap_cmp("ab", "ABC") < 0);
	assert_true(casemap_cmp("", "a") < 0);
	assert_true(casemap_cmp("a", "") > 0);
	assert_true(casemap_cmp("nick_", "nick") > 0);
	/* not folded into each other */
	assert_int_not_equal(casemap_cmp("_", "@"), 0);
	assert_int_not_equal(casemap_cmp("a`", "a@"), 0);
	assert_int_not_equal(casemap_cmp("~", "`"), 0);
	/* no Unicode folding: UTF-8 'é' (c3 a9) and 'É' (c3 89) differ */
	assert_int_not_equal(casemap_cmp("\xc3\xa9", "\xc3\x89"), 0);
	/* ordering is by folded byte: '[' compares as '{', above 'z' */
	assert_true(casemap_cmp("[", "z") > 0);
	assert_true(casemap_cmp("Z", "[") < 0);
	/* bytes compare unsigned */
	assert_true(casemap_cmp("\xff", "a") > 0);
	assert_true(casemap_cmp("a", "\x80") < 0);
}

static void test_cmp_antisymmetric(void **state)
{
	(void)state;
	static const char *const names[] = {"", "a", "A", "ab", "AB[", "ab{", "ab|", "Zz", "\xe9", "~", "^x"};
	size_t n = sizeof names / sizeof *names;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int x = casemap_cmp(names[i], names[j]), y = casemap_cmp(names[j], names[i]);
			assert_int_equal(x < 0, y > 0);
			assert_int_equal(x == 0, y == 0);
		}
}

static void test_fold(void **state)
{
	(void)state;
	char out[64];
	casemap_fold(out, "NiCk[\\]^_`@Z", sizeof out);
	assert_string_equal(out, "nick{|}~_`@z");
	casemap_fold(out, "", sizeof out);
	assert_string_equal(out, "");
	casemap_fold(out, "already{lower}", sizeof out);
	assert_string_equal(out, "already{lower}");
	casemap_fold(out, "\xc3\x89T\xc3\x89", sizeof out);
	assert_string_equal(out, "\xc3\x89t\xc3\x89");
}

static void test_fold_truncates(void **state)
{
	(void)state;
	char out[8];
	memset(out, 'X', sizeof out);
	casemap_fold(out, "ABCDEFGHIJ", 4);
	assert_string_equal(out, "abc");
	assert_int_equal(out[4], 'X'); /* nothing written past size */

	memset(out, 'X', sizeof out);
	casemap_fold(out, "ABC", 4); /* exactly fits */
	assert_string_equal(out, "abc");

	memset(out, 'X', sizeof out);
	casemap_fold(out, "ABC", 1);
	assert_int_equal(out[0], '\0');
	assert_int_equal(out[1], 'X');

	memset(out, 'X', sizeof out);
	casemap_fold(out, "ABC", 0);
	assert_int_equal(out[0], 'X'); /* size 0: nothing written */
}

static void test_fold_matches_cmp(void **state)
{
	(void)state;
	static const char *const names[] = {"Alice", "ALICE", "al[ce", "AL{CE", "bob^", "BOB~", "x\\y", "X|Y"};
	size_t n = sizeof names / sizeof *names;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			char a[32], b[32];
			casemap_fold(a, names[i], sizeof a);
			casemap_fold(b, names[j], sizeof b);
			assert_int_equal(strcmp(a, b) == 0, casemap_cmp(names[i], names[j]) == 0);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table_every_byte),
	    cmocka_unit_test(test_table_specials),
	    cmocka_unit_test(test_table_idempotent),
	    cmocka_unit_test(test_cmp_equal_names),
	    cmocka_unit_test(test_cmp_different_names),
	    cmocka_unit_test(test_cmp_antisymmetric),
	    cmocka_unit_test(test_fold),
	    cmocka_unit_test(test_fold_truncates),
	    cmocka_unit_test(test_fold_matches_cmp),
	};
	return cmocka_run_group_tests_name("casemap", tests, NULL, NULL);
}
