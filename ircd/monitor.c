/* monitor.c - MONITOR lists: a table from watched nick to its watchers, and on each
 * client the nicks it watches, so both notification and cleanup cost only the entries
 * involved. */
#include "monitor.h"

#include "casemap.h"
#include "client.h"
#include "dict.h"
#include "session.h"
#include "ircd.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct watch {
	char nick[NICK_MAX + 1];
	struct client **watchers;
	unsigned n, cap;
};

static struct dict *watches;

void monitor_init(void) { watches = dict_new(); }

static bool client_watching(const struct client *c, const char *nick, unsigned *index)
{
	for (unsigned i = 0; i < c->nmonitors; i++)
		if (casemap_cmp(c->monitors[i], nick) == 0) {
			if (index)
				*index = i;
			return true;
		}
	return false;
}

static void watch_add(struct client *c, const char *nick)
{
	struct watch *w = dict_get(watches, nick);
	if (!w) {
		w = calloc(1, sizeof *w);
		if (!w)
			abort();
		snprintf(w->nick, sizeof w->nick, "%s", nick);
		dict_put(watches, w->nick, w);
	}
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 4;
		w->watchers = realloc(w->watchers, w->cap * sizeof *w->watchers);
		if (!w->watchers)
			abort();
	}
	w->watchers[w->n++] = c;
	c->monitors = realloc(c->monitors, (c->nmonitors + 1) * sizeof *c->monitors);
	if (!c->monitors)
		abort();
	snprintf(c->monitors[c->nmonitors++], NICK_MAX + 1, "%s", nick);
}

static void watch_del(struct client *c, unsigned index)
{
	const char *nick = c->monitors[index];
	struct watch *w = dict_get(watches, nick);
	if (w) {
		for (unsigned i = 0; i < w->n; i++)
			if (w->watchers[i] == c) {
				w->watchers[i] = w->watchers[--w->n];
				break;
			}
		if (w->n == 0) {
			dict_del(watches, w->nick);
			free(w->watchers);
			free(w);
		}
	}
	memmove(c->monitors[index], c->monitors[--c->nmonitors], NICK_MAX + 1);
}

void monitor_move(struct client *from, struct client *to)
{
	for (unsigned i = 0; i < from->nmonitors; i++)
		if (!client_watching(to, from->monitors[i], NULL))
			watch_add(to, from->monitors[i]);
}

void monitor_forget(struct client *c)
{
	while (c->nmonitors)
		watch_del(c, c->nmonitors - 1);
	free(c->monitors);
	c->monitors = NULL;
}

void monitor_online(struct client *c)
{
	struct watch *w = dict_get(watches, c->nick);
	for (unsigned i = 0; w && i < w->n; i++)
		SESSION_EACH(x, w->watchers[i])
			reply(x, RPL_MONONLINE, c->prefix);
}

void monitor_send_extended(struct client *c, struct outmsg *o, uint32_t cap_need, unsigned long gen)
{
	struct watch *w = dict_get(watches, c->nick);
	for (unsigned i = 0; w && i < w->n; i++) {
		struct client *to = w->watchers[i];
		if (to == c || to->mark == gen || (to->caps & cap_need) != cap_need || !client_registered(to))
			continue;
		to->mark = gen;
		outmsg_send(o, to);
	}
}

void monitor_offline(const char *nick)
{
	struct watch *w = dict_get(watches, nick);
	for (unsigned i = 0; w && i < w->n; i++)
		SESSION_EACH(x, w->watchers[i])
			reply(x, RPL_MONOFFLINE, nick);
}

/* Sends the online and offline status of each nick in list, batched per numeric. */
static void report(struct client *c, char *list)
{
	char on[400] = "", off[400] = "";
	size_t non = 0, noff = 0;
	char *save;
	for (char *nick = strtok_r(list, ",", &save); nick; nick = strtok_r(NULL, ",", &save)) {
		struct client *t = client_find(nick);
		bool online = t && client_registered(t);
		char *buf = online ? on : off;
		size_t *n = online ? &non : &noff;
		const char *item = online ? t->prefix : nick;
		if (*n + strlen(item) + 2 > 300) {
			if (online)
				reply(c, RPL_MONONLINE, buf);
			else
				reply(c, RPL_MONOFFLINE, buf);
			*n = 0;
		}
		*n += (size_t)snprintf(buf + *n, 400 - *n, "%s%s", *n ? "," : "", item);
	}
	if (non)
		reply(c, RPL_MONONLINE, on);
	if (noff)
		reply(c, RPL_MONOFFLINE, off);
}

static void monitor_add(struct client *c, const char *targets)
{
	char list[512], added[512];
	snprintf(list, sizeof list, "%s", targets);
	size_t n = 0;
	added[0] = '\0';
	char *save;
	for (char *nick = strtok_r(list, ",", &save); nick; nick = strtok_r(NULL, ",", &save)) {
		if (!*nick || client_watching(c, nick, NULL) || strlen(nick) > NICK_MAX)
			continue;
		if (c->nmonitors >= MONITOR_MAX) {
			/* the rest of the list is refused in one reply */
			char rest[512];
			snprintf(rest, sizeof rest, "%s%s%s", nick, save && *save ? "," : "", save ? save : "");
			reply(c, ERR_MONLISTFULL, MONITOR_MAX, rest);
			break;
		}
		watch_add(c, nick);
		n += (size_t)snprintf(added + n, sizeof added - n, "%s%s", n ? "," : "", nick);
	}
	if (n)
		report(c, added);
}

void cmd_monitor(struct client *c, struct msg *m)
{
	const char *sub = m->params[0];
	const char *targets = m->nparams > 1 ? m->params[1] : NULL;
	if ((sub[0] == '+' || sub[0] == '-') && !targets) {
		reply(c, ERR_NEEDMOREPARAMS, "MONITOR");
		return;
	}
	switch (sub[0]) {
	case '+':
		monitor_add(c, targets);
		break;
	case '-': {
		char list[512];
		snprintf(list, sizeof list, "%s", targets);
		char *save;
		unsigned i;
		for (char *nick = strtok_r(list, ",", &save); nick; nick = strtok_r(NULL, ",", &save))
			if (client_watching(c, nick, &i))
				watch_del(c, i);
		break;
	}
	case 'C':
	case 'c':
		while (c->nmonitors)
			watch_del(c, c->nmonitors - 1);
		break;
	case 'L':
	case 'l': {
		char line[400];
		size_t n = 0;
		for (unsigned i = 0; i < c->nmonitors; i++) {
			if (n + strlen(c->monitors[i]) + 2 > 300) {
				reply(c, RPL_MONLIST, line);
				n = 0;
			}
			n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? "," : "", c->monitors[i]);
		}
		if (n)
			reply(c, RPL_MONLIST, line);
		reply(c, RPL_ENDOFMONLIST);
		break;
	}
	case 'S':
	case 's': {
		char list[MONITOR_MAX * (NICK_MAX + 1) + 1];
		size_t n = 0;
		list[0] = '\0';
		for (unsigned i = 0; i < c->nmonitors; i++)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? "," : "", c->monitors[i]);
		if (n)
			report(c, list);
		break;
	}
	default:
		/* unknown subcommands are ignored, as the spec allows */
		break;
	}
}
