/* cmd_query.c - questions about users, and the user's own presence: WHO (with WHOX),
 * WHOIS, ISON, USERHOST, AWAY, SETNAME. */
#include "route.h"
#include "server.h"
#include "cap.h"
#include "channel.h"
#include "client.h"
#include "command.h"
#include "ircd.h"
#include "match.h"
#include "outmsg.h"
#include "parse.h"
#include "reply.h"
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AWAY_MAX 390

/* True if c may see t's real address: t itself, or an operator with see_hidden. Everyone
 * else gets the displayed host only (the cloak when t has +x). */
static bool sees_address(const struct client *c, const struct client *t)
{
	return c == t || ((c->umodes & UMODE('o')) && (c->privs & PRIV_SEE_HIDDEN));
}

static bool shares_channel(const struct client *a, const struct client *b)
{
	for (struct membership *m = a->channels; m; m = m->client_next)
		if (channel_member(m->chan, b))
			return true;
	return false;
}

/* WHO flags: H/G, * for operators, B for bots, then the channel status prefix. */
static void who_flags(const struct client *t, const struct membership *m, bool multi, char *out, size_t size)
{
	char prefix[4] = "";
	if (m)
		channel_prefix(m->status, multi, prefix);
	snprintf(out, size, "%c%s%s%s", t->away ? 'G' : 'H', t->umodes & UMODE('o') ? "*" : "",
	         t->umodes & UMODE('B') ? "B" : "", prefix);
}

struct whox {
	bool on;
	char fields[32];
	char token[8];
};

static void who_reply(struct client *c, struct client *t, const char *chan, const struct membership *m,
                      const struct whox *x)
{
	char flags[16];
	who_flags(t, m, client_has_cap(c, CAP_MULTI_PREFIX), flags, sizeof flags);
	if (!x->on) {
		reply(c, RPL_WHOREPLY, chan, t->user, t->host, ircd.conf->server_name, t->nick, flags, t->realname);
		return;
	}
	char line[512];
	size_t n = 0;
	long long idle = (long long)(ev_now(EV_DEFAULT) - t->last_message);
	/* fields come out in the fixed WHOX order, whatever order they were asked in */
	for (const char *f = "tcuihsnfdlaor"; *f; f++) {
		if (!strchr(x->fields, *f))
			continue;
		char v[REALNAME_MAX + 8];
		switch (*f) {
		case 't': snprintf(v, sizeof v, "%s", x->token); break;
		case 'c': snprintf(v, sizeof v, "%s", chan); break;
		case 'u': snprintf(v, sizeof v, "%s", t->user); break;
		case 'i': snprintf(v, sizeof v, "%s", sees_address(c, t) ? t->conn.ip : "255.255.255.255"); break;
		case 'h': snprintf(v, sizeof v, "%s", t->host); break;
		case 's': snprintf(v, sizeof v, "%s", ircd.conf->server_name); break;
		case 'n': snprintf(v, sizeof v, "%s", t->nick); break;
		case 'f': snprintf(v, sizeof v, "%s", flags); break;
		case 'd': snprintf(v, sizeof v, "0"); break;
		case 'l': snprintf(v, sizeof v, "%lld", idle); break;
		case 'a': snprintf(v, sizeof v, "%s", t->account[0] ? t->account : "0"); break;
		case 'o': snprintf(v, sizeof v, "n/a"); break;
		case 'r': snprintf(v, sizeof v, ":%s", t->realname); break;
		}
		n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? " " : "", v);
		if (n >= sizeof line)
			break;
	}
	reply(c, RPL_WHOSPCRPL, line);
}

static bool who_matches(const char *mask, const struct client *t)
{
	return match_mask(mask, t->nick) || match_mask(mask, t->user) || match_mask(mask, t->host) ||
	       match_mask(mask, t->realname) || match_mask(mask, t->prefix) ||
	       match_mask(mask, ircd.conf->server_name);
}

