/* metrics.h - the counters the Prometheus endpoint reports. The code where an event
 * happens increments a field here in one line; metrics.c renders them with the gauges it
 * computes from the daemon's state when scraped (clients, channels, held clients), and
 * metrics_http.c serves the text.
 *
 * Counters of the loop thread are plain integers. Those of the storage thread (history
 * writes, the journal) are written with METRICS_ADD / METRICS_SET, relaxed atomics, and
 * read the same way by the loop: each value is whole, and no lock is ever taken. */
#ifndef PARLEY_METRICS_H
#define PARLEY_METRICS_H

#include <stdbool.h>
#include <stddef.h>

enum metrics_relay { METRICS_PRIVMSG, METRICS_NOTICE, METRICS_TAGMSG, METRICS_RELAY_KINDS };
enum metrics_login { METRICS_LOGIN_PLAIN, METRICS_LOGIN_EXTERNAL, METRICS_LOGIN_PASS, METRICS_LOGIN_KINDS };

/* Upper bounds (seconds) of the history write histogram's buckets, and +Inf after them. */
#define METRICS_WRITE_BOUNDS {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5}
#define METRICS_WRITE_BUCKETS 12

struct metrics {
	/* loop thread */
	unsigned long long relayed[METRICS_RELAY_KINDS]; /* messages accepted, per target */
	unsigned long long deliveries;     /* their copies queued to recipients (echoes too) */
	unsigned long long sendq_exceeded; /* clients disconnected for it */
	unsigned long long logins[METRICS_LOGIN_KINDS][2]; /* [mechanism][1: ok, 0: failed] */
	/* storage thread: METRICS_ADD / METRICS_SET only */
	unsigned long long history_rows_written;   /* rows in INSERTs that succeeded */
	unsigned long long history_rows_journaled; /* rows appended to the journal */
	unsigned long long journal_bytes;          /* the journal's size, 0 when there is none */
	unsigned long long write_count[METRICS_WRITE_BUCKETS + 1]; /* per bucket, not cumulative */
	unsigned long long write_ns;               /* sum of the observed durations */
};

extern struct metrics metrics;

#define METRICS_ADD(field, n) __atomic_add_fetch(&metrics.field, (unsigned long long)(n), __ATOMIC_RELAXED)
#define METRICS_SET(field, v) __atomic_store_n(&metrics.field, (unsigned long long)(v), __ATOMIC_RELAXED)

/* CLOCK_MONOTONIC, in nanoseconds: the start of a timed write. Any thread. */
unsigned long long metrics_clock(void);

/* Storage thread: one history write (a batch's transaction) that started at start
 * (metrics_clock) has ended. */
void metrics_write_done(unsigned long long start);

/* The exposition (Prometheus text format 0.0.4) of every metric, as a new string the
 * caller frees; its length in *len. Loop thread; reads /proc/self (no disk). */
char *metrics_render(size_t *len);

#endif
