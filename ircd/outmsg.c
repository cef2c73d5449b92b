/* outmsg.c - build-once fan-out. A channel message to N members costs at most
 * OUTMSG_VARIANTS serializations, however large N is; each member's sendq then holds a
 * reference to the shared bytes. */
#include "outmsg.h"

#include "cap.h"
#include "client.h"
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

enum { V_TAGS = 1, V_TIME = 2, V_ACCOUNT = 4 };

static void format_time(const struct timeval *tvp, char *out, size_t size)
{
	struct timeval tv = *tvp;
	struct tm tm;
	gmtime_r(&tv.tv_sec, &tm);
	char base[32];
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%03dZ", base, (int)(tv.tv_usec / 1000));
}

void outmsg_time_now(char *out, size_t size)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	format_time(&tv, out, size);
}

/* The msgid for a message stamped tv: the time and the id come from one clock reading,
 * so ordering by id is ordering by the time clients see. */
static void new_msgid(const struct timeval *tvp, char *out, size_t size)
{
	static unsigned long long last;
	struct timeval tv = *tvp;
	/* milliseconds in the high bits, a counter in the low 12: unique and ordered even
	 * when many messages share a millisecond or the clock steps back */
	unsigned long long v = ((unsigned long long)tv.tv_sec * 1000 + (unsigned long long)tv.tv_usec / 1000) << 12;
	if (v <= last)
		v = last + 1;
	last = v;
	snprintf(out, size, "%016llx", v);
}

void outmsg_new_msgid(char *out, size_t size)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	new_msgid(&tv, out, size);
}

void outmsg_init(struct outmsg *o, bool with_msgid, const char *client_tags, const char *fmt, ...)
{
	memset(o, 0, sizeof *o);
	struct timeval tv;
	gettimeofday(&tv, NULL);
	format_time(&tv, o->time, sizeof o->time);
	if (with_msgid)
		new_msgid(&tv, o->msgid, sizeof o->msgid);
	o->client_tags = client_tags && *client_tags ? client_tags : NULL;
	char body[600];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(body, sizeof body - 2, fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n;
	if (len > 510) {
		len = 510;
		while (len > 0 && ((unsigned char)body[len] & 0xc0) == 0x80)
			len--; /* never split a UTF-8 character */
	}
	body[len++] = '\r';
	body[len++] = '\n';
	o->body = malloc(len);
	if (!o->body)
		abort();
	memcpy(o->body, body, len);
	o->body_len = len;
}

static struct msgbuf *build(struct outmsg *o, int v)
{
	char tags[8192 + 64];
	size_t n = 0;
#define ADD(...) n += (size_t)snprintf(tags + n, sizeof tags - n, __VA_ARGS__)
	if ((v & V_TIME) && n < sizeof tags)
		ADD("%stime=%s", n ? ";" : "@", o->time);
	if ((v & V_TAGS) && o->msgid[0] && n < sizeof tags)
		ADD("%smsgid=%s", n ? ";" : "@", o->msgid);
	if ((v & V_TAGS) && o->bot && n < sizeof tags)
		ADD("%sbot", n ? ";" : "@");
	if ((v & V_ACCOUNT) && o->account[0] && n < sizeof tags)
		ADD("%saccount=%s", n ? ";" : "@", o->account);
	if ((v & V_TAGS) && o->client_tags && n < sizeof tags)
		ADD("%s%s", n ? ";" : "@", o->client_tags);
#undef ADD
	if (n >= sizeof tags - 1)
		n = 0; /* cannot happen with validated client tags; fall back to no tags */
	if (n)
		tags[n++] = ' ';
	struct msgbuf *b = malloc(sizeof *b + n + o->body_len + 1);
	if (!b)
		abort();
	b->refs = 1;
	b->len = (unsigned)(n + o->body_len);
	memcpy(b->data, tags, n);
	memcpy(b->data + n, o->body, o->body_len);
	b->data[b->len] = '\0';
	return b;
}

void outmsg_from(struct outmsg *o, const struct client *sender)
{
	snprintf(o->account, sizeof o->account, "%s", sender->account);
	o->bot = (sender->umodes & UMODE('B')) != 0;
}

struct msgbuf *outmsg_for(struct outmsg *o, const struct client *to)
{
	int v = (client_has_cap(to, CAP_MESSAGE_TAGS) ? V_TAGS : 0) |
	        (client_has_cap(to, CAP_SERVER_TIME) ? V_TIME : 0) |
	        (client_has_cap(to, CAP_ACCOUNT_TAG) ? V_ACCOUNT : 0);
	if (!o->variant[v])
		o->variant[v] = build(o, v);
	return o->variant[v];
}

void outmsg_send(struct outmsg *o, struct client *to) { client_send(to, outmsg_for(o, to)); }

void outmsg_release(struct outmsg *o)
{
	for (int i = 0; i < OUTMSG_VARIANTS; i++)
		msgbuf_unref(o->variant[i]);
	free(o->body);
	o->body = NULL;
}
