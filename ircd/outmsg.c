/* outmsg.c - build-once fan-out. A channel message to N members costs at most
 * OUTMSG_VARIANTS serializations, however large N is; each member's sendq then holds a
 * reference to the shared bytes. */
#include "outmsg.h"

#include "cap.h"
#include "client.h"
#include "conf.h"
#include "ircd.h"
#include "session.h"
#include "metrics.h"
#include "parse.h"
#include "reply.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

enum { V_TAGS = 1, V_TIME = 2, V_ACCOUNT = 4 };

void outmsg_format_time(long long ms, char *out)
{
	/* most calls land in the same second as the last one: keep its date part */
	static long long cached_sec = -1;
	static char cached[20];
	long long sec = ms / 1000;
	if (sec != cached_sec) {
		time_t t = (time_t)sec;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_sec = sec;
	}
	int frac = (int)(ms % 1000);
	memcpy(out, cached, 19);
	out[19] = '.';
	out[20] = (char)('0' + frac / 100);
	out[21] = (char)('0' + frac / 10 % 10);
	out[22] = (char)('0' + frac % 10);
	out[23] = 'Z';
	out[24] = '\0';
}

long long outmsg_parse_time(const char *t)
{
	struct tm tm = {0};
	int ms = 0;
	if (!t || sscanf(t, "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
	                 &tm.tm_sec, &ms) < 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

static long long now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The msgid for a message stamped ms: the time and the id come from one clock reading,
 * so ordering by id is ordering by the time clients see. Its value (seq, the history key)
 * is the milliseconds in the high bits and 12 low bits. A node that may link (it has a
 * connect block) gives 8 of them to its SID, so two nodes never issue the same value in a
 * millisecond (server_msgid_clash refuses SIDs equal modulo 256), leaving a 4-bit counter;
 * a node alone keeps all 12 for the counter. The text is the value in 16 hex digits
 * followed by the SID, unique on the network. */
#define SEQ_NODE_BITS 8
static unsigned long long last_key; /* the newest value issued (or the floor's, less one) */

unsigned outmsg_node_bits(const char *s)
{
	unsigned v = 0;
	for (int i = 0; i < 3 && s[i]; i++)
		v = v * 36 + (unsigned)(isdigit((unsigned char)s[i]) ? s[i] - '0' : s[i] - 'A' + 10);
	return v & ((1u << SEQ_NODE_BITS) - 1);
}

static unsigned key_node_bits(void) { return ircd.conf->nconnects ? SEQ_NODE_BITS : 0; }

/* The first free counter slot at or after ms: a full counter, or a clock that steps back,
 * borrows the next slot. Slots are compared through last_key, so a REHASH that adds or
 * removes the connect blocks (and changes the counter's width) keeps values increasing. */
static unsigned long long next_slot(long long ms, unsigned nb)
{
	unsigned long long slot = (unsigned long long)ms << (12 - nb), last = last_key >> nb;
	return slot <= last ? last + 1 : slot;
}

static void new_msgid(struct outmsg *o)
{
	/* the time follows a borrowed slot: unique and ordered whatever the clock does, and
	 * the time a client sees is always the msgid's millisecond (more messages in one
	 * millisecond than the counter holds are stamped a millisecond later) */
	unsigned nb = key_node_bits();
	unsigned long long v = next_slot(o->time_ms, nb) << nb | (nb ? outmsg_node_bits(ircd.conf->sid) : 0);
	last_key = v;
	o->time_ms = (long long)(v >> 12);
	o->seq = v;
	static const char hex[] = "0123456789abcdef";
	for (int i = 15; i >= 0; i--, v >>= 4)
		o->msgid[i] = hex[v & 15];
	memcpy(o->msgid + 16, ircd.conf->sid, 3);
	o->msgid[19] = '\0';
}

bool outmsg_msgid_seq(const char *msgid, unsigned long long *seq)
{
	size_t n = strlen(msgid);
	if ((n != 16 && n != 19) || strspn(msgid, "0123456789abcdef") < 16 ||
	    (n == 19 && (!isdigit((unsigned char)msgid[16]) || strspn(msgid + 17, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 2)))
		return false;
	unsigned long long v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 4 | (unsigned long long)(isdigit((unsigned char)msgid[i]) ? msgid[i] - '0' : msgid[i] - 'a' + 10);
	*seq = v;
	return true;
}

void outmsg_set_origin(struct outmsg *o, const char *msgid, long long time_ms)
{
	if (time_ms >= 0)
		o->time_ms = time_ms;
	unsigned long long seq;
	if (!msgid || !o->msgid[0] || !outmsg_msgid_seq(msgid, &seq))
		return;
	str_copy(o->msgid, sizeof o->msgid, msgid);
	o->seq = seq;
}

unsigned long long outmsg_seq_floor(void)
{
	unsigned nb = key_node_bits();
	unsigned long long slot = next_slot(now_ms(), nb);
	last_key = (slot << nb) - 1; /* a clock that steps back cannot give a later message less */
	return slot << nb;
}

static void start(struct outmsg *o, bool with_msgid, const char *client_tags)
{
	o->time_ms = now_ms();
	o->seq = 0;
	o->msgid[0] = '\0';
	if (with_msgid)
		new_msgid(o);
	o->account[0] = '\0';
	o->bot = false;
	o->relayed = false;
	o->client_tags = client_tags && *client_tags ? client_tags : NULL;
	memset(o->variant, 0, sizeof o->variant);
}

/* Cuts the body to 510 bytes (never inside a UTF-8 character) and ends it with CRLF. */
static void finish_body(struct outmsg *o, size_t len)
{
	if (len > 510) {
		len = 510;
		while (len > 0 && ((unsigned char)o->body[len] & 0xc0) == 0x80)
			len--;
	}
	o->body[len++] = '\r';
	o->body[len++] = '\n';
	o->body_len = len;
}

void outmsg_init(struct outmsg *o, bool with_msgid, const char *client_tags, const char *fmt, ...)
{
	start(o, with_msgid, client_tags);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->body, sizeof o->body, fmt, ap);
	va_end(ap);
	finish_body(o, n < 0 ? 0 : (size_t)n);
}

void outmsg_init_msg(struct outmsg *o, const char *client_tags, const char *prefix, const char *cmd,
                     const char *target, const char *text)
{
	start(o, true, client_tags);
	o->relayed = true;
	const size_t cap = sizeof o->body;
	size_t len = str_put(o->body, cap, 0, ":");
	len = str_put(o->body, cap, len, prefix);
	len = str_put(o->body, cap, len, " ");
	len = str_put(o->body, cap, len, cmd);
	len = str_put(o->body, cap, len, " ");
	len = str_put(o->body, cap, len, target);
	if (text) {
		len = str_put(o->body, cap, len, " :");
		len = str_put(o->body, cap, len, text);
	}
	finish_body(o, len);
}

static struct msgbuf *build(struct outmsg *o, int v)
{
	char tags[8192 + 64];
	size_t n = 0;
#define ADD(...) n += (size_t)snprintf(tags + n, sizeof tags - n, __VA_ARGS__)
	if (v & V_TIME) {
		char t[OUTMSG_TIME_LEN];
		outmsg_format_time(o->time_ms, t);
		ADD("%stime=%s", n ? ";" : "@", t);
	}
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
	b->utf8 = MSGBUF_UTF8_UNKNOWN;
	memcpy(b->data, tags, n);
	memcpy(b->data + n, o->body, o->body_len);
	b->data[b->len] = '\0';
	return b;
}

void outmsg_from(struct outmsg *o, const struct client *sender)
{
	str_copy(o->account, sizeof o->account, sender->account);
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

void outmsg_send_one(struct outmsg *o, struct client *to)
{
	client_send(to, outmsg_for(o, to));
	metrics.deliveries += o->relayed;
}

void outmsg_send_caps(struct outmsg *o, struct client *to, uint32_t need, uint32_t skip)
{
	if ((to->caps & need) == need && !(to->caps & skip))
		outmsg_send_one(o, to);
	if (to->sessions)
		session_send_others(o, to, need, skip);
}

void outmsg_send(struct outmsg *o, struct client *to) { outmsg_send_caps(o, to, 0, 0); }

void outmsg_release(struct outmsg *o)
{
	for (int i = 0; i < OUTMSG_VARIANTS; i++)
		msgbuf_unref(o->variant[i]);
	memset(o->variant, 0, sizeof o->variant);
}
