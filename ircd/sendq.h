/* sendq.h - a connection's queue of outgoing lines: a ring of msgbuf references and the
 * offset already written from the first one. The byte count is what the class SendQ
 * limit is checked against. On a WebSocket connection (ws_opcode set) each line goes
 * out as one frame: a header made when it is written, then the shared bytes without
 * their CRLF; nothing is copied per recipient. */
#ifndef PARLEY_SENDQ_H
#define PARLEY_SENDQ_H

#include "msgbuf.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct sendq {
	uintptr_t *ring;  /* msgbuf pointers; bit 0 set: raw (sent as is, never framed) */
	unsigned cap, head, count;
	unsigned offset;  /* bytes of ring[head] already sent (its frame header included) */
	size_t bytes;     /* unsent bytes in the queue, as they go on the wire */
	unsigned char ws_opcode; /* 0: a byte stream; 1 (text) or 2 (binary): WebSocket frames */
};

/* Appends a new reference to b (the caller keeps its own); on a WebSocket queue the
 * line becomes one frame. */
void sendq_push(struct sendq *q, struct msgbuf *b);

/* Appends a new reference to b, to be sent exactly as it is (an HTTP response, a
 * WebSocket control frame). */
void sendq_push_raw(struct sendq *q, struct msgbuf *b);

/* Fills at most max iovecs with the unsent bytes, oldest first; returns how many.
 * Frame headers are written to a static scratch area the iovecs may point into: use
 * them before the next call. */
int sendq_iov(const struct sendq *q, struct iovec *iov, int max);

/* Marks n bytes as sent, dropping the buffers that are now fully written. */
void sendq_consume(struct sendq *q, size_t n);

/* Drops everything and frees the ring. */
void sendq_clear(struct sendq *q);

#endif
