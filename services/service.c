/* service.c - the service registry and the daemon-side implementation of service.h. */
#include "service.h"

#include "account.h"
#include "cap.h"
#include "casemap.h"
#include "channel.h"
#include "client.h"
#include "ircd.h"
#include "outmsg.h"
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct service *const services[] = {&nickserv};

void services_init(void) {}

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
