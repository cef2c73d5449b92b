/* workq.c - job queues served by one thread or a pool of threads each, and a single completion list drained
 * on the loop through one ev_async (libev's "queueing" pattern: the async watcher may
 * coalesce many sends, so the callback always drains the whole list). */
#include "workq.h"

#include <ev.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static struct job *done_head, *done_tail;
static ev_async done_async;
static unsigned pending;

void workq_drain(void)
{
	pthread_mutex_lock(&done_lock);
	struct job *j = done_head;
	done_head = done_tail = NULL;
	pthread_mutex_unlock(&done_lock);
	while (j) {
		struct job *next = j->next;
		pending--;
		j->done(j);
		j = next;
	}
}

static void async_cb(EV_P_ ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	workq_drain();
}

void workq_loop_init(void)
{
	ev_async_init(&done_async, async_cb);
	ev_async_start(EV_DEFAULT, &done_async);
	/* the async watcher alone must not keep the loop alive at shutdown */
	ev_unref(EV_DEFAULT);
}

static void *worker(void *arg)
{
	struct workq *q = arg;
	/* Queue work (history writes, password hashing) is throughput work: as SCHED_BATCH it
	 * keeps its fair share of the CPU (so the history writer keeps up under a saturating
	 * load; a lower priority, nice 10, made it fall behind and spill in one benchmark run
	 * of four) but does not preempt the loop when it wakes. */
#ifdef SCHED_BATCH
	struct sched_param normal = {0};
	sched_setscheduler(0, SCHED_BATCH, &normal);
#endif
	/* named for ps/top and the tests that count a pool's threads (15 bytes at most) */
	pthread_setname_np(pthread_self(), q->name);
	if (q->thread_init)
		q->thread_init();
	for (;;) {
		pthread_mutex_lock(&q->lock);
		while (!q->head && !q->stopping)
			pthread_cond_wait(&q->wake, &q->lock);
		struct job *j = q->head;
		if (j) {
			q->head = j->next;
			q->len--;
			if (!q->head)
				q->tail = NULL;
		}
		pthread_mutex_unlock(&q->lock);
		if (!j)
			break; /* stopping and empty */
		j->run(j);
		j->next = NULL;
		pthread_mutex_lock(&done_lock);
		if (done_tail)
			done_tail->next = j;
		else
			done_head = j;
		done_tail = j;
		pthread_mutex_unlock(&done_lock);
		ev_async_send(EV_DEFAULT, &done_async);
	}
	if (q->thread_exit)
		q->thread_exit();
	return NULL;
}

void workq_start(struct workq *q)
{
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->wake, NULL);
	q->head = q->tail = NULL;
	q->len = 0;
	q->stopping = false;
	int n = q->nthreads < 1 ? 1 : q->nthreads > WORKQ_MAX_THREADS ? WORKQ_MAX_THREADS : q->nthreads;
	for (q->running = 0; q->running < n; q->running++)
		if (pthread_create(&q->threads[q->running], NULL, worker, q) != 0)
			abort();
	q->started = true;
}

void workq_submit(struct workq *q, struct job *j)
{
	j->next = NULL;
	pending++;
	pthread_mutex_lock(&q->lock);
	if (q->tail)
		q->tail->next = j;
	else
		q->head = j;
	q->tail = j;
	q->len++;
	pthread_cond_signal(&q->wake);
	pthread_mutex_unlock(&q->lock);
}

void workq_stop(struct workq *q)
{
	if (!q->started)
		return;
	pthread_mutex_lock(&q->lock);
	q->stopping = true;
	pthread_cond_broadcast(&q->wake);
	pthread_mutex_unlock(&q->lock);
	for (int i = 0; i < q->running; i++)
		pthread_join(q->threads[i], NULL);
	q->running = 0;
	q->started = false;
}

unsigned workq_pending(void) { return pending; }

unsigned workq_length(struct workq *q)
{
	if (!q->started)
		return 0;
	pthread_mutex_lock(&q->lock);
	unsigned n = q->len;
	pthread_mutex_unlock(&q->lock);
	return n;
}
