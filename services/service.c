/* service.c - the service registry and the daemon-side implementation of service.h. */
#include "service.h"
#include "session.h"

#include "account.h"
#include "alwayson.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "dict.h"
#include "client.h"
#include "command.h"
#include "history.h"
#include "ircd.h"
#include "outmsg.h"
#include "match.h"
#include "mode.h"
#include "reply.h"
#include "route.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct service *const services[] = {&nickserv, &chanserv, &histserv};

void services_init(void) {}

void services_nick_changed(struct client *c) { nickserv_nick_changed(c); }

static void service_timer_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct client *c = w->data;
	void (*fn)(struct client *) = c->service_timer_fn;
	c->service_timer_fn = NULL;
	if (fn && !client_dead(c))
		fn(c);
}

void service_timer(struct client *c, double seconds, void (*fn)(struct client *c))
{
	ev_timer_stop(EV_DEFAULT, &c->service_timer);
	ev_timer_init(&c->service_timer, service_timer_cb, seconds, 0);
	c->service_timer.data = c;
	c->service_timer_fn = fn;
	ev_timer_start(EV_DEFAULT, &c->service_timer);
}

void service_timer_cancel(struct client *c)
{
	ev_timer_stop(EV_DEFAULT, &c->service_timer);
	c->service_timer_fn = NULL;
}

struct every {
	ev_timer timer; /* first: the callback gets it */
	void (*fn)(void);
};

static void service_every_cb(EV_P_ ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	((struct every *)w)->fn();
}

void service_every(double seconds, void (*fn)(void))
{
	static struct every timers[4];
	static int n;
	if (n == 4)
		abort();
	struct every *e = &timers[n++];
	e->fn = fn;
	ev_timer_init(&e->timer, service_every_cb, seconds, seconds);
	ev_timer_start(EV_DEFAULT, &e->timer);
	ev_unref(EV_DEFAULT); /* a periodic retry alone must not keep the loop alive */
}

void service_force_guest_nick(struct client *c, const char *prefix)
{
	char nick[NICK_MAX + 1];
	for (unsigned n = (unsigned)(c->id % 100000);; n++) {
		snprintf(nick, sizeof nick, "%s%u", prefix, n);
		if (!client_find(nick))
			break;
	}
	nick_change(c, nick); /* as if it had sent NICK: the other nodes see it too */
}

const struct service *service_find(const char *nick)
{
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++)
		if (casemap_cmp(services[i]->nick, nick) == 0)
			return services[i];
	return NULL;
}

