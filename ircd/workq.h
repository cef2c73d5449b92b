/* workq.h - worker threads for blocking work (database, password hashing), kept off the
 * event loop. A job runs on a worker thread, then its completion runs on the loop thread.
 * A queue is served by one thread (the storage queue: jobs run in submission order) or by
 * a pool (the crypto queue: jobs run concurrently, so two jobs of one queue must not
 * depend on each other's order; a client has at most one job in flight, its input being
 * held meanwhile, so its replies stay in order).
 * Jobs carry copies of everything they need; a result meant for a client carries the
 * client's id and is dropped when that client is gone. */
#ifndef PARLEY_WORKQ_H
#define PARLEY_WORKQ_H

#include <pthread.h>
#include <stdbool.h>

struct job {
	void (*run)(struct job *j);  /* on the worker thread; may block */
	void (*done)(struct job *j); /* on the loop thread; frees the job */
	struct job *next;
};

#define WORKQ_MAX_THREADS 64

struct workq {
	const char *name;
	int nthreads;                /* threads serving the queue; 0 or 1: one */
	int running;                 /* threads started */
	pthread_t threads[WORKQ_MAX_THREADS];
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct job *head, *tail;
	unsigned len;                /* jobs in the list (under lock) */
	bool stopping, started;
	void (*thread_init)(void);   /* runs first on each worker thread (may be NULL) */
	void (*thread_exit)(void);
};

/* Sets up the loop side (one ev_async for all queues); call once before any start. */
void workq_loop_init(void);

/* Starts q's threads (q->nthreads, at least one, at most WORKQ_MAX_THREADS). */
void workq_start(struct workq *q);

/* Queues j (takes ownership). Never blocks on the work itself. */
void workq_submit(struct workq *q, struct job *j);

/* Stops q after the queued jobs have run and joins its threads; their completions
 * run on the next workq_drain(). */
void workq_stop(struct workq *q);

/* Runs every pending completion on the loop thread (the async callback does this; also
 * called at shutdown). */
void workq_drain(void);

/* Jobs waiting in q, not yet started (takes q's lock briefly). */
unsigned workq_length(struct workq *q);

/* Jobs submitted and not yet completed, across all queues. */
unsigned workq_pending(void);

#endif
