/* sendq.c - per-connection outgoing queue.
 *
 * DESIGN: a queue entry is a pointer to a shared msgbuf, never a copy, so a channel
 * message costs one allocation however many members receive it. The ring grows by
 * doubling (capacities stay powers of two, so positions wrap with a mask) and is freed
 * as soon as it drains: most connections are idle most of the time, and an idle one
 * then holds no ring at all, while a busy one pays one small malloc per flush. Enqueueing never writes: conn.c puts
 * the connection on the loop's pending list and the loop flushes it with writev()
 * before it sleeps, so every line produced by one round of input goes out in one
 * system call.
 *
 * WebSocket: a queue in frame mode (ws_opcode) sends each line as one unfragmented
 * frame. The header (2 bytes, 4 past 125 bytes of payload) is computed from the
 * buffer's length when the iovecs are built, and the payload is the shared buffer
 * itself, its CRLF left out by length: the header is the only per-recipient cost.
 * Entries tagged raw (bit 0 of the pointer; msgbufs come from malloc, so it is free)
 * are HTTP responses and control frames built for this one connection. */
#include "sendq.h"

#include <stdlib.h>

#define RAW ((uintptr_t)1)
#define HDR_MAX 10

static struct msgbuf *entry_buf(uintptr_t e) { return (struct msgbuf *)(e & ~RAW); }

/* The payload of a framed line: the buffer without its trailing CRLF (or LF). */
static size_t payload_len(const struct msgbuf *b)
{
	size_t n = b->len;
	if (n && b->data[n - 1] == '\n')
		n--;
	if (n && b->data[n - 1] == '\r')
		n--;
	return n;
}

static size_t header_len(size_t payload) { return payload < 126 ? 2 : payload <= 0xffff ? 4 : 10; }

static size_t header_make(unsigned char *h, unsigned char opcode, size_t payload)
{
	h[0] = (unsigned char)(0x80 | opcode); /* FIN: never fragmented */
	if (payload < 126) {
		h[1] = (unsigned char)payload;
		return 2;
	}
	if (payload <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(payload >> 8);
		h[3] = (unsigned char)payload;
		return 4;
	}
	h[1] = 127;
	for (int i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((unsigned long long)payload >> (56 - 8 * i));
	return 10;
}

/* Bytes entry e puts on the wire. */
static size_t wire_len(const struct sendq *q, uintptr_t e)
{
	const struct msgbuf *b = entry_buf(e);
	if (!q->ws_opcode || (e & RAW))
		return b->len;
	size_t p = payload_len(b);
	return header_len(p) + p;
}

static void push(struct sendq *q, uintptr_t e)
{
	if (q->count == q->cap) {
		unsigned ncap = q->cap ? q->cap * 2 : 16;
		uintptr_t *ring = malloc(ncap * sizeof *ring);
		if (!ring)
			abort();
		for (unsigned i = 0; i < q->count; i++)
			ring[i] = q->ring[(q->head + i) & (q->cap - 1)];
		free(q->ring);
		q->ring = ring;
		q->cap = ncap;
		q->head = 0;
	}
	msgbuf_ref(entry_buf(e));
	q->ring[(q->head + q->count) & (q->cap - 1)] = e;
	q->count++;
	q->bytes += wire_len(q, e);
}

void sendq_push(struct sendq *q, struct msgbuf *b) { push(q, (uintptr_t)b); }

void sendq_push_raw(struct sendq *q, struct msgbuf *b) { push(q, (uintptr_t)b | RAW); }

int sendq_iov(const struct sendq *q, struct iovec *iov, int max)
{
	static unsigned char hdrs[128][HDR_MAX];
	int n = 0;
	for (unsigned i = 0; i < q->count && n < max; i++) {
		uintptr_t e = q->ring[(q->head + i) & (q->cap - 1)];
		struct msgbuf *b = entry_buf(e);
		size_t skip = i == 0 ? q->offset : 0;
		if (!q->ws_opcode || (e & RAW)) {
			iov[n].iov_base = b->data + skip;
			iov[n++].iov_len = b->len - skip;
			continue;
		}
		size_t p = payload_len(b);
		if (i >= 128 || (skip < header_len(p) && n + 2 > max))
			break; /* out of header slots, or no room for header and payload */
		size_t h = header_make(hdrs[i], q->ws_opcode, p);
		if (skip < h) {
			iov[n].iov_base = hdrs[i] + skip;
			iov[n++].iov_len = h - skip;
			skip = h;
		}
		if (p > skip - h) {
			iov[n].iov_base = b->data + (skip - h);
			iov[n++].iov_len = p - (skip - h);
		}
	}
	return n;
}

void sendq_consume(struct sendq *q, size_t n)
{
	q->bytes -= n;
	while (n > 0 && q->count > 0) {
		uintptr_t e = q->ring[q->head];
		size_t left = wire_len(q, e) - q->offset;
		if (n < left) {
			q->offset += (unsigned)n;
			return;
		}
		n -= left;
		msgbuf_unref(entry_buf(e));
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
		msgbuf_unref(entry_buf(q->ring[(q->head + i) & (q->cap - 1)]));
	free(q->ring);
	unsigned char opcode = q->ws_opcode;
	*q = (struct sendq){0};
	q->ws_opcode = opcode;
}
