/* channel.c - the channel table, membership and channel fan-out. */
#include "channel.h"

#include "alwayson.h"

#include "cap.h"
#include "cloak.h"
#include "dict.h"
#include "history.h"
#include "ircd.h"
#include "match.h"
#include "monitor.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "whowas.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dict *channels;
static unsigned long mark_gen;

void channel_init(void) { channels = dict_new(); }

struct channel *channel_find(const char *name) { return dict_get(channels, name); }

unsigned channel_count(void) { return channels ? (unsigned)dict_count(channels) : 0; }

bool channel_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len < 2 || len > CHANNEL_MAX || name[0] != '#')
		return false;
	return strpbrk(name, " ,\a:") == NULL && utf8_valid(name, len);
}

struct channel *channel_create(const char *name)
{
	struct channel *ch = calloc(1, sizeof *ch);
	if (!ch)
		abort();
	snprintf(ch->name, sizeof ch->name, "%s", name);
	ch->created = time(NULL);
	ch->history_floor = outmsg_seq_floor();
	ch->modes = CMODE('n') | CMODE('t'); /* what users expect of a new room */
	dict_put(channels, ch->name, ch);
	return ch;
}

static void channel_free(struct channel *ch)
{
	dict_del(channels, ch->name);
	for (int k = 0; k < LIST_KINDS; k++) {
		for (struct list_entry *e = ch->lists[k], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(ch->topic);
	free(ch);
}

struct membership *channel_member(const struct channel *ch, const struct client *c)
{
	/* Walk the shorter list: a client is usually in few channels. */
	if (c->nchannels < ch->nmembers) {
		for (struct membership *m = c->channels; m; m = m->client_next)
			if (m->chan == ch)
				return m;
		return NULL;
	}
	for (struct membership *m = ch->members; m; m = m->chan_next)
		if (m->client == c)
			return m;
	return NULL;
}

struct membership *channel_add(struct channel *ch, struct client *c, unsigned status)
{
	struct membership *m = calloc(1, sizeof *m);
	if (!m)
		abort();
	m->chan = ch;
	m->client = c;
	m->status = status;
	m->chan_next = ch->members;
	if (ch->members)
		ch->members->chan_prev = m;
	ch->members = m;
	ch->nmembers++;
	ch->nremote += c->server != NULL;
	m->client_next = c->channels;
	c->channels = m;
	c->nchannels++;
	alwayson_touch(c);
	/* a pending invite is used up by joining */
	for (unsigned i = 0; i < ch->ninvites; i++)
		if (ch->invites[i] == c->id)
			ch->invites[i] = ch->invites[--ch->ninvites];
	return m;
}

void channel_remove(struct channel *ch, struct client *c)
{
	struct membership **pp = &c->channels;
	while (*pp && (*pp)->chan != ch)
		pp = &(*pp)->client_next;
	struct membership *m = *pp;
	if (!m)
		return;
	readmarker_left(c, ch); /* where a logged-in user's catch-up starts next time */
	alwayson_touch(c);
	*pp = m->client_next;
	c->nchannels--;
	if (m->chan_prev)
		m->chan_prev->chan_next = m->chan_next;
	else
		ch->members = m->chan_next;
	if (m->chan_next)
		m->chan_next->chan_prev = m->chan_prev;
	ch->nmembers--;
	ch->nremote -= c->server != NULL;
	free(m);
	channel_free_if_empty(ch);
}

struct invite_move {
	uint64_t from, to;
};

static void move_invites(struct channel *ch, void *arg)
{
	const struct invite_move *mv = arg;
	for (unsigned i = 0; i < ch->ninvites; i++)
		if (ch->invites[i] == mv->from)
			ch->invites[i] = mv->to;
}

void channel_invites_move(uint64_t from, uint64_t to)
{
	struct invite_move mv = {from, to};
	channel_each(move_invites, &mv);
}

void channel_free_if_empty(struct channel *ch)
{
	if (ch->nmembers == 0 && !ch->registered)
		channel_free(ch);
}

void channel_invite_add(struct channel *ch, const struct client *c)
{
	for (unsigned i = 0; i < ch->ninvites; i++)
		if (ch->invites[i] == c->id)
			return;
	if (ch->ninvites == INVITES_MAX) { /* forget the oldest */
		memmove(ch->invites, ch->invites + 1, sizeof ch->invites - sizeof ch->invites[0]);
		ch->ninvites--;
	}
	ch->invites[ch->ninvites++] = c->id;
}

void channel_list_insert(struct channel *ch, enum list_kind kind, const char *mask, const char *setter, time_t when)
{
	struct list_entry **pp = &ch->lists[kind];
	while (*pp)
		pp = &(*pp)->next;
	struct list_entry *e = calloc(1, sizeof *e);
	if (!e)
		abort();
	snprintf(e->mask, sizeof e->mask, "%s", mask);
	snprintf(e->setter, sizeof e->setter, "%s", setter);
	e->when = when;
	*pp = e;
	ch->list_count[kind]++;
}

void channel_send(struct channel *ch, struct outmsg *o, const struct client *except, unsigned need,
                  uint32_t cap_need, uint32_t cap_skip)
{
	for (struct membership *m = ch->members; m; m = m->chan_next) {
		struct client *to = m->client;
		if (to == except || (need && !(m->status & need)))
			continue;
		outmsg_send_caps(o, to, cap_need, cap_skip);
	}
}

void channel_send_common(struct client *c, struct outmsg *o, uint32_t cap_need)
{
	unsigned long gen = ++mark_gen;
	c->mark = gen;
	for (struct membership *cm = c->channels; cm; cm = cm->client_next) {
		for (struct membership *m = cm->chan->members; m; m = m->chan_next) {
			struct client *to = m->client;
			if (to->mark == gen)
				continue;
			to->mark = gen;
			outmsg_send_caps(o, to, cap_need, 0);
		}
	}
}

void channel_send_common_monitored(struct client *c, struct outmsg *o, uint32_t cap_need)
{
	channel_send_common(c, o, cap_need);
	monitor_send_extended(c, o, cap_need | CAPF(CAP_EXTENDED_MONITOR), mark_gen);
}

/* The cloak c would have with +x when it is not its displayed host now (cloaking off,
 * or "MODE me -x"), into buf; NULL when there is no such other name. */
static const char *hidden_cloak(const struct client *c, char *buf, size_t size)
{
	if (!ircd.conf->cloak_secret[0] || (c->umodes & UMODE('x')))
		return NULL; /* with +x the displayed host is the cloak: no HMAC per check */
	cloak_host(ircd.conf->cloak_secret, ircd.conf->cloak_suffix, c->conn.ip, buf, size);
	return buf;
}

/* A user matches a mask as nick!user@host (what others see), nick!user@ip, and
 * nick!user@cloak whether +x is on or off, so "MODE me -x" evades no ban or AKICK set on
 * the cloak, and an exception (+e/+I) on the cloak keeps working without it. */
static bool mask_matches(const char *mask, const struct client *c, const char *cloak)
{
	if (mask[0] == '$') {
		/* extban $a:account (and $a alone: any logged-in user) */
		if (mask[1] == 'a' && mask[2] == ':')
			return c->account[0] && match_mask(mask + 3, c->account);
		if (mask[1] == 'a' && mask[2] == '\0')
			return c->account[0] != '\0';
		return false;
	}
	if (match_mask(mask, c->prefix))
		return true;
	char other[PREFIX_MAX + 1];
	snprintf(other, sizeof other, "%s!%s@%s", c->nick, c->user, c->conn.ip);
	if (match_mask(mask, other))
		return true;
	if (!cloak)
		return false;
	snprintf(other, sizeof other, "%s!%s@%s", c->nick, c->user, cloak);
	return match_mask(mask, other);
}

bool channel_mask_matches(const char *mask, const struct client *c)
{
	char buf[HOST_MAX + 1];
	return mask_matches(mask, c, hidden_cloak(c, buf, sizeof buf));
}

bool channel_list_match(const struct channel *ch, enum list_kind kind, const struct client *c)
{
	if (!ch->lists[kind])
		return false;
	char buf[HOST_MAX + 1];
	const char *cloak = hidden_cloak(c, buf, sizeof buf); /* once per list, not per mask */
	for (const struct list_entry *e = ch->lists[kind]; e; e = e->next)
		if (mask_matches(e->mask, c, cloak))
			return true;
	return false;
}

bool channel_banned(const struct channel *ch, const struct client *c)
{
	return channel_list_match(ch, LIST_BAN, c) && !channel_list_match(ch, LIST_EXCEPT, c);
}

void channel_prefix(unsigned status, bool multi, char out[4])
{
	int n = 0;
	if (status & MEMBER_OP)
		out[n++] = '@';
	if ((status & MEMBER_VOICE) && (multi || n == 0))
		out[n++] = '+';
	out[n] = '\0';
}

bool channel_visible(const struct channel *ch, const struct client *c)
{
	return !(ch->modes & (CMODE('s') | CMODE('p'))) || channel_member(ch, c);
}

void channel_client_exit(struct client *c, const char *reason)
{
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s QUIT :%s", c->prefix, reason);
	outmsg_from(&o, c);
	channel_send_common(c, &o, 0);
	outmsg_release(&o);
	whowas_add(c);
	while (c->channels)
		channel_remove(c->channels->chan, c);
}

void channel_nick_change(struct client *c, const char *old_prefix, const char *nick)
{
	whowas_add_as(c, old_prefix);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s NICK :%s", old_prefix, nick);
	outmsg_from(&o, c);
	channel_send_common(c, &o, 0);
	outmsg_send(&o, c); /* channel_send_common skips c itself */
	outmsg_release(&o);
}

struct each_ctx {
	void (*fn)(struct channel *, void *);
	void *arg;
};

static void each_one(void *value, void *arg)
{
	struct each_ctx *x = arg;
	x->fn(value, x->arg);
}

void channel_each(void (*fn)(struct channel *ch, void *arg), void *arg)
{
	struct each_ctx x = {fn, arg};
	dict_each(channels, each_one, &x);
}