void service_notice(const struct service *s, struct client *c, const char *fmt, ...)
{
	char text[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	client_sendf(c, ":%s!%s@services. NOTICE %s :%s", s->nick, s->nick, reply_target(c), text);
}

void service_help_topic(const struct service *s, struct client *c, const char *help, const char *detail)
{
	const char *dash = strstr(help, " - ");
	service_notice(s, c, "Syntax: %.*s", dash ? (int)(dash - help) : (int)strlen(help), help);
	while (detail && *detail) {
		const char *nl = strchr(detail, '\n');
		int len = nl ? (int)(nl - detail) : (int)strlen(detail);
		service_notice(s, c, "%.*s", len, detail);
		detail += len + (nl ? 1 : 0);
	}
}

const char *service_client_nick(const struct client *c) { return c->nick; }
const char *service_client_account(const struct client *c) { return c->account; }
const char *service_client_certfp(const struct client *c) { return c->conn.certfp; }
bool service_client_is_oper(const struct client *c) { return (c->umodes & UMODE('o')) != 0; }
bool service_client_is_remote(const struct client *c) { return c->server != NULL; }

struct client *service_client_find(const char *nick)
{
	struct client *c = client_find(nick);
	return c && client_registered(c) && !client_dead(c) ? c : NULL;
}

void service_login(struct client *c, const char *account) { account_login(c, account); }

static void logged_out(struct client *x, void *arg)
{
	(void)arg;
	reply(x, RPL_LOGGEDOUT, x->prefix);
}

void service_logout(struct client *c)
{
	alwayson_gone(c); /* a logged-out user does not stay */
	c->account[0] = '\0';
	reply(c, RPL_LOGGEDOUT, c->prefix);
	if (c->sessions) {
		session_sync(c);
		session_each_other(c, logged_out, NULL);
	}
	account_notify_change(c);
}

const struct conf *ircd_conf(void) { return ircd.conf; }

void services_account_dropped(const char *account)
{
	char name[NICK_MAX + 1];
	snprintf(name, sizeof name, "%s", account);
	alwayson_account_dropped(name);
	for (struct client *c = ircd.clients; c; c = c->next)
		if (client_registered(c) && !client_dead(c) && casemap_cmp(c->account, name) == 0)
			service_logout(c);
}

void service_logout_account(const char *account)
{
	services_account_dropped(account);
	route_account_dropped(account); /* the users of the account on other nodes too */
}

void service_disconnect(struct client *c, const char *reason) { session_exit_user(c, reason); }

int service_always_on_setting(const char *account) { return alwayson_setting(account); }
bool service_always_on(const char *account) { return alwayson_enabled(account); }
void service_set_always_on(struct client *c, bool on, void (*done)(struct client *c, bool ok)) { alwayson_set(c, on, done); }
bool service_client_is_ghost(const struct client *c) { return (c->flags & CLI_GHOST) != 0; }
bool service_reattach(struct client *c) { return alwayson_reattach(c); }

/* ---- channels ---- */

struct channel *service_channel_find(const char *name) { return channel_find(name); }
const char *service_channel_name(const struct channel *ch) { return ch->name; }

struct channel *service_channel_keep(const char *name, unsigned long long floor)
{
	struct channel *ch = channel_find(name);
	if (!ch) {
		ch = channel_create(name);
		ch->history_floor = floor; /* loaded at start: the lifetime it was registered in */
	} else if (!ch->registered) {
		/* the stored floor keeps earlier lifetimes unreadable; deleting their rows is
		 * only housekeeping */
		history_channel_registered(ch, floor);
	}
	ch->registered = true;
	return ch;
}

unsigned long long service_channel_history_floor(const struct channel *ch) { return ch->history_floor; }

void service_channel_release(struct channel *ch)
{
	ch->registered = false;
	channel_free_if_empty(ch);
}

bool service_channel_is_op(const struct channel *ch, const struct client *c)
{
	const struct membership *m = channel_member(ch, c);
	return m && (m->status & MEMBER_OP);
}

bool service_channel_is_member(const struct channel *ch, const struct client *c) { return channel_member(ch, c) != NULL; }

static void announce_mode(const struct service *s, struct channel *ch, const char *text)
{
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s!%s@services. MODE %s %s", s->nick, s->nick, ch->name, text);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_service_mode(ch, text); /* the other nodes' members see it from our server */
}

void service_channel_mode(const struct service *s, struct channel *ch, const char *modes)
{
	char done[64];
	size_t n = 0;
	int dir = 1, last = 0;
	for (const char *p = modes; *p && n + 3 < sizeof done; p++) {
		if (*p == '+' || *p == '-') {
			dir = *p == '+' ? 1 : -1;
			continue;
		}
		if (!strchr("Rimnpst", *p))
			continue;
		bool has = (ch->modes & CMODE(*p)) != 0;
		if ((dir > 0) == has)
			continue;
		ch->modes ^= CMODE(*p);
		if (dir != last)
			done[n++] = dir > 0 ? '+' : '-';
		last = dir;
		done[n++] = *p;
	}
	done[n] = '\0';
	if (n)
		announce_mode(s, ch, done);
}

void service_channel_member_mode(const struct service *s, struct channel *ch, struct client *c, char mode, bool on)
{
	struct membership *m = channel_member(ch, c);
	unsigned bit = mode == 'o' ? MEMBER_OP : MEMBER_VOICE;
	if (!m || ((m->status & bit) != 0) == on)
		return;
	m->status ^= bit;
	alwayson_touch(c);
	char text[NICK_MAX + 8];
	snprintf(text, sizeof text, "%c%c %s", on ? '+' : '-', mode, c->nick);
	announce_mode(s, ch, text);
}

void service_channel_kick(const struct service *s, struct channel *ch, struct client *c, const char *reason)
{
	if (!channel_member(ch, c))
		return;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s!%s@services. KICK %s %s :%s", s->nick, s->nick, ch->name, c->nick, reason);
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_service_kick(ch, c, reason);
	channel_remove(ch, c);
}

void service_channel_invite(const struct service *s, struct channel *ch, struct client *c)
{
	channel_invite_add(ch, c);
	client_sendf(c, ":%s!%s@services. INVITE %s %s", s->nick, s->nick, c->nick, ch->name);
}

void service_channel_set_topic(struct channel *ch, const char *topic, const char *setter, long long when, bool announce,
                               const struct service *s)
{
	free(ch->topic);
	ch->topic = topic && *topic ? strndup(topic, TOPIC_MAX) : NULL;
	snprintf(ch->topic_setter, sizeof ch->topic_setter, "%s", setter ? setter : "");
	ch->topic_time = (time_t)when;
	if (!announce)
		return;
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s!%s@services. TOPIC %s :%s", s->nick, s->nick, ch->name,
	            ch->topic ? ch->topic : "");
	channel_send(ch, &o, NULL, 0, 0, 0);
	outmsg_release(&o);
	route_service_topic(ch);
}

