/* sendq.c - per-connection outgoing queue.
 *
 * DESIGN: a queue entry is a pointer to a shared msgbuf, never a copy, so a channel
 * message costs one allocation however many members receive it. The ring grows by
 * doubling (capacities stay powers of two, so positions wrap with a mask) and is freed
 * as soon as it drains: most connections are idle most of the time, and an idle one
 * then holds no ring at all, while a busy one pays one small malloc per flush. Enqueueing never writes: conn.c puts
 * the connection on the loop's pending list and the loop flushes it with writev()
 * before it sleeps, so every line produced by one round of input goes out in one
 * system call. */
#include "sendq.h"

#include <stdlib.h>

void sendq_push(struct sendq *q, struct msgbuf *b)
{
	if (q->count == q->cap) {
		unsigned ncap = q->cap ? q->cap * 2 : 16;
		struct msgbuf **ring = malloc(ncap * sizeof *ring);
		if (!ring)
			abort();
		for (unsigned i = 0; i < q->count; i++)
			ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
		free(q->ring);
		q->ring = ring;
		q->cap = ncap;
		q->head = 0;
	}
	q->ring[(q->head + q->count) & (q->cap - 1)] = msgbuf_ref(b);
	q->count++;
	q->bytes += b->len;
}

int sendq_iov(const struct sendq *q, struct iovec *iov, int max)
{
	int n = 0;
	for (unsigned i = 0; i < q->count && n < max; i++, n++) {
		struct msgbuf *b = q->ring[(q->head + i) & (q->cap - 1)];
		unsigned skip = i == 0 ? q->offset : 0;
		iov[n].iov_base = b->data + skip;
		iov[n].iov_len = b->len - skip;
	}
	return n;
}

void sendq_consume(struct sendq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0 && q->count > 0) {
		struct msgbuf *b = q->ring[q->head];
		size_t left = b->len - q->offset;
		if (n < left) {
			q->offset += (unsigned)n;
			return;
		}
		n -= left;
		msgbuf_unref(b);
		q->offset = 0;
		q->head = (q->head + 1) & (q->cap - 1);
		q->count--;
	}
	if (q->count == 0) {
		free(q->ring);
		q->ring = NULL;
		q->cap = q->head = q->offset = 0;
	}
}

void sendq_clear(struct sendq *q)
{
	for (unsigned i = 0; i < q->count; i++)
		msgbuf_unref(q->ring[(q->head + i) & (q->cap - 1)]);
	free(q->ring);
	*q = (struct sendq){0};
}
