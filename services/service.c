/* service.c - the service registry and the daemon-side implementation of service.h. */
#include "service.h"

#include "account.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "dict.h"
#include "client.h"
#include "ircd.h"
#include "outmsg.h"
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct service *const services[] = {&nickserv};

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

void service_force_guest_nick(struct client *c, const char *prefix)
{
	char nick[NICK_MAX + 1];
	for (unsigned n = (unsigned)(c->id % 100000);; n++) {
		snprintf(nick, sizeof nick, "%s%u", prefix, n);
		if (!client_find(nick))
			break;
	}
	char old[PREFIX_MAX + 1];
	memcpy(old, c->prefix, sizeof old);
	client_set_nick(c, nick);
	channel_nick_change(c, old, nick);
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

const char *service_client_nick(const struct client *c) { return c->nick; }
const char *service_client_account(const struct client *c) { return c->account; }
const char *service_client_certfp(const struct client *c) { return c->conn.certfp; }
bool service_client_is_oper(const struct client *c) { return (c->umodes & UMODE('o')) != 0; }

struct client *service_client_find(const char *nick)
{
	struct client *c = client_find(nick);
	return c && client_registered(c) && !client_dead(c) ? c : NULL;
}

void service_login(struct client *c, const char *account) { account_login(c, account); }

void service_logout(struct client *c)
{
	c->account[0] = '\0';
	reply(c, RPL_LOGGEDOUT, c->prefix);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s ACCOUNT *", c->prefix);
	channel_send_common(c, &o, CAPF(CAP_ACCOUNT_NOTIFY));
	if (client_has_cap(c, CAP_ACCOUNT_NOTIFY))
		outmsg_send(&o, c);
	outmsg_release(&o);
}

const struct conf *ircd_conf(void) { return ircd.conf; }

void service_disconnect(struct client *c, const char *reason) { client_exit(c, reason); }
