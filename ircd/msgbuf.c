/* msgbuf.c - shared outgoing lines. The loop is single-threaded, so the count is plain. */
#include "msgbuf.h"

#include <stdlib.h>
#include <string.h>

struct msgbuf *msgbuf_new(const char *data, size_t len)
{
	struct msgbuf *b = malloc(sizeof *b + len + 1);
	if (!b)
		abort();
	b->refs = 1;
	b->len = (unsigned)len;
	b->utf8 = MSGBUF_UTF8_UNKNOWN;
	memcpy(b->data, data, len);
	b->data[len] = '\0';
	return b;
}

void msgbuf_unref(struct msgbuf *b)
{
	if (b && --b->refs == 0)
		free(b);
}
