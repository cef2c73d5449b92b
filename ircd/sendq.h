/* sendq.h - a connection's queue of outgoing lines: a ring of msgbuf references and the
 * offset already written from the first one. The byte count is what the class SendQ
 * limit is checked against. */
#ifndef PARLEY_SENDQ_H
#define PARLEY_SENDQ_H

#include "msgbuf.h"

#include <stddef.h>
#include <sys/uio.h>

struct sendq {
	struct msgbuf **ring;
	unsigned cap, head, count;
	unsigned offset; /* bytes of ring[head] already sent */
	size_t bytes;    /* unsent bytes in the queue */
};

/* Appends a new reference to b (the caller keeps its own). */
void sendq_push(struct sendq *q, struct msgbuf *b);

/* Fills at most max iovecs with the unsent bytes, oldest first; returns how many. */
int sendq_iov(const struct sendq *q, struct iovec *iov, int max);

/* Marks n bytes as sent, dropping the buffers that are now fully written. */
void sendq_consume(struct sendq *q, size_t n);

/* Drops everything and frees the ring. */
void sendq_clear(struct sendq *q);

#endif
