/* throttle.h - bounded counters of attempts per key in a fixed window (failed logins,
 * registrations, failed OPER attempts). Loop thread only. An attempt takes a slot when it
 * is submitted, before its job reaches another thread, so attempts in flight count:
 * parallel attempts cannot all pass the check before the first failure is known. The
 * caller gives the slot back when the outcome does not count (a right password). */
#ifndef PARLEY_THROTTLE_H
#define PARLEY_THROTTLE_H

#include <time.h>

struct throttle;

/* One table of counters; define it statically with its window:
 * static struct throttle_table t = {.window = 60}; */
struct throttle_table {
	int window; /* seconds */
	struct dict *entries;
	struct throttle *oldest, *newest;
};

/* Takes a slot of kind:what if fewer than max are held; returns the window it was taken
 * in (to give it back), or 0, taking nothing, when they are used up. */
time_t throttle_take(struct throttle_table *tb, const char *kind, const char *what, int max);

/* Gives back a slot taken in the window started at slot (0: none); a counter left at
 * zero is dropped. */
void throttle_put_back(struct throttle_table *tb, const char *kind, const char *what, time_t slot);

#endif
