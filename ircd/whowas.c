/* whowas.c - WHOWAS history: a fixed ring, newest overwriting oldest, so memory stays
 * bounded however many clients come and go. */
#include "whowas.h"

#include "client.h"
#include "casemap.h"
#include "ircd.h"
#include "parse.h"
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHOWAS_SIZE 1024

struct whowas {
	char nick[NICK_MAX + 1];
	char user[USER_MAX + 1];
	char host[HOST_MAX + 1];
	char realname[REALNAME_MAX + 1];
	time_t when;
};

static struct whowas ring[WHOWAS_SIZE];
static unsigned next;

void whowas_add_as(const struct client *c, const char *old_prefix)
{
	struct whowas *w = &ring[next++ % WHOWAS_SIZE];
	size_t n = strcspn(old_prefix, "!");
	snprintf(w->nick, sizeof w->nick, "%.*s", (int)n, old_prefix);
	snprintf(w->user, sizeof w->user, "%s", c->user);
	snprintf(w->host, sizeof w->host, "%s", c->host);
	snprintf(w->realname, sizeof w->realname, "%s", c->realname);
	w->when = time(NULL);
}

void whowas_add(const struct client *c) { whowas_add_as(c, c->prefix); }

void cmd_whowas(struct client *c, struct msg *m)
{
	if (m->nparams < 1 || !*m->params[0]) {
		reply(c, ERR_NONICKNAMEGIVEN);
		return;
	}
	const char *nick = m->params[0];
	int max = m->nparams > 1 ? atoi(m->params[1]) : 0;
	int found = 0;
	for (unsigned i = 1; i <= WHOWAS_SIZE && (max <= 0 || found < max); i++) {
		const struct whowas *w = &ring[(next - i) % WHOWAS_SIZE];
		if (!w->nick[0] || casemap_cmp(w->nick, nick) != 0)
			continue;
		found++;
		reply(c, RPL_WHOWASUSER, w->nick, w->user, w->host, w->realname);
		char when[64];
		struct tm tm;
		gmtime_r(&w->when, &tm);
		strftime(when, sizeof when, "%a %b %d %H:%M:%S %Y", &tm);
		reply(c, RPL_WHOISSERVER, w->nick, ircd.conf->server_name, when);
	}
	if (!found)
		reply(c, ERR_WASNOSUCHNICK, nick);
	reply(c, RPL_ENDOFWHOWAS, nick);
}