void service_channel_topic(const struct channel *ch, const char **topic, const char **setter, long long *when)
{
	*topic = ch->topic;
	*setter = ch->topic_setter;
	*when = (long long)ch->topic_time;
}

void service_channel_list_restore(struct channel *ch, char kind, const char *mask, const char *setter, long long when)
{
	channel_list_insert(ch, kind == 'b' ? LIST_BAN : kind == 'e' ? LIST_EXCEPT : LIST_INVEX, mask, setter,
	                    (time_t)when);
}

void service_channel_each_list_entry(struct channel *ch,
                                     void (*fn)(char kind, const char *mask, const char *setter, long long when, void *arg),
                                     void *arg)
{
	static const char kinds[LIST_KINDS] = {'b', 'e', 'I'};
	for (int k = 0; k < LIST_KINDS; k++)
		for (struct list_entry *e = ch->lists[k]; e; e = e->next)
			fn(kinds[k], e->mask, e->setter, (long long)e->when, arg);
}

void service_channel_modes(const struct channel *ch, char *out, size_t size)
{
	mode_channel_string(ch, 0, out, (unsigned)size);
}

bool service_client_matches(const struct client *c, const char *mask) { return channel_mask_matches(mask, c); }

void service_channel_each_member(struct channel *ch, void (*fn)(struct client *c, void *arg), void *arg)
{
	for (struct membership *m = ch->members, *next; m; m = next) {
		next = m->chan_next;
		fn(m->client, arg);
	}
}

void service_client_each_channel(struct client *c, void (*fn)(struct channel *ch, void *arg), void *arg)
{
	for (struct membership *m = c->channels, *next; m; m = next) {
		next = m->client_next;
		fn(m->chan, arg);
	}
}

void services_channel_joined(struct client *c, struct channel *ch) { chanserv_joined(c, ch); }
void services_account_changed(struct client *c) { chanserv_account_changed(c); }
void services_channel_modes_changed(struct client *by, struct channel *ch) { chanserv_modes_changed(by, ch); }
void services_channel_list_changed(struct client *by, struct channel *ch, char kind, bool add, const char *mask)
{
	chanserv_list_changed(by, ch, kind, add, mask);
}
void services_channel_topic_changed(struct client *by, struct channel *ch) { chanserv_topic_changed(by, ch); }
void services_channel_topic_relayed(struct channel *ch) { chanserv_topic_relayed(ch); }
const char *services_channel_description(const struct channel *ch) { return chanserv_description(ch); }
void services_load(void) { chanserv_load(); }
enum service_admit services_channel_admits(const struct client *c, const struct channel *ch)
{
	return ch->registered && c->account[0] ? chanserv_admits(c, ch) : ADMIT_NONE;
}

void service_channel_stored(const char *name) { route_channel_stored(name); }
