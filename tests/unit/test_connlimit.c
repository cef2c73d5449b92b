/* test_connlimit.c - unit tests for the address matcher of connlimit.exempt: entries and
 * client addresses are compared as addresses (inet_pton), not as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "connlimit.h"

static void test_ipv6_spellings(void **state)
{
	(void)state;
	/* the daemon writes ::1 as 0::1 (a leading ':' would end a reply's parameters) */
	const char *nets[] = {"0::1", "::1", "0:0:0:0:0:0:0:1", "::0001", "::1/128", "::/0", "::1/127"};
	for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
		assert_true(connlimit_net_match(nets[i], "0::1"));
		assert_true(connlimit_net_match(nets[i], "::1"));
	}
	assert_false(connlimit_net_match("::2", "0::1"));
	assert_false(connlimit_net_match("::2/128", "0::1"));
	assert_true(connlimit_net_match("2001:db8::/32", "2001:DB8:0:1::5"));
	assert_false(connlimit_net_match("2001:db8::/32", "2001:db9::5"));
}

static void test_ipv4(void **state)
{
	(void)state;
	assert_true(connlimit_net_match("127.0.0.1", "127.0.0.1"));
	assert_false(connlimit_net_match("127.0.0.1", "127.0.0.2"));
	assert_true(connlimit_net_match("127.0.0.0/8", "127.1.2.3"));
	assert_true(connlimit_net_match("10.1.2.3/0", "192.168.0.1"));
	assert_true(connlimit_net_match("192.168.1.0/23", "192.168.0.200"));
	assert_false(connlimit_net_match("192.168.2.0/23", "192.168.0.200"));
	/* families never match each other */
	assert_false(connlimit_net_match("127.0.0.1", "0::1"));
	assert_false(connlimit_net_match("::/0", "127.0.0.1"));
}

static void test_malformed(void **state)
{
	(void)state;
	const char *bad[] = {"", "/", "::1/", "::1/129", "::1/128x", "::1/-1", "127.0.0.1/33", "127.0.0.1/8/8",
	                     "127.0.0", "localhost", "127.0.0.1 ", "1.2.3.4/ 8", "::1/0128"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_false(connlimit_net_valid(bad[i]));
		assert_false(connlimit_net_match(bad[i], "127.0.0.1"));
		assert_false(connlimit_net_match(bad[i], "0::1"));
	}
	assert_true(connlimit_net_valid("0::1"));
	assert_true(connlimit_net_valid("10.0.0.0/8"));
	assert_false(connlimit_net_match("127.0.0.1", "not-an-address"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv6_spellings),
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("connlimit", tests, NULL, NULL);
}
