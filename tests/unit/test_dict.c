/* test_dict.c - unit tests for ircd/dict.c: a casemapped name -> pointer table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dict.h"

static int setup(void **state)
{
	*state = dict_new();
	return *state ? 0 : -1;
}

static int teardown(void **state)
{
	dict_free(*state);
	return 0;
}

static void test_empty(void **state)
{
	struct dict *d = *state;
	assert_int_equal(dict_count(d), 0);
	assert_null(dict_get(d, "nick"));
	assert_null(dict_get(d, ""));
	assert_null(dict_del(d, "nick"));
	assert_int_equal(dict_count(d), 0);
}

static void test_put_get_case_insensitive(void **state)
{
	struct dict *d = *state;
	int alice, bob, chan;
	dict_put(d, "Alice", &alice);
	dict_put(d, "bob[away]", &bob);
	dict_put(d, "#Chan^", &chan);
	assert_int_equal(dict_count(d), 3);

	assert_ptr_equal(dict_get(d, "Alice"), &alice);
	assert_ptr_equal(dict_get(d, "alice"), &alice);
	assert_ptr_equal(dict_get(d, "ALICE"), &alice);
	assert_ptr_equal(dict_get(d, "BOB{AWAY}"), &bob);
	assert_ptr_equal(dict_get(d, "Bob[Away]"), &bob);
	assert_ptr_equal(dict_get(d, "#chan~"), &chan);
	assert_ptr_equal(dict_get(d, "#CHAN^"), &chan);

	assert_null(dict_get(d, "alic"));
	assert_null(dict_get(d, "alicee"));
	assert_null(dict_get(d, "bob(away)"));
	assert_null(dict_get(d, "#chan"));
}

static void test_replace(void **state)
{
	struct dict *d = *state;
	int v1, v2, v3;
	dict_put(d, "Foo", &v1);
	dict_put(d, "FOO", &v2);
	assert_int_equal(dict_count(d), 1);
	assert_ptr_equal(dict_get(d, "foo"), &v2);
	dict_put(d, "foo", &v3);
	assert_int_equal(dict_count(d), 1);
	assert_ptr_equal(dict_get(d, "Foo"), &v3);
	/* one deletion removes it entirely */
	assert_ptr_equal(dict_del(d, "fOO"), &v3);
	assert_int_equal(dict_count(d), 0);
	assert_null(dict_get(d, "foo"));
}

static void test_del(void **state)
{
	struct dict *d = *state;
	int a, b, c;
	dict_put(d, "a[1]", &a);
	dict_put(d, "b", &b);
	dict_put(d, "c", &c);
	assert_ptr_equal(dict_del(d, "A{1}"), &a);
	assert_int_equal(dict_count(d), 2);
	assert_null(dict_get(d, "a[1]"));
	assert_null(dict_del(d, "a[1]"));
	assert_int_equal(dict_count(d), 2);
	assert_null(dict_del(d, "zzz"));
	assert_int_equal(dict_count(d), 2);
	assert_ptr_equal(dict_get(d, "B"), &b);
	assert_ptr_equal(dict_get(d, "C"), &c);
	/* and it can come back */
	dict_put(d, "a[1]", &c);
	assert_ptr_equal(dict_get(d, "a{1}"), &c);
	assert_int_equal(dict_count(d), 3);
}

static void test_name_is_copied(void **state)
{
	struct dict *d = *state;
	int v;
	char name[16];
	strcpy(name, "Transient");
	dict_put(d, name, &v);
	memset(name, 'x', sizeof name - 1);
	assert_ptr_equal(dict_get(d, "transient"), &v);
	assert_null(dict_get(d, name));
}

struct visit {
	int *seen;
	size_t n;
	size_t calls;
};

static void count_visit(void *value, void *arg)
{
	struct visit *v = arg;
	int *p = value;
	v->calls++;
	assert_true(*p >= 0 && (size_t)*p < v->n);
	v->seen[*p]++;
}

#define MANY 10000

static void test_growth_many_entries(void **state)
{
	struct dict *d = *state;
	static int vals[MANY];
	char name[32];
	for (int i = 0; i < MANY; i++) {
		vals[i] = i;
		snprintf(name, sizeof name, "User[%d]", i);
		dict_put(d, name, &vals[i]);
		assert_int_equal(dict_count(d), (size_t)i + 1);
	}
	/* everything is still there after many rehashes, under any case */
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof name, "USER{%d}", i);
		int *p = dict_get(d, name);
		if (p != &vals[i])
			fail_msg("lookup of %s after growth: got %p, expected %p", name, (void *)p, (void *)&vals[i]);
	}
	/* replacing does not add */
	for (int i = 0; i < MANY; i += 3) {
		snprintf(name, sizeof name, "user[%d]", i);
		dict_put(d, name, &vals[i]);
	}
	assert_int_equal(dict_count(d), MANY);

	/* delete the even ones */
	for (int i = 0; i < MANY; i += 2) {
		snprintf(name, sizeof name, "user{%d}", i);
		assert_ptr_equal(dict_del(d, name), &vals[i]);
	}
	assert_int_equal(dict_count(d), MANY / 2);
	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof name, "User[%d]", i);
		if (i % 2)
			assert_ptr_equal(dict_get(d, name), &vals[i]);
		else
			assert_null(dict_get(d, name));
	}

	/* dict_each visits each remaining value exactly once */
	static int seen[MANY];
	memset(seen, 0, sizeof seen);
	struct visit v = {seen, MANY, 0};
	dict_each(d, count_visit, &v);
	assert_int_equal(v.calls, MANY / 2);
	for (int i = 0; i < MANY; i++)
		assert_int_equal(seen[i], i % 2);

	/* delete the rest */
	for (int i = 1; i < MANY; i += 2) {
		snprintf(name, sizeof name, "USER[%d]", i);
		assert_ptr_equal(dict_del(d, name), &vals[i]);
	}
	assert_int_equal(dict_count(d), 0);
	v = (struct visit){NULL, 0, 0};
	dict_each(d, count_visit, &v);
	assert_int_equal(v.calls, 0);
}

static void sum_visit(void *value, void *arg)
{
	*(long *)arg += *(int *)value;
}

static void test_each_passes_arg(void **state)
{
	struct dict *d = *state;
	int vals[] = {1, 20, 300, 4000};
	dict_put(d, "one", &vals[0]);
	dict_put(d, "two", &vals[1]);
	dict_put(d, "three", &vals[2]);
	dict_put(d, "four", &vals[3]);
	dict_put(d, "FOUR", &vals[3]); /* replaced, still once */
	long sum = 0;
	dict_each(d, sum_visit, &sum);
	assert_int_equal(sum, 4321);
}

static void test_free_with_entries(void **state)
{
	(void)state;
	/* freeing a populated table releases the entries (ASan/LSan would report them) */
	struct dict *d = dict_new();
	int v;
	char name[16];
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof name, "n%d", i);
		dict_put(d, name, &v);
	}
	assert_int_equal(dict_count(d), 200);
	dict_free(d);
	dict_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_put_get_case_insensitive, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_replace, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_del, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_name_is_copied, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_growth_many_entries, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_each_passes_arg, setup, teardown),
	    cmocka_unit_test(test_free_with_entries),
	};
	return cmocka_run_group_tests_name("dict", tests, NULL, NULL);
}
