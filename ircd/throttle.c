/* throttle.c - counters of attempts per key in a fixed window, bounded in number. */
#include "throttle.h"

#include "dict.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Each table is bounded: entries are kept in order of their window's start, expired ones
 * are dropped from the old end, and when it is full the oldest entry goes (never the
 * whole table). Only slots still held keep an entry, so filling a table takes thousands
 * of failed attempts from many addresses. */
#define THROTTLE_MAX 10000

struct throttle {
	char key[128]; /* kind:address, kind:account or kind:operator name (longer ones are cut) */
	int count;
	time_t start;
	struct throttle *older, *newer;
};

static void throttle_unlink(struct throttle_table *tb, struct throttle *t)
{
	*(t->older ? &t->older->newer : &tb->oldest) = t->newer;
	*(t->newer ? &t->newer->older : &tb->newest) = t->older;
	t->older = t->newer = NULL;
}

static void throttle_append(struct throttle_table *tb, struct throttle *t)
{
	t->older = tb->newest;
	*(tb->newest ? &tb->newest->newer : &tb->oldest) = t;
	tb->newest = t;
}

static void throttle_evict(struct throttle_table *tb, struct throttle *t)
{
	throttle_unlink(tb, t);
	dict_del(tb->entries, t->key);
	free(t);
}

/* Returns the counter of kind:what in its current window, creating it if create. */
static struct throttle *throttle_get(struct throttle_table *tb, const char *kind, const char *what, bool create)
{
	char key[sizeof ((struct throttle *)0)->key];
	snprintf(key, sizeof key, "%s:%s", kind, what);
	if (!tb->entries)
		tb->entries = dict_new();
	time_t now = time(NULL);
	struct throttle *t = dict_get(tb->entries, key);
	if (t && now - t->start >= tb->window) { /* a new window: now the newest */
		t->count = 0;
		t->start = now;
		throttle_unlink(tb, t);
		throttle_append(tb, t);
	}
	if (t || !create)
		return t;
	while (tb->oldest && (now - tb->oldest->start >= tb->window || dict_count(tb->entries) >= THROTTLE_MAX))
		throttle_evict(tb, tb->oldest);
	t = calloc(1, sizeof *t);
	if (!t)
		abort();
	snprintf(t->key, sizeof t->key, "%s", key);
	t->start = now;
	dict_put(tb->entries, t->key, t);
	throttle_append(tb, t);
	return t;
}

time_t throttle_take(struct throttle_table *tb, const char *kind, const char *what, int max)
{
	struct throttle *t = throttle_get(tb, kind, what, true);
	if (t->count >= max) {
		if (t->count == 0) /* max 0: nothing to remember */
			throttle_evict(tb, t);
		return 0;
	}
	t->count++;
	return t->start;
}

void throttle_put_back(struct throttle_table *tb, const char *kind, const char *what, time_t slot)
{
	struct throttle *t = slot ? throttle_get(tb, kind, what, false) : NULL;
	if (!t)
		return;
	if (t->start == slot && t->count > 0)
		t->count--;
	if (t->count == 0)
		throttle_evict(tb, t);
}