void cmd_who(struct client *c, struct msg *m)
{
	const char *mask = m->params[0];
	struct whox x = {0};
	if (m->nparams > 1 && m->params[1][0] == '%') {
		x.on = true;
		const char *comma = strchr(m->params[1], ',');
		size_t flen = comma ? (size_t)(comma - m->params[1] - 1) : strlen(m->params[1] + 1);
		snprintf(x.fields, sizeof x.fields, "%.*s", (int)flen, m->params[1] + 1);
		if (comma)
			snprintf(x.token, sizeof x.token, "%.3s", comma + 1);
	}
	if (mask[0] == '#') {
		struct channel *ch = channel_find(mask);
		bool member = ch && channel_member(ch, c);
		if (ch && (member || channel_visible(ch, c))) {
			for (struct membership *mb = ch->members; mb; mb = mb->chan_next)
				if (member || !(mb->client->umodes & UMODE('i')))
					who_reply(c, mb->client, ch->name, mb, &x);
		}
	} else if (!strpbrk(mask, "*?")) {
		/* an exact nick is answered even for +i users: it reveals nothing new */
		struct client *t = client_find(mask);
		if (t && client_registered(t))
			who_reply(c, t, "*", NULL, &x);
	} else {
		bool all = strcmp(mask, "*") == 0 || strcmp(mask, "0") == 0;
		for (struct client *t = ircd.clients; t; t = t->next) {
			if (!client_registered(t) || client_dead(t))
				continue;
			if ((t->umodes & UMODE('i')) && t != c && !shares_channel(c, t))
				continue;
			if (all || who_matches(mask, t))
				who_reply(c, t, "*", NULL, &x);
		}
	}
	reply(c, RPL_ENDOFWHO, mask);
}

static void whois_channels(struct client *c, struct client *t)
{
	char line[400];
	size_t n = 0;
	for (struct membership *m = t->channels; m; m = m->client_next) {
		if (!channel_visible(m->chan, c) && c != t)
			continue;
		char prefix[4];
		channel_prefix(m->status, client_has_cap(c, CAP_MULTI_PREFIX), prefix);
		if (n + strlen(m->chan->name) + 4 > 300) {
			reply(c, RPL_WHOISCHANNELS, t->nick, line);
			n = 0;
		}
		n += (size_t)snprintf(line + n, sizeof line - n, "%s%s%s", n ? " " : "", prefix, m->chan->name);
	}
	if (n)
		reply(c, RPL_WHOISCHANNELS, t->nick, line);
}

void cmd_whois(struct client *c, struct msg *m)
{
	const char *nick = m->params[m->nparams > 1 ? 1 : 0];
	struct client *t = client_find(nick);
	if (!t || !client_registered(t)) {
		reply(c, ERR_NOSUCHNICK, nick);
		reply(c, RPL_ENDOFWHOIS, nick);
		return;
	}
	reply(c, RPL_WHOISUSER, t->nick, t->user, t->host, t->realname);
	whois_channels(c, t);
	if (t->server)
		reply(c, RPL_WHOISSERVER, t->nick, t->server->name, t->server->desc);
	else
		reply(c, RPL_WHOISSERVER, t->nick, ircd.conf->server_name, ircd.conf->description);
	if (t->umodes & UMODE('o'))
		reply(c, RPL_WHOISOPERATOR, t->nick);
	if (t->away)
		reply(c, RPL_AWAY, t->nick, t->away);
	if (t->account[0])
		reply(c, RPL_WHOISACCOUNT, t->nick, t->account);
	if (t->conn.ssl)
		reply(c, RPL_WHOISSECURE, t->nick);
	if (t->umodes & UMODE('B'))
		reply(c, RPL_WHOISBOT, t->nick, ircd.conf->network);
	if (sees_address(c, t))
		reply(c, RPL_WHOISHOST, t->nick, t->conn.ip, t->conn.ip);
	reply(c, RPL_WHOISIDLE, t->nick, (long long)(ev_now(EV_DEFAULT) - t->last_message), (long long)t->connected);
	reply(c, RPL_ENDOFWHOIS, t->nick);
}

