/* msgbuf.h - an immutable, reference-counted serialized line. A message sent to many
 * clients is built once and every recipient's sendq holds a reference to the same bytes. */
#ifndef PARLEY_MSGBUF_H
#define PARLEY_MSGBUF_H

#include <stddef.h>

struct msgbuf {
	unsigned refs;
	unsigned len;
	unsigned char utf8; /* MSGBUF_UTF8_*: checked once, for WebSocket text frames */
	char data[];
};

enum { MSGBUF_UTF8_UNKNOWN, MSGBUF_UTF8_VALID, MSGBUF_UTF8_INVALID };

/* Returns a new buffer (one reference, owned by the caller) holding a copy of data. */
struct msgbuf *msgbuf_new(const char *data, size_t len);

/* Returns a new reference to b. */
static inline struct msgbuf *msgbuf_ref(struct msgbuf *b)
{
	b->refs++;
	return b;
}

/* Drops a reference; frees the buffer with the last one. */
void msgbuf_unref(struct msgbuf *b);

#endif