void cmd_ison(struct client *c, struct msg *m)
{
	char out[400];
	size_t n = 0;
	out[0] = '\0';
	for (int i = 0; i < m->nparams; i++) {
		char list[512];
		snprintf(list, sizeof list, "%s", m->params[i]);
		char *save;
		for (char *nick = strtok_r(list, " ", &save); nick; nick = strtok_r(NULL, " ", &save)) {
			struct client *t = client_find(nick);
			if (t && client_registered(t) && n + strlen(t->nick) + 2 < sizeof out)
				n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? " " : "", t->nick);
		}
	}
	reply(c, RPL_ISON, out);
}

void cmd_userhost(struct client *c, struct msg *m)
{
	char out[512];
	size_t n = 0;
	out[0] = '\0';
	size_t room = 480 - strlen(ircd.conf->server_name) - strlen(c->nick);
	for (int i = 0; i < m->nparams && i < 5; i++) {
		struct client *t = client_find(m->params[i]);
		if (!t || !client_registered(t))
			continue;
		char item[PREFIX_MAX + 8];
		snprintf(item, sizeof item, "%s%s=%c%s@%s", t->nick, t->umodes & UMODE('o') ? "*" : "", t->away ? '-' : '+',
		         t->user, sees_address(c, t) ? t->conn.ip : t->host);
		if (n && n + strlen(item) + 1 > room) { /* a full line goes out; the rest follows */
			reply(c, RPL_USERHOST, out);
			n = 0;
		}
		n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? " " : "", item);
	}
	reply(c, RPL_USERHOST, out);
}

/* The user's other sessions learn its away state too. */
static void now_away(struct client *x, void *arg)
{
	(void)arg;
	reply(x, RPL_NOWAWAY);
}

static void un_away(struct client *x, void *arg)
{
	(void)arg;
	reply(x, RPL_UNAWAY);
}

void cmd_away(struct client *c, struct msg *m)
{
	if (m->nparams > 0 && *m->params[0] && !utf8_valid(m->params[0], strlen(m->params[0]))) {
		reply_standard(c, "FAIL", "AWAY", "INVALID_UTF8", NULL, "Message rejected, your IRC software MUST use UTF-8 encoding on this network");
		return;
	}
	free(c->away);
	c->away = NULL;
	struct outmsg o;
	if (m->nparams > 0 && *m->params[0]) {
		c->away = strndup(m->params[0], AWAY_MAX);
		if (!c->away)
			abort();
		reply(c, RPL_NOWAWAY);
		session_each_other(c, now_away, NULL);
		outmsg_init(&o, false, NULL, ":%s AWAY :%s", c->prefix, c->away);
	} else {
		reply(c, RPL_UNAWAY);
		session_each_other(c, un_away, NULL);
		outmsg_init(&o, false, NULL, ":%s AWAY", c->prefix);
	}
	outmsg_from(&o, c);
	channel_send_common_monitored(c, &o, CAPF(CAP_AWAY_NOTIFY));
	outmsg_release(&o);
	route_away(c);
}

void cmd_setname(struct client *c, struct msg *m)
{
	const char *name = m->params[0];
	size_t len = strlen(name);
	if (len == 0 || len > REALNAME_MAX || !utf8_valid(name, len)) {
		reply_standard(c, "FAIL", "SETNAME", "INVALID_REALNAME", NULL, "Realname is not valid");
		return;
	}
	snprintf(c->realname, sizeof c->realname, "%s", name);
	struct outmsg o;
	outmsg_init(&o, false, NULL, ":%s SETNAME :%s", c->prefix, c->realname);
	outmsg_from(&o, c);
	channel_send_common_monitored(c, &o, CAPF(CAP_SETNAME));
	if (client_has_cap(c, CAP_SETNAME))
		outmsg_send(&o, c);
	outmsg_release(&o);
}
